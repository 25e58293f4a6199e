/**
 * End-to-end tests of the credential helper protocol with real `docker-credential-*` shell
 * scripts put on the PATH given through `helperEnv`.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isGantryError } from '../../core/index.js';
import { DockerConfigCredentials } from './docker-config.js';
import { removeLogin, saveLogin } from './docker-config-writer.js';
import { spawnHelperRunner } from './helper-process.js';

/** Keeps one file per server URL in $FAKE_STORE and logs `action input` lines (not for store). */
const FAKE_HELPER = `#!/bin/sh
input=$(cat)
case "$1" in
  store)
    url=$(printf '%s' "$input" | sed -n 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/p')
    echo "store $url" >> "$FAKE_STORE/calls"
    printf '%s' "$input" > "$FAKE_STORE/$(printf '%s' "$url" | tr -c 'A-Za-z0-9' '_')"
    ;;
  get|erase)
    echo "$1 $input" >> "$FAKE_STORE/calls"
    file="$FAKE_STORE/$(printf '%s' "$input" | tr -c 'A-Za-z0-9' '_')"
    if [ ! -f "$file" ]; then echo "credentials not found in native keychain"; exit 1; fi
    if [ "$1" = get ]; then cat "$file"; else rm "$file"; fi
    ;;
  *) echo "unknown action $1" >&2; exit 2 ;;
esac
`;

/** Fails after echoing its input (which holds the secret for store) on stderr. */
const BROKEN_HELPER = `#!/bin/sh
input=$(cat)
echo "keychain locked while handling $input" >&2
echo "second line" >&2
exit 3
`;

let dir: string;
let bin: string;
let store: string;
let path: string;
let helperEnv: Record<string, string>;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gantry-helper-'));
  bin = join(dir, 'bin');
  store = join(dir, 'store');
  path = join(dir, 'docker', 'config.json');
  await Promise.all([mkdir(bin), mkdir(store), mkdir(join(dir, 'docker'))]);
  await script('fake', FAKE_HELPER);
  await script('broken', BROKEN_HELPER);
  await script(
    'token',
    `#!/bin/sh\ncat >/dev/null\necho '{"ServerURL":"x","Username":"<token>","Secret":"refresh-1"}'\n`,
  );
  await script('garbage', '#!/bin/sh\ncat >/dev/null\necho "Secret=hunter2 not json"\n');
  await script('slow', '#!/bin/sh\nsleep 5\n');
  await script('silent', '#!/bin/sh\nexit 0\n');
  await writeFile(join(bin, 'docker-credential-noexec'), '#!/bin/sh\n', { mode: 0o644 });
  helperEnv = { PATH: `${bin}:/usr/bin:/bin`, FAKE_STORE: store };
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function script(name: string, text: string): Promise<void> {
  const file = join(bin, `docker-credential-${name}`);
  await writeFile(file, text);
  await chmod(file, 0o755);
}

async function config(value: unknown): Promise<void> {
  await writeFile(path, JSON.stringify(value));
}

