/**
 * The README's quick start (`npm run quickstart`): real registries, the CLI's promotions, then
 * `gantry serve` on the embedded store and a promotion through the HTTP API. While it runs, the
 * dashboard URL and token it prints sign in in real Chromium; Ctrl-C (SIGINT) then stops it and
 * removes everything. It must keep working on a fresh machine, so it runs with the tests.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { dashboardContext, launchBrowser, screenshot } from '../helpers/browser.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('quick start', () => {
  it('promotes with the CLI and the API, then prints a dashboard URL and a token that signs in', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/quickstart.ts'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const ready = new Promise<void>((resolve) => {
      const on = (c: Buffer) => {
        out += c.toString();
        if (out.includes('Press Ctrl-C to stop')) resolve();
      };
      child.stdout.on('data', on);
      child.stderr.on('data', on);
    });
    try {
      await Promise.race([
        ready,
        exited.then((code) => {
          throw new Error(`quick start exited ${code} before serving:\n${out}`);
        }),
      ]);
      expect(out).toMatch(/promotion [0-9a-f-]{36}: completed/);
      expect(out).toContain('signature verified');
      const url = /^ {2}dashboard: (http:\/\/127\.0\.0\.1:\d+)\/$/m.exec(out)?.[1];
      const token = /export GANTRY_TOKEN=(gty_\w+)/.exec(out)?.[1];
      expect(url, out).toBeDefined();
      expect(token, out).toBeDefined();

      const browser = await launchBrowser();
      try {
        const ctx = await dashboardContext(browser, url as string);
        const page = await ctx.newPage();
        await page.goto('/');
        await page.fill('input[name=token]', token as string);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('navigation', { name: 'Main' }).waitFor();
        await screenshot(page, 'quickstart-signed-in');
        expect(ctx.external).toEqual([]);
        await ctx.close();
      } finally {
        await browser.close();
      }
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited, out).toBe(0);
  }, 240_000);
});
