import { describe, expect, it } from 'vitest';
import type { SyncConfig } from './config/index.js';
import { isOwnMirror, matchesPattern, targetRepository } from './app-sync.js';

describe('matchesPattern', () => {
  it.each([
    [['base/*'], 'base/alpine', true],
    [['base/*'], 'base/tools/curl', true],
    [['base/*'], 'baseline/alpine', false],
    [['base/*'], 'base', false],
    [['base*'], 'baseline/alpine', true],
    [['tools/curl'], 'tools/curl', true],
    [['tools/curl'], 'tools/curl2', false],
    [['1.*', 'latest'], '1.2.3', true],
    [['1.*', 'latest'], 'latest', true],
    [['1.*', 'latest'], '10.0', false],
    [['1.*', 'latest'], '2.0', false],
  ] as const)('%j selects %s: %s', (patterns, name, expected) => {
    expect(matchesPattern(patterns, name)).toBe(expected);
  });
});

describe('targetRepository', () => {
  it.each([
    ['', 'base/alpine', 'base/alpine'],
    ['mirror', 'base/alpine', 'mirror/base/alpine'],
    ['mirror/', 'base/alpine', 'mirror/base/alpine'],
    ['/a/b/', 'base/alpine', 'a/b/base/alpine'],
  ])('prefix %j and %s give %s', (prefix, repository, expected) => {
    expect(targetRepository(prefix, repository)).toBe(expected);
  });
});

describe('isOwnMirror', () => {
  const job: SyncConfig = {
    name: 'base',
    from: { registry: 'prod', repositories: ['base/*'] },
    to: [
      { registry: 'prod', prefix: 'base/mirror' },
      { registry: 'dev', prefix: 'other' },
    ],
  };
  it.each([
    ['base/mirror/base/alpine', true],
    ['base/alpine', false],
    ['base/mirrored', false],
    ['other/base/alpine', false], // that target is another registry
  ])('%s: %s', (repository, expected) => {
    expect(isOwnMirror(job, repository)).toBe(expected);
  });
});