async function calls(): Promise<string[]> {
  const text = await readFile(join(store, 'calls'), 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l !== '');
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('credential helpers through real processes', () => {
  it('stores, gets and erases through credsStore', async () => {
    await config({ credsStore: 'fake', HttpHeaders: { 'User-Agent': 'x' } });
    const stored = await saveLogin({ path, host: 'docker.io', username: 'hub', password: 'pw-1', helperEnv });
    expect(stored).toEqual({ kind: 'helper', program: 'docker-credential-fake' });
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({
      credsStore: 'fake',
      HttpHeaders: { 'User-Agent': 'x' },
    });

    const provider = new DockerConfigCredentials({ path, helperEnv });
    expect(await provider.get('registry-1.docker.io')).toEqual({ username: 'hub', password: 'pw-1' });
    expect(await provider.get('ghcr.io')).toBeUndefined();

    expect(await removeLogin({ path, host: 'index.docker.io', helperEnv })).toBe(true);
    expect(await removeLogin({ path, host: 'docker.io', helperEnv })).toBe(false);
    expect(await new DockerConfigCredentials({ path, helperEnv }).get('docker.io')).toBeUndefined();
    expect(await calls()).toEqual([
      'store https://index.docker.io/v1/',
      'get https://index.docker.io/v1/',
      'get ghcr.io',
      'erase https://index.docker.io/v1/',
      'erase https://index.docker.io/v1/',
      'get https://index.docker.io/v1/',
    ]);
  });

  it('uses credHelpers[host] for that host only', async () => {
    await config({ credHelpers: { 'registry.example.com:5000': 'fake' } });
    await saveLogin({
      path,
      host: 'http://registry.example.com:5000',
      username: 'u',
      password: 'p',
      helperEnv,
    });
    await saveLogin({ path, host: 'ghcr.io', username: 'gh', password: 'ghp', helperEnv });
    const provider = new DockerConfigCredentials({ path, helperEnv });
    expect(await provider.get('registry.example.com:5000')).toEqual({ username: 'u', password: 'p' });
    expect(await provider.get('ghcr.io')).toEqual({ username: 'gh', password: 'ghp' });
    expect(await calls()).toEqual(['store registry.example.com:5000', 'get registry.example.com:5000']);
  });

  it('maps a <token> username to an identity token', async () => {
    await config({ credsStore: 'token' });
    expect(await new DockerConfigCredentials({ path, helperEnv }).get('ghcr.io')).toEqual({
      identityToken: 'refresh-1',
    });
  });

  it('treats an empty answer as no credentials', async () => {
    await config({ credsStore: 'silent' });
    expect(await new DockerConfigCredentials({ path, helperEnv }).get('ghcr.io')).toBeUndefined();
  });

  it.each<[string, string]>([
    [
      'broken',
      'credential helper docker-credential-broken get failed for ghcr.io (exit status 3): keychain locked while handling ghcr.io',
    ],
    ['missing', 'credential helper docker-credential-missing get failed: it was not found on PATH'],
    ['noexec', 'credential helper docker-credential-noexec get failed: it is not executable'],
    ['garbage', 'credential helper docker-credential-garbage printed invalid JSON for ghcr.io'],
  ])('reports helper %j failing', async (helper, message) => {
    await config({ credsStore: helper });
    const error = await failure(new DockerConfigCredentials({ path, helperEnv }).get('ghcr.io'));
    expect(isGantryError(error, 'AUTH_HELPER_FAILED')).toBe(true);
    expect(error.message).toBe(message);
    expect(error.message).not.toContain('hunter2');
  });

  it('never shows the secret when store fails, even if the helper echoes it', async () => {
    await config({ credsStore: 'broken' });
    const error = await failure(
      saveLogin({ path, host: 'ghcr.io', username: 'u', password: 'TopSecret-42', helperEnv }),
    );
    expect(isGantryError(error, 'AUTH_HELPER_FAILED')).toBe(true);
    expect(error.message).toMatch(
      /^credential helper docker-credential-broken store failed for ghcr.io \(exit status 3\): /,
    );
    expect(error.message).not.toContain('TopSecret-42');
    expect(error.message).not.toContain('second line');
    expect(JSON.stringify(error)).not.toContain('TopSecret-42');
  });

  it('reports erase failures', async () => {
    await config({ credsStore: 'broken' });
    const error = await failure(removeLogin({ path, host: 'ghcr.io', helperEnv }));
    expect(error.message).toBe(
      'credential helper docker-credential-broken erase failed for ghcr.io (exit status 3): keychain locked while handling ghcr.io',
    );
  });

  it('kills a helper that takes too long, without waiting for its children', async () => {
    await config({ credsStore: 'slow' });
    const started = Date.now();
    const error = await failure(
      new DockerConfigCredentials({ path, helperEnv, timeoutMs: 200 }).get('ghcr.io'),
    );
    expect(error.message).toBe(
      'credential helper docker-credential-slow get failed: it did not finish within 200ms',
    );
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('runs with exactly the given environment', async () => {
    await script(
      'env',
      '#!/bin/sh\ncat >/dev/null\nprintf \'{"Username":"%s","Secret":"%s"}\' "$FAKE_STORE" "${HOME:-unset}"\n',
    );
    const run = spawnHelperRunner({ env: helperEnv });
    const result = await run({ helper: 'env', action: 'get', input: 'ghcr.io' });
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ Username: store, Secret: 'unset' });
  });
});
