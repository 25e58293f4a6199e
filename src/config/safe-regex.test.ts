import { describe, expect, it } from 'vitest';
import { unsafeRegexReason } from './safe-regex.js';

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
