import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isGantryError } from '../../core/index.js';
import type {
  CredentialHelperRequest,
  CredentialHelperResult,
  CredentialHelperRunner,
} from './credential-helper.js';
import { DockerConfigCredentials } from './docker-config.js';
import { removeLogin, saveLogin } from './docker-config-writer.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gantry-writer-'));
  path = join(dir, 'docker', 'config.json');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const read = async (): Promise<unknown> => JSON.parse(await readFile(path, 'utf8'));
const write = async (value: unknown): Promise<void> => {
  await mkdir(join(dir, 'docker'), { recursive: true });
  await writeFile(path, JSON.stringify(value), { mode: 0o644 });
};

/** A runner that must not be called. */
const noHelper: CredentialHelperRunner = () => Promise.reject(new Error('no helper expected'));

/** A runner recording calls and answering with `result`. */
function recorder(
  calls: CredentialHelperRequest[],
  result: Partial<CredentialHelperResult> = {},
): CredentialHelperRunner {
  return (request) => {
    calls.push(request);
    return Promise.resolve({ exitCode: 0, stdout: '', stderr: '', ...result });
  };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('saveLogin into the file', () => {
  it('creates the directory (0700) and the file (0600)', async () => {
    const stored = await saveLogin({
      path,
      host: 'ghcr.io',
      username: 'u',
      password: 'p',
      runHelper: noHelper,
    });
    expect(stored).toEqual({ kind: 'file', path });
    expect(await read()).toEqual({ auths: { 'ghcr.io': { auth: b64('u:p') } } });
    expect((await stat(join(dir, 'docker'))).mode & 0o777).toBe(0o700);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it.each<[string, string]>([
    ['docker.io', 'https://index.docker.io/v1/'],
    ['index.docker.io', 'https://index.docker.io/v1/'],
    ['registry-1.docker.io', 'https://index.docker.io/v1/'],
    ['https://registry.example.com:5000/v2/', 'registry.example.com:5000'],
    ['Quay.IO', 'quay.io'],
  ])('stores host %j under %j', async (host, key) => {
    await saveLogin({ path, host, username: 'u', password: 'p', runHelper: noHelper });
    expect(Object.keys((await read()) as { auths: object }).length).toBe(1);
    expect(await read()).toEqual({ auths: { [key]: { auth: b64('u:p') } } });
  });

  it('keeps unknown keys, other hosts, scoped keys and entry fields; replaces the host login', async () => {
    const original = {
      HttpHeaders: { 'User-Agent': 'Docker-Client' },
      proxies: { default: { httpProxy: 'http://proxy:3128' } },
      detachKeys: 'ctrl-e,e',
      auths: {
        'ghcr.io': { auth: b64('gh:ghp') },
        'https://index.docker.io/v1/': {
          auth: b64('old:old'),
          email: 'me@example.com',
          identitytoken: 'stale',
        },
        'docker.io': { auth: b64('podman:old') },
        'index.docker.io': { auth: b64('alias:old'), note: 'kept' },
        'docker.io/myorg': { auth: b64('scoped:keep') },
      },
      currentContext: 'default',
      plugins: { x: { y: [1, 2, { z: null }] } },
    };
    await write(original);
    await saveLogin({ path, host: 'docker.io', username: 'new', password: 'pw', runHelper: noHelper });
    const saved = (await read()) as typeof original;
    expect(saved).toEqual({
      ...original,
      auths: {
        'ghcr.io': { auth: b64('gh:ghp') },
        'https://index.docker.io/v1/': { email: 'me@example.com', auth: b64('new:pw') },
        'index.docker.io': { note: 'kept' },
        'docker.io/myorg': { auth: b64('scoped:keep') },
      },
    });
    expect(Object.keys(saved)).toEqual(Object.keys(original));
    expect(Object.keys(saved.auths)[1]).toBe('https://index.docker.io/v1/');
    expect(await new DockerConfigCredentials({ path }).get('docker.io')).toEqual({
      username: 'new',
      password: 'pw',
    });
  });

  it('writes atomically: a new file replaces the old one, no temporary file is left, mode becomes 0600', async () => {
    await write({ auths: {} });
    const before = await stat(path);
    await saveLogin({ path, host: 'ghcr.io', username: 'u', password: 'p', runHelper: noHelper });
    const after = await stat(path);
    expect(after.ino).not.toBe(before.ino);
    expect(after.mode & 0o777).toBe(0o600);
    expect(await readdir(join(dir, 'docker'))).toEqual(['config.json']);
  });

  it('replaces the target of a symbolic link and keeps the link', async () => {
    const real = join(dir, 'dotfiles', 'config.json');
    await mkdir(join(dir, 'dotfiles'));
    await writeFile(real, JSON.stringify({ credsStore: '' }));
    await mkdir(join(dir, 'docker'));
    await symlink(real, path);
    await saveLogin({ path, host: 'ghcr.io', username: 'u', password: 'p', runHelper: noHelper });
    expect((await lstat(path)).isSymbolicLink()).toBe(true);
    expect(JSON.parse(await readFile(real, 'utf8'))).toEqual({
      credsStore: '',
      auths: { 'ghcr.io': { auth: b64('u:p') } },
    });
  });

  it('refuses to overwrite a malformed file', async () => {
    await mkdir(join(dir, 'docker'));
    await writeFile(path, '{"auths": {"ghcr.io": {"auth": "c2VjcmV0"}},');
    const error = await failure(
      saveLogin({ path, host: 'ghcr.io', username: 'u', password: 'p', runHelper: noHelper }),
    );
    expect(isGantryError(error, 'AUTH_CONFIG_INVALID')).toBe(true);
    expect(error.message).not.toContain('c2VjcmV0');
    expect(await readFile(path, 'utf8')).toBe('{"auths": {"ghcr.io": {"auth": "c2VjcmV0"}},');
  });

  it.each<[string, string, string]>([
    ['', 'Secret-1', 'username must be non-empty and must not contain ":"'],
    ['a:b', 'Secret-1', 'username must be non-empty and must not contain ":"'],
    ['user', '', 'password must not be empty'],
  ])('rejects username %j / password %j', async (username, password, message) => {
    const error = await failure(
      saveLogin({ path, host: 'ghcr.io', username, password, runHelper: noHelper }),
    );
    expect(isGantryError(error, 'CREDENTIALS_INVALID')).toBe(true);
    expect(error.message).toBe(message);
    expect(error.message).not.toContain('Secret-1');
  });

  it('reports a file it cannot write without the secret', async () => {
    await writeFile(join(dir, 'docker'), 'not a directory');
    const error = await failure(
      saveLogin({ path, host: 'ghcr.io', username: 'u', password: 'Secret-2', runHelper: noHelper }),
    );
    expect(isGantryError(error, 'AUTH_CONFIG_INVALID')).toBe(true);
    expect(error.message).toMatch(/^auth file .*: cannot be written \(E[A-Z]+\)$/);
    expect(error.message).not.toContain('Secret-2');
  });
});

describe('saveLogin / removeLogin through a helper', () => {
  it('stores through credHelpers[host] and strips stale plaintext for that host only', async () => {
    await write({
      auths: {
        'ghcr.io': { auth: b64('stale:pw'), email: 'e' },
        'http://ghcr.io': { auth: b64('x:y') },
        'quay.io': { auth: b64('q:q') },
      },
      credHelpers: { 'ghcr.io': 'gh' },
      credsStore: 'desktop',
    });
    const calls: CredentialHelperRequest[] = [];
    const stored = await saveLogin({
      path,
      host: 'ghcr.io',
      username: 'u',
      password: 'Secret-3',
      runHelper: recorder(calls),
    });
    expect(stored).toEqual({ kind: 'helper', program: 'docker-credential-gh' });
    expect(calls).toEqual([
      {
        helper: 'gh',
        action: 'store',
        input: JSON.stringify({ ServerURL: 'ghcr.io', Username: 'u', Secret: 'Secret-3' }),
      },
    ]);
    expect(await read()).toEqual({
      auths: { 'ghcr.io': { email: 'e' }, 'quay.io': { auth: b64('q:q') } },
      credHelpers: { 'ghcr.io': 'gh' },
      credsStore: 'desktop',
    });
  });

  it('does not create a file when only the helper changes', async () => {
    const calls: CredentialHelperRequest[] = [];
    await write({ credsStore: 'desktop' });
    const before = await readFile(path, 'utf8');
    await saveLogin({ path, host: 'docker.io', username: 'u', password: 'p', runHelper: recorder(calls) });
    expect(calls[0]?.input).toContain('"ServerURL":"https://index.docker.io/v1/"');
    expect(await readFile(path, 'utf8')).toBe(before);
  });

  it('erases through the helper and removes placeholders', async () => {
    await write({ auths: { 'https://index.docker.io/v1/': {} }, credsStore: 'desktop' });
    const calls: CredentialHelperRequest[] = [];
    expect(await removeLogin({ path, host: 'docker.io', runHelper: recorder(calls) })).toBe(true);
    expect(calls).toEqual([{ helper: 'desktop', action: 'erase', input: 'https://index.docker.io/v1/' }]);
    expect(await read()).toEqual({ auths: {}, credsStore: 'desktop' });
  });

  it('answers false when the helper holds nothing', async () => {
    await write({ credsStore: 'desktop' });
    const notFound = recorder([], { exitCode: 1, stdout: 'credentials not found in native keychain\n' });
    expect(await removeLogin({ path, host: 'ghcr.io', runHelper: notFound })).toBe(false);
  });
});

describe('removeLogin from the file', () => {
  it('removes every host-level spelling and keeps everything else', async () => {
    await write({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('a:b') },
        'docker.io': { auth: b64('c:d') },
        'docker.io/myorg': { auth: b64('e:f') },
        'ghcr.io': { auth: b64('g:h') },
      },
      HttpHeaders: { A: 'b' },
    });
    expect(await removeLogin({ path, host: 'registry-1.docker.io', runHelper: noHelper })).toBe(true);
    expect(await read()).toEqual({
      auths: { 'docker.io/myorg': { auth: b64('e:f') }, 'ghcr.io': { auth: b64('g:h') } },
      HttpHeaders: { A: 'b' },
    });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('answers false without touching the file when not logged in', async () => {
    await write({ auths: { 'ghcr.io': { auth: b64('g:h') } } });
    const before = await stat(path);
    expect(await removeLogin({ path, host: 'quay.io', runHelper: noHelper })).toBe(false);
    expect((await stat(path)).ino).toBe(before.ino);
  });

  it('answers false for a missing file and does not create it', async () => {
    expect(await removeLogin({ path, host: 'quay.io', runHelper: noHelper })).toBe(false);
    await expect(stat(join(dir, 'docker'))).rejects.toThrow();
  });
});
