/**
 * `gantry deployed` and `gantry pin --report` refuse bad input before anything is sent or
 * written: one line, `USAGE_INVALID` (exit 2), never a stack trace. (Reports that reach a real
 * server are in serve-deployments.test.ts.)
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const SERVER = 'http://127.0.0.1:9';
const TOKEN = { GANTRY_TOKEN: `gty_${'t'.repeat(43)}`, GANTRY_SERVER: '' };

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gantry-deployed-cli-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('gantry deployed', () => {
  it.each([
    ['a tag instead of a digest', ['web:1.4.2', '--target', 'a', '--server', SERVER], 'is not APP@DIGEST'],
    ['a short digest', ['web@sha256:abc', '--target', 'a', '--server', SERVER], 'is not APP@DIGEST'],
    [
      'a full image reference',
      [`registry.example.com/prod/web@${DIGEST}`, '--target', 'a', '--server', SERVER],
      'is not APP@DIGEST',
    ],
    [
      'a target with a space',
      [`web@${DIGEST}`, '--target', 'cluster a', '--server', SERVER],
      '--target "cluster a" is not a target',
    ],
    ['no server', [`web@${DIGEST}`, '--target', 'cluster-a'], 'pass --server URL or set GANTRY_SERVER'],
    ['no --target', [`web@${DIGEST}`, '--server', SERVER], "required option '--target <target>'"],
  ])('refuses %s with USAGE_INVALID (exit 2)', async (_what, args, message) => {
    const r = await runCli(['deployed', '--env', 'prod', ...args], { env: TOKEN });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain('USAGE_INVALID');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('needs GANTRY_TOKEN before it sends anything', async () => {
    const r = await runCli(
      ['deployed', '--env', 'prod', '--target', 'a', `web@${DIGEST}`, '--server', SERVER],
      {
        env: { GANTRY_TOKEN: '', GANTRY_SERVER: '' },
      },
    );
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('GANTRY_TOKEN is not set');
  });
});

describe('gantry pin --report', () => {
  it.each([
    ['with --check', ['--check', '--report', 'cluster-a', '--server', SERVER], '--report goes with pinning'],
    ['with a bad target', ['--report', '-x', '--server', SERVER], 'is not a target'],
    ['without a server', ['--report', 'cluster-a'], 'pass --server URL or set GANTRY_SERVER'],
    ['--server without --report', ['--server', SERVER], '--server goes with --report'],
  ])('refuses %s before touching the file', async (_what, args, message) => {
    const file = join(dir, 'deploy.yaml');
    const text = 'kind: Pod\nspec:\n  containers:\n    - image: registry.example.com/prod/web:1\n';
    await writeFile(file, text);
    const r = await runCli(['pin', '--env', 'prod', file, '--config', join(dir, 'missing.yaml'), ...args], {
      env: TOKEN,
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(message);
    expect(await readFile(file, 'utf8')).toBe(text);
  });
});
