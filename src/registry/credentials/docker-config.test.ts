import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isGantryError } from '../../core/index.js';
import type { Credential } from './credential.js';
import type {
  CredentialHelperRequest,
  CredentialHelperResult,
  CredentialHelperRunner,
} from './credential-helper.js';
import { DockerConfigCredentials } from './docker-config.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gantry-docker-config-'));
  path = join(dir, 'config.json');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A runner answering from a map of `helper|serverUrl` to credentials, recording each call. */
function fakeRunner(
  store: Record<string, { Username: string; Secret: string }>,
  calls: CredentialHelperRequest[] = [],
): CredentialHelperRunner {
  return (request): Promise<CredentialHelperResult> => {
    calls.push(request);
    const hit = store[`${request.helper}|${request.input}`];
    if (hit === undefined) {
      return Promise.resolve({
        exitCode: 1,
        stdout: 'credentials not found in native keychain\n',
        stderr: '',
      });
    }
    return Promise.resolve({
      exitCode: 0,
      stdout: JSON.stringify({ ServerURL: request.input, ...hit }),
      stderr: '',
    });
  };
}

async function lookup(
  config: unknown,
  host: string,
  repository?: string,
  runHelper?: CredentialHelperRunner,
) {
  await writeFile(path, JSON.stringify(config));
  return new DockerConfigCredentials({ path, runHelper: runHelper ?? fakeRunner({}) }).get(host, repository);
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('DockerConfigCredentials: auths key shapes and fields', () => {
  it.each<[string, string, unknown, Credential | undefined]>([
    [
      'docker.io',
      'https://index.docker.io/v1/',
      { auth: b64('hub:pw') },
      { username: 'hub', password: 'pw' },
    ],
    ['docker.io', 'index.docker.io', { auth: b64('hub:pw') }, { username: 'hub', password: 'pw' }],
    ['docker.io', 'registry-1.docker.io', { auth: b64('hub:pw') }, { username: 'hub', password: 'pw' }],
    ['registry-1.docker.io', 'docker.io', { auth: b64('hub:pw') }, { username: 'hub', password: 'pw' }],
    [
      'index.docker.io',
      'https://index.docker.io/v1/',
      { auth: b64('hub:pw') },
      { username: 'hub', password: 'pw' },
    ],
    ['host:5000', 'http://host:5000', { auth: b64('u:p') }, { username: 'u', password: 'p' }],
    ['host:5000', 'https://host:5000/', { auth: b64('u:p') }, { username: 'u', password: 'p' }],
    ['host:5000', 'host:5000/v2/', { auth: b64('u:p') }, { username: 'u', password: 'p' }],
    [
      'host:5000',
      'host:5000',
      { auth: b64('u:p:with:colons') },
      { username: 'u', password: 'p:with:colons' },
    ],
    ['host:5000', 'host:5000', { auth: b64('u:') }, { username: 'u', password: '' }],
    ['host:5000', 'host:5000', { auth: b64('u:pw\0\0') }, { username: 'u', password: 'pw' }],
    ['host:5000', 'host:5000', { auth: ` ${b64('u:pw')}\n` }, { username: 'u', password: 'pw' }],
    ['host:5000', 'host', { auth: b64('u:p') }, undefined],
    ['host', 'host:5000', { auth: b64('u:p') }, undefined],
    ['ghcr.io', 'ghcr.io', { username: 'pod', password: 'man' }, { username: 'pod', password: 'man' }],
    [
      'ghcr.io',
      'ghcr.io',
      { auth: b64('a:b'), username: 'x', password: 'y' },
      { username: 'a', password: 'b' },
    ],
    ['ghcr.io', 'ghcr.io', { identitytoken: 'refresh' }, { identityToken: 'refresh' }],
    [
      'ghcr.io',
      'ghcr.io',
      { auth: b64('u:p'), identitytoken: 'refresh' },
      { username: 'u', password: 'p', identityToken: 'refresh' },
    ],
    ['ghcr.io', 'ghcr.io', { registrytoken: 'bearer' }, { registryToken: 'bearer' }],
    ['ghcr.io', 'ghcr.io', { auth: '', email: 'a@b.c' }, undefined],
    ['ghcr.io', 'ghcr.io', {}, undefined],
    ['ghcr.io', 'quay.io', { auth: b64('u:p') }, undefined],
  ])('get(%j) with auths key %j and entry %j', async (host, key, entry, expected) => {
    expect(await lookup({ auths: { [key]: entry } }, host)).toEqual(expected);
  });

  it('prefers the canonical spelling, and skips empty entries', async () => {
    const auths = {
      'docker.io': { auth: b64('plain:1') },
      'https://index.docker.io/v1/': { auth: b64('canonical:2') },
    };
    expect((await lookup({ auths }, 'docker.io'))?.username).toBe('canonical');
    const withPlaceholder = {
      'https://index.docker.io/v1/': {},
      'index.docker.io': { auth: b64('alias:3') },
    };
    expect((await lookup({ auths: withPlaceholder }, 'docker.io'))?.username).toBe('alias');
  });

  it.each<[string | undefined, string | undefined]>([
    [undefined, 'host'],
    ['other/app', 'host'],
    ['team/other', 'team'],
    ['team/app', 'app'],
    ['team/app/sub', 'app'],
    ['teamwork', 'host'],
  ])('repository %j picks the longest matching scope (%s)', async (repository, username) => {
    const auths = {
      'quay.io': { auth: b64('host:1') },
      'quay.io/team': { auth: b64('team:2') },
      'quay.io/team/app': { auth: b64('app:3') },
    };
    expect((await lookup({ auths }, 'quay.io', repository))?.username).toBe(username);
  });
});

describe('DockerConfigCredentials: helpers', () => {
  it('uses credHelpers[host] first, then auths, then credsStore, with docker server URLs', async () => {
    const calls: CredentialHelperRequest[] = [];
    const runner = fakeRunner(
      {
        'ecr|123.dkr.ecr.eu-west-1.amazonaws.com': { Username: 'AWS', Secret: 'ecr-pw' },
        'desktop|https://index.docker.io/v1/': { Username: 'hub', Secret: 'hub-pw' },
        'desktop|ghcr.io': { Username: 'gh', Secret: 'gh-pw' },
        'desktop|quay.io': { Username: '<token>', Secret: 'refresh-token' },
      },
      calls,
    );
    await writeFile(
      path,
      JSON.stringify({
        auths: {
          '123.dkr.ecr.eu-west-1.amazonaws.com': { auth: b64('stale:stale') },
          'ghcr.io': { auth: b64('file:pw') },
          'https://index.docker.io/v1/': {},
        },
        credHelpers: { '123.dkr.ecr.eu-west-1.amazonaws.com': 'ecr', 'nothing.example.com': 'ecr' },
        credsStore: 'desktop',
      }),
    );
    const provider = new DockerConfigCredentials({ path, runHelper: runner });
    expect(await provider.get('123.dkr.ecr.eu-west-1.amazonaws.com')).toEqual({
      username: 'AWS',
      password: 'ecr-pw',
    });
    expect(await provider.get('ghcr.io')).toEqual({ username: 'file', password: 'pw' });
    expect(await provider.get('registry-1.docker.io')).toEqual({ username: 'hub', password: 'hub-pw' });
    expect(await provider.get('quay.io')).toEqual({ identityToken: 'refresh-token' });
    expect(await provider.get('nothing.example.com')).toBeUndefined();
    expect(await provider.get('elsewhere.example.com')).toBeUndefined();
    expect(calls.map((c) => `${c.helper} ${c.action} ${c.input}`)).toEqual([
      'ecr get 123.dkr.ecr.eu-west-1.amazonaws.com',
      'desktop get https://index.docker.io/v1/',
      'desktop get quay.io',
      'ecr get nothing.example.com',
      'desktop get elsewhere.example.com',
    ]);
  });

  it('shares one helper call between concurrent lookups', async () => {
    const calls: CredentialHelperRequest[] = [];
    await writeFile(path, JSON.stringify({ credsStore: 'desktop' }));
    const provider = new DockerConfigCredentials({
      path,
      runHelper: fakeRunner({ 'desktop|ghcr.io': { Username: 'u', Secret: 's' } }, calls),
    });
    const answers = await Promise.all([
      provider.get('ghcr.io'),
      provider.get('GHCR.io'),
      provider.get('ghcr.io'),
    ]);
    expect(answers).toEqual([
      { username: 'u', password: 's' },
      { username: 'u', password: 's' },
      { username: 'u', password: 's' },
    ]);
    expect(calls).toHaveLength(1);
  });

  it.each(['../bin/sh', 'a/b', '-rf', 'x y'])(
    'rejects helper name %j as AUTH_CONFIG_INVALID',
    async (name) => {
      await writeFile(path, JSON.stringify({ credHelpers: { 'ghcr.io': name } }));
      const error = await failure(
        new DockerConfigCredentials({ path, runHelper: fakeRunner({}) }).get('ghcr.io'),
      );
      expect(isGantryError(error, 'AUTH_CONFIG_INVALID')).toBe(true);
      expect(error.message).toBe(`auth file ${path}: invalid credential helper name ${JSON.stringify(name)}`);
    },
  );

  it('ignores an empty credHelpers value, as docker does', async () => {
    const calls: CredentialHelperRequest[] = [];
    const runner = fakeRunner({ 'desktop|ghcr.io': { Username: 'u', Secret: 's' } }, calls);
    expect(
      await lookup({ credHelpers: { 'ghcr.io': '' }, credsStore: 'desktop' }, 'ghcr.io', undefined, runner),
    ).toEqual({
      username: 'u',
      password: 's',
    });
  });

  it('reports a failing helper without the secret it printed', async () => {
    await writeFile(path, JSON.stringify({ credsStore: 'desktop' }));
    const runner: CredentialHelperRunner = () =>
      Promise.resolve({
        exitCode: 2,
        stdout: '{"Secret":"leaked-secret"}',
        stderr: '\nkeychain is locked\nmore',
      });
    const error = await failure(new DockerConfigCredentials({ path, runHelper: runner }).get('ghcr.io'));
    expect(isGantryError(error, 'AUTH_HELPER_FAILED')).toBe(true);
    expect(error.message).toBe(
      'credential helper docker-credential-desktop get failed for ghcr.io (exit status 2): keychain is locked',
    );
    expect(error.message).not.toContain('leaked-secret');
  });
});

describe('DockerConfigCredentials: the file', () => {
  it('treats a missing file as no credentials and reads the file lazily, once', async () => {
    const provider = new DockerConfigCredentials({ path, runHelper: fakeRunner({}) });
    await writeFile(path, JSON.stringify({ auths: { 'ghcr.io': { auth: b64('first:1') } } }));
    expect((await provider.get('ghcr.io'))?.username).toBe('first');
    await writeFile(path, JSON.stringify({ auths: { 'ghcr.io': { auth: b64('second:2') } } }));
    expect((await provider.get('ghcr.io'))?.username).toBe('first');
    const missing = new DockerConfigCredentials({ path: join(dir, 'nope', 'config.json') });
    expect(await missing.get('ghcr.io')).toBeUndefined();
  });

  it('treats an empty file as an empty config', async () => {
    await writeFile(path, '  \n');
    expect(await new DockerConfigCredentials({ path }).get('ghcr.io')).toBeUndefined();
  });

  it.each<[string, string, string]>([
    ['{"auths": {"ghcr.io": {"auth": "hunter2hunter2", }}}', 'not valid JSON (line 1, column', 'hunter2'],
    ['{"auths": {"ghcr.io": {"auth": "c2VjcmV0"}}, hunter2}', 'not valid JSON', 'hunter2'],
    ['["hunter2"]', 'the top level must be a JSON object', 'hunter2'],
    ['{"auths": ["hunter2"]}', '"auths" must be an object', 'hunter2'],
    ['{"credHelpers": {"ghcr.io": 9876543}}', '"credHelpers" entry "ghcr.io" must be a string', '9876543'],
    ['{"credsStore": ["hunter2"]}', '"credsStore" must be a string', 'hunter2'],
    ['{"auths": {"ghcr.io": "hunter2"}}', '"auths" entry "ghcr.io" must be an object', 'hunter2'],
    [
      '{"auths": {"ghcr.io": {"password": 9876543}}}',
      'field "password" of "auths" entry "ghcr.io" must be a string',
      '9876543',
    ],
    [
      `{"auths": {"ghcr.io": {"auth": "${b64('nocolonhunter2')}"}}}`,
      'is not base64 of "username:password"',
      'hunter2',
    ],
    [
      `{"auths": {"ghcr.io": {"auth": "${b64(':hunter2')}"}}}`,
      'is not base64 of "username:password"',
      'hunter2',
    ],
    [
      '{"auths": {"ghcr.io": {"auth": "hunter2!!not-base64"}}}',
      'is not base64 of "username:password"',
      'hunter2',
    ],
    ['{"auths": {"ghcr.io": {"auth": "/w=="}}}', 'is not base64 of "username:password"', '/w=='],
  ])('rejects %s as AUTH_CONFIG_INVALID without secrets', async (text, expected, secret) => {
    await writeFile(path, text);
    const error = await failure(new DockerConfigCredentials({ path }).get('ghcr.io'));
    expect(isGantryError(error, 'AUTH_CONFIG_INVALID')).toBe(true);
    expect(error.message).toContain(`auth file ${path}: `);
    expect(error.message).toContain(expected);
    expect(error.message).not.toContain(secret);
    expect(error.message).not.toContain('c2VjcmV0');
    expect(error.message).not.toContain('\n');
    expect(error.cause).toBeUndefined();
  });

  it('only fails for the entry that is looked up', async () => {
    await writeFile(
      path,
      JSON.stringify({ auths: { 'bad.example.com': { auth: '!!' }, 'ghcr.io': { auth: b64('u:p') } } }),
    );
    expect(await new DockerConfigCredentials({ path }).get('ghcr.io')).toEqual({
      username: 'u',
      password: 'p',
    });
  });

  it('reports an unreadable file', async () => {
    if (process.getuid?.() === 0) return; // root reads anything
    await writeFile(path, '{}');
    await chmod(path, 0o000);
    const error = await failure(new DockerConfigCredentials({ path }).get('ghcr.io'));
    expect(error.message).toBe(`auth file ${path}: cannot be read (EACCES)`);
  });

  it('rejects an empty path', () => {
    expect(() => new DockerConfigCredentials({ path: '' })).toThrow('auth file path is empty');
  });
});
