/**
 * Docker credential helpers (`credHelpers`, `credsStore`) through `bin/gantry.js`, the way users
 * start Gantry: the bundled CLI runs from a V8 code cache (src/launch/code-cache.ts), where a
 * dynamic `import()` of a Node built-in used to fail with "A dynamic import callback was not
 * specified" before any helper ran. A fake `docker-credential-test` on PATH answers for an
 * htpasswd registry; each case runs twice so the second run starts from the code cache.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeImage, pushImage, startRegistry, type RegistryProcess } from '../helpers/index.js';
import { runCli } from './run-cli.js';

let registry: RegistryProcess;
let dir: string;
let binDir: string;
let cacheHome: string;
let helperLog: string;

const image = makeImage({ seed: 'credential-helper-cli' });

beforeAll(async () => {
  registry = await startRegistry({ auth: 'htpasswd' });
  await pushImage(registry, 'team/web', image, 'v1');
  dir = await mkdtemp(join(tmpdir(), 'gantry-cred-helper-'));
  binDir = join(dir, 'bin');
  cacheHome = join(dir, 'cache');
  helperLog = join(dir, 'helper.log');
  await mkdir(binDir);
  const user = registry.users[0];
  if (!user) throw new Error('the htpasswd registry has no user');
  // A docker credential helper: `get` reads the server URL on stdin and prints the secret.
  const helper = join(binDir, 'docker-credential-test');
  await writeFile(
    helper,
    [
      '#!/bin/sh',
      'read server',
      `echo "$1 $server" >> ${JSON.stringify(helperLog)}`,
      'if [ "$1" != get ]; then exit 1; fi',
      `printf '{"ServerURL":"%s","Username":"${user.username}","Secret":"${user.password}"}' "$server"`,
      '',
    ].join('\n'),
  );
  await chmod(helper, 0o755);
});

afterAll(async () => {
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function dockerConfig(name: string, config: object): Promise<string> {
  const configDir = join(dir, name);
  await mkdir(configDir, { recursive: true });
  await writeFile(join(configDir, 'config.json'), JSON.stringify(config));
  return configDir;
}

const env = (configDir: string): Record<string, string> => ({
  DOCKER_CONFIG: configDir,
  PATH: `${binDir}:${process.env.PATH ?? ''}`,
  XDG_CACHE_HOME: cacheHome,
  GANTRY_NO_CODE_CACHE: '',
});

describe('gantry (bin/gantry.js) with a docker credential helper', () => {
  it('runs a bundle without any dynamic import() (it cannot work from the code cache)', async () => {
    const bundle = await readFile(new URL('../../dist/cli.cjs', import.meta.url), 'utf8');
    expect(bundle).not.toMatch(/\bimport\(/);
  });

  it.each([
    ['credHelpers', (host: string) => ({ credHelpers: { [host]: 'test' } })],
    ['credsStore', () => ({ credsStore: 'test' })],
  ] as const)('inspects an htpasswd registry with credentials from %s', async (name, config) => {
    const configDir = await dockerConfig(name, config(registry.host));
    // The first run writes the code cache, the second one runs from it.
    for (let run = 1; run <= 2; run++) {
      const r = await runCli(['inspect', `${registry.host}/team/web:v1`, '--tls-verify=false', '--json'], {
        env: env(configDir),
      });
      expect(r.stderr, `run ${run}`).toBe('');
      expect(r.code, `run ${run}`).toBe(0);
      expect((JSON.parse(r.stdout) as { digest: string }).digest).toBe(image.digest);
    }
    expect(await readFile(helperLog, 'utf8')).toContain(`get ${registry.host}`);
  });

  it('reports a helper that is not on PATH as AUTH_HELPER_FAILED, not INTERNAL', async () => {
    const configDir = await dockerConfig('missing', { credHelpers: { [registry.host]: 'absent' } });
    for (let run = 1; run <= 2; run++) {
      const r = await runCli(['inspect', `${registry.host}/team/web:v1`, '--tls-verify=false'], {
        env: env(configDir),
      });
      expect(r.code, `run ${run}`).not.toBe(0);
      expect(r.stderr, `run ${run}`).toMatch(/docker-credential-absent.*\[AUTH_HELPER_FAILED\]/);
      expect(r.stderr).not.toContain('INTERNAL');
    }
  });
});
