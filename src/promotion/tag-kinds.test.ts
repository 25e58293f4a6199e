import { describe, expect, it } from 'vitest';
import type { EnvironmentConfig } from '../config/index.js';
import { GantryError } from '../core/index.js';
import { assertCandidateReference, compareVersions, isRevisionTag, isVersionTag } from './tag-kinds.js';

const env = (immutable: RegExp[], floating: string[] = ['latest', 'prod']): EnvironmentConfig => ({
  name: 'prod',
  registry: { name: 'prod', host: 'prod.example.com', scheme: 'https', tlsVerify: true },
  prefix: 'team',
  mode: 'copy',
  from: ['staging'],
  immutable,
  floating,
  gates: [],
  auto: false,
  allowOverride: false,
  protected: false,
});
const plain = env([]);
const semver = env([/^v?\d+\.\d+\.\d+$/, /^[0-9a-f]{40}$/]);
const SHA = '0123456789abcdef0123456789abcdef01234567';

describe('isVersionTag', () => {
  it.each<[string, EnvironmentConfig, string, boolean]>([
    ['semver, default pattern', plain, '1.4.2', true],
    ['v-prefixed pre-release, default pattern', plain, 'v2.0.0-rc.1', true],
    ['two parts, default pattern', plain, '1.0', true],
    ['branch', plain, 'main', false],
    ['git sha', plain, 'abc1234', false],
    ['floating tag', plain, 'latest', false],
    ['configured pattern', semver, '1.4.2', true],
    ['not the configured pattern', semver, '1.0', false],
    ['a revision pattern is not a version pattern', semver, SHA, false],
    ['invalid tag', plain, '1.0#x', false],
  ])('%s: %s', (_, e, tag, expected) => expect(isVersionTag(e, tag)).toBe(expected));
});

describe('isRevisionTag', () => {
  it.each<[string, EnvironmentConfig, string, boolean]>([
    ['full sha, default pattern', plain, SHA, true],
    ['short sha, default pattern', plain, 'abc1234', true],
    ['a version (issue 10.7)', plain, '9.9.9', false],
    ['uppercase', plain, SHA.toUpperCase(), false],
    ['too short', plain, 'abc12', false],
    ['full sha, configured 40-hex pattern', semver, SHA, true],
    ['short sha, configured 40-hex pattern', semver, 'abc1234', false],
    ['a version, configured patterns', semver, '9.9.9', false],
  ])('%s: %s', (_, e, tag, expected) => expect(isRevisionTag(e, tag)).toBe(expected));
});

describe('compareVersions', () => {
  it.each<[string, string, number | undefined]>([
    ['1.9.0', '1.10.0', -1],
    ['2.0.0', '1.10.0', 1],
    ['v1.2.0', '1.2.0', 0],
    ['1.2', '1.2.0', 0],
    ['1.2.0-rc.1', '1.2.0', -1],
    ['1.2.0-rc.2', '1.2.0-rc.1', 1],
    ['main', '1.0.0', undefined],
  ])('%s vs %s → %s', (a, b, expected) => expect(compareVersions(a, b)).toBe(expected));
});

describe('assertCandidateReference', () => {
  it.each(['1.4.2', 'v1', 'main', '_x', `sha256:${'a'.repeat(64)}`])('accepts %j', (r) =>
    expect(() => assertCandidateReference(r)).not.toThrow(),
  );
  it.each([
    ['../x/manifests/1.0', 'REFERENCE_INVALID'],
    ['1.0#x', 'REFERENCE_INVALID'],
    ['-1', 'REFERENCE_INVALID'],
    ['a b', 'REFERENCE_INVALID'],
    ['1.0\n', 'REFERENCE_INVALID'],
    ['', 'REFERENCE_INVALID'],
    ['web:1.0', 'REFERENCE_INVALID'],
    ['sha256:abc', 'DIGEST_INVALID'],
    [`sha512:${'a'.repeat(128)}`, 'DIGEST_INVALID'],
  ])('refuses %j with %s', (r, code) => {
    let err: unknown;
    try {
      assertCandidateReference(r);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GantryError);
    expect((err as GantryError).code).toBe(code);
    expect((err as GantryError).message).not.toContain('\n');
  });
});
