import { describe, expect, it } from 'vitest';
import { compileSafeRegex, MAX_PATTERN_LENGTH, unsafeRegexReason } from './safe-regex.js';

describe('unsafeRegexReason', () => {
  it.each([
    '^v?\\d+\\.\\d+\\.\\d+$',
    '^[0-9a-f]{40}$',
    '^v?\\d+\\.\\d+\\.\\d+(-rc\\.\\d+)?$',
    '^(?:main|develop)$',
    '^release-(\\d+)\\.x$',
    '^[(+*]+$',
    '^a{2}(b+){3}$',
    '^(?<major>\\d+)\\.(?<minor>\\d+)$',
    '^(?=.*\\d)[a-z\\d]+$',
    '^\\(a+\\)+$',
  ])('accepts %s', (pattern) => {
    expect(unsafeRegexReason(pattern)).toBeUndefined();
  });

  it.each([
    ['^(a+)+$', 'repetition'],
    ['^(a*)*$', 'repetition'],
    ['^(a|a)*$', 'alternation'],
    ['^(?:x|xy)+$', 'alternation'],
    ['^((ab)*c)+$', 'repetition'],
    ['^(\\d+\\.){2,}$', 'repetition'],
    ['^([a-z]+){1,9}$', 'repetition'],
    ['^(a+?)+?$', 'repetition'],
    ['^(?<x>a+)*$', 'repetition'],
    ['^(a)\\1$', 'back-references'],
    ['^(?<x>a)\\k<x>$', 'back-references'],
  ])('refuses %s', (pattern, why) => {
    expect(unsafeRegexReason(pattern)).toContain(why);
  });
});

describe('compileSafeRegex', () => {
  it('compiles a pattern and matches with it', () => {
    const re = compileSafeRegex('^v?\\d+\\.\\d+\\.\\d+$');
    expect(re).toBeInstanceOf(RegExp);
    expect((re as RegExp).test('v1.2.3')).toBe(true);
  });

  it('accepts the longest pattern and refuses one character more', () => {
    expect(compileSafeRegex('x'.repeat(MAX_PATTERN_LENGTH))).toBeInstanceOf(RegExp);
    expect(compileSafeRegex('x'.repeat(MAX_PATTERN_LENGTH + 1))).toEqual({
      problem: `regex is ${MAX_PATTERN_LENGTH + 1} characters long; at most ${MAX_PATTERN_LENGTH} are accepted`,
    });
  });

  it('refuses invalid and exponential patterns with one line', () => {
    expect(compileSafeRegex('^[0-9a-f{40}$')).toMatchObject({
      problem: expect.stringMatching(/^invalid regex: /),
    });
    expect(compileSafeRegex('^(a+)+$')).toMatchObject({ problem: expect.stringMatching(/exponential time/) });
  });
});
