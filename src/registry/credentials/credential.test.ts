import { describe, expect, it } from 'vitest';
import { isGantryError } from '../../core/index.js';
import {
  chainCredentials,
  isEmptyCredential,
  parseCredsFlag,
  staticCredentials,
  type Credential,
  type CredentialProvider,
} from './credential.js';

describe('parseCredsFlag', () => {
  it.each([
    ['alice:s3cret', { username: 'alice', password: 's3cret' }],
    ['alice:pa:ss:word', { username: 'alice', password: 'pa:ss:word' }],
    ['a:b', { username: 'a', password: 'b' }],
    ['robot$ci:token with spaces', { username: 'robot$ci', password: 'token with spaces' }],
  ])('parses %j', (value, expected) => {
    expect(parseCredsFlag(value)).toEqual(expected);
  });

  it.each([
    ['', 'the value is empty'],
    ['alice', 'the password is missing'],
    [':hunter2', 'the username is empty'],
    ['alice:', 'the password is empty'],
    [':', 'the username is empty'],
  ])('rejects %j without echoing it', (value, reason) => {
    let error: unknown;
    try {
      parseCredsFlag(value);
    } catch (err) {
      error = err;
    }
    expect(isGantryError(error, 'CREDENTIALS_INVALID')).toBe(true);
    const message = (error as Error).message;
    expect(message).toBe(`credentials must be USER:PASSWORD (${reason})`);
    if (value.length > 1) expect(message).not.toContain(value);
    if (value.includes('hunter2')) expect(message).not.toContain('hunter2');
  });
});

describe('isEmptyCredential', () => {
  it.each<[Credential | undefined, boolean]>([
    [undefined, true],
    [{}, true],
    [{ username: '' }, true],
    [{ username: 'u' }, false],
    [{ identityToken: 't' }, false],
    [{ registryToken: 't' }, false],
  ])('%j → %s', (credential, expected) => {
    expect(isEmptyCredential(credential)).toBe(expected);
  });
});

describe('staticCredentials', () => {
  const provider = staticCredentials({
    'https://index.docker.io/v1/': { username: 'hub', password: 'p1' },
    'registry.example.com:5000': { username: 'local', password: 'p2' },
    'quay.io': { username: 'quay', password: 'p3' },
    'quay.io/team': { username: 'team', password: 'p4' },
    'empty.example.com': {},
  });

  it.each<[string, string | undefined, string | undefined]>([
    ['docker.io', undefined, 'hub'],
    ['index.docker.io', undefined, 'hub'],
    ['registry-1.docker.io', 'library/nginx', 'hub'],
    ['Registry.Example.com:5000', undefined, 'local'],
    ['registry.example.com', undefined, undefined],
    ['quay.io', undefined, 'quay'],
    ['quay.io', 'other/app', 'quay'],
    ['quay.io', 'team/app', 'team'],
    ['quay.io', 'teamwork/app', 'quay'],
    ['empty.example.com', undefined, undefined],
    ['', undefined, undefined],
  ])('get(%j, %j) → %s', async (host, repository, username) => {
    expect((await provider.get(host, repository))?.username).toBe(username);
  });

  it('accepts a Map', async () => {
    const fromMap = staticCredentials(new Map([['ghcr.io', { registryToken: 'tok' }]]));
    expect(await fromMap.get('ghcr.io')).toEqual({ registryToken: 'tok' });
  });
});

describe('chainCredentials', () => {
  const recording = (answer: Credential | undefined, calls: string[]): CredentialProvider => ({
    get: (host, repository) => {
      calls.push(`${host}|${repository ?? ''}`);
      return Promise.resolve(answer);
    },
  });

  it('returns the first non-empty answer and passes the repository on', async () => {
    const calls: string[] = [];
    const chain = chainCredentials(
      recording(undefined, calls),
      recording({}, calls),
      recording({ username: 'second', password: 'x' }, calls),
      recording({ username: 'third', password: 'y' }, calls),
    );
    expect(await chain.get('ghcr.io', 'org/app')).toEqual({ username: 'second', password: 'x' });
    expect(calls).toEqual(['ghcr.io|org/app', 'ghcr.io|org/app', 'ghcr.io|org/app']);
  });

  it('answers undefined when no provider has credentials', async () => {
    expect(await chainCredentials().get('ghcr.io')).toBeUndefined();
    expect(await chainCredentials(recording(undefined, [])).get('ghcr.io')).toBeUndefined();
  });

  it('does not swallow errors of a broken provider', async () => {
    const broken: CredentialProvider = { get: () => Promise.reject(new Error('boom')) };
    const chain = chainCredentials(broken, recording({ username: 'u', password: 'p' }, []));
    await expect(chain.get('ghcr.io')).rejects.toThrow('boom');
  });
});
