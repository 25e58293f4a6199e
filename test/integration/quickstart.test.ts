/**
 * The README's quick start (`npm run quickstart`, here with `--exit`): real registries, the CLI's
 * promotions, then `gantry serve` on the embedded store and a promotion through the HTTP API. It
 * must keep working on a fresh machine, so it runs with the tests.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('quick start', () => {
  it('promotes with the CLI, then through the API of a running server, and prints its URL', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/quickstart.ts', '--exit'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, out).toBe(0);
    expect(out).toMatch(/promotion [0-9a-f-]{36}: completed/);
    expect(out).toMatch(/Gantry is running at http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toContain('signature verified');
  }, 180_000);
});
