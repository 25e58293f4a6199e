/**
 * The dashboard in real Chromium against a real `gantry serve`: how it is served (one origin,
 * security headers, deep links), signing in and out with an API token, and accessibility of the
 * sign-in form.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardContext, screenshot, seriousViolations, signIn, VIEWPORTS } from '../helpers/browser.js';
import { startDashboardWorld, type DashboardWorld } from './fixture.js';

describe('dashboard: serving and sign-in (real Chromium, real gantry serve)', () => {
  let world: DashboardWorld;

  beforeAll(async () => {
    world = await startDashboardWorld({ name: 'sign-in' });
  }, 120_000);

  afterAll(async () => {
    await world?.stop();
  });

  it('serves the app at / and at its deep links, with a same-origin content security policy', async () => {
    for (const path of ['/', '/approvals', '/apps/web/candidates/sha256:' + '0'.repeat(64)]) {
      const res = await fetch(`${world.server.url}${path}`, { headers: { accept: 'text/html' } });
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const html = await res.text();
      expect(html).toMatch(/<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js">/);
      // Nothing in the page points at another origin.
      expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    }
    // An API path stays an API answer for a browser too.
    const api = await fetch(`${world.server.url}/api/v1/nothing-here`, { headers: { accept: 'text/html' } });
    expect(api.status).toBe(404);
    expect(api.headers.get('content-type')).toContain('application/json');
    // Assets are compressed and cached for good (their names carry their hash).
    const html = await (await fetch(`${world.server.url}/`, { headers: { accept: 'text/html' } })).text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${world.server.url}${script}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect(asset.headers.get('content-type')).toContain('javascript');
  });

  it('refuses a wrong token with the server’s one-line reason, then signs in, survives a reload and signs out', async () => {
    const ctx = await dashboardContext(world.browser, world.server.url, VIEWPORTS.desktop);
    try {
      const page = await ctx.newPage();
      await page.goto('/');
      await expect.poll(() => page.title()).toBe('Sign in · Gantry');
      expect(await seriousViolations(page)).toEqual([]);
      await screenshot(page, 'sign-in-desktop');

      await page.fill('input[name=token]', `gty_${'0'.repeat(64)}`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('not known');
      expect(await page.getByRole('navigation', { name: 'Main' }).count()).toBe(0);

      await signIn(page, world.tokens.victor);
      expect(await page.locator('header .who').textContent()).toContain('victor');
      // A viewer sees no admin page in the navigation.
      expect(await page.getByRole('link', { name: 'Admin' }).count()).toBe(0);

      await page.reload();
      await page.getByRole('navigation', { name: 'Main' }).waitFor();

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.locator('input[name=token]').waitFor();
      await page.reload();
      await page.locator('input[name=token]').waitFor();
      expect(ctx.external).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  it('a revoked token ends the session at the next API call', async () => {
    const secret = await world.token('short-lived', ['viewer']);
    const listed = await world.call<{ tokens: { id: string; name: string }[] }>(
      world.tokens.admin,
      'GET',
      '/api/v1/tokens',
    );
    const id = listed.body.tokens.find((t) => t.name === 'short-lived')?.id;
    expect(id).toBeDefined();
    const ctx = await dashboardContext(world.browser, world.server.url, VIEWPORTS.phone);
    try {
      const page = await ctx.newPage();
      await signIn(page, secret);
      expect((await world.call(world.tokens.admin, 'DELETE', `/api/v1/tokens/${id}`)).status).toBe(200);
      // Past the server's one-second token cache, a reload's session check is refused.
      await new Promise((r) => setTimeout(r, 1100));
      await page.reload();
      await page.locator('input[name=token]').waitFor();
      expect(ctx.external).toEqual([]);
    } finally {
      await ctx.close();
    }
  });
});
