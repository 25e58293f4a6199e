/**
 * The Admin page in real Chromium against a real `gantry serve`: an administrator creates a token
 * through the form and sees its secret once, the secret signs in, revoking it in the page makes
 * the API refuse it; the webhook delivery log lists a failing delivery and redelivers it; a viewer
 * gets a clear refusal instead of the page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardContext, screenshot, expectClean, signIn, VIEWPORTS } from '../helpers/browser.js';
import { startDashboardWorld, type DashboardWorld } from './fixture.js';

interface Deliveries {
  deliveries: { id: string; event: string; state: string; attempts: number; lastError: string | null }[];
}

describe('dashboard: admin (real Chromium, real gantry serve)', () => {
  let world: DashboardWorld;

  beforeAll(async () => {
    world = await startDashboardWorld({
      name: 'admin',
      // An endpoint nobody listens on, tried once: its deliveries fail and are dead at once.
      extraConfig: `webhooks:
  hook:
    url: http://127.0.0.1:9/hook
    events: [promotion.completed]
    secretEnv: DASHBOARD_WEBHOOK_SECRET
    attempts: 1
`,
      serverEnv: { DASHBOARD_WEBHOOK_SECRET: 'a-webhook-secret-of-more-than-32-characters' },
    });
    expect((await world.promote('web', '1.0.0', 'staging')).state).toBe('completed');
    // Wait for the delivery's one (failing) attempt.
    for (let i = 0; ; i++) {
      const r = await world.call<Deliveries>(world.tokens.admin, 'GET', '/api/v1/webhooks/deliveries');
      if (r.body.deliveries[0]?.state === 'dead') break;
      if (i > 300) throw new Error(`no webhook delivery attempt: ${JSON.stringify(r.body)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 180_000);

  afterAll(async () => {
    await world?.stop();
  });

  it('creates a token whose secret is shown once and signs in, then revokes it so the API refuses it', async () => {
    const ctx = await dashboardContext(world.browser, world.server.url, VIEWPORTS.desktop);
    try {
      const page = await ctx.newPage();
      await signIn(page, world.tokens.admin);
      await page.getByRole('link', { name: 'Admin' }).click();
      const tokens = page.getByRole('region', { name: 'API tokens' });
      await expect.poll(() => tokens.locator('tbody tr').count()).toBe(4);
      expect(await tokens.textContent()).toContain('approver:staging, approver:prod');
      await expectClean(ctx, page);

      await page.getByLabel('Name').fill('robot');
      await page.getByRole('checkbox', { name: 'viewer' }).check();
      await page.getByRole('checkbox', { name: 'approver:staging' }).check();
      await page.getByLabel(/Expires in/).fill('30d');
      await page.getByRole('button', { name: 'Create token' }).click();
      const shown = page.getByRole('dialog', { name: 'Token “robot” created' });
      await shown.waitFor();
      const secret = await shown.getByLabel('Secret').inputValue();
      expect(secret).toMatch(/^gty_/);
      expect(await shown.textContent()).toContain('it will not be shown again');
      await expectClean(ctx, page);
      await screenshot(page, 'admin-token-secret');
      await shown.getByRole('button', { name: 'Done' }).click();
      await shown.waitFor({ state: 'detached' });
      // Once closed, the secret is nowhere in the page any more.
      expect(await page.content()).not.toContain(secret);
      const robot = tokens.locator('tbody tr', { hasText: 'robot' });
      await expect.poll(() => robot.textContent()).toContain('active');
      expect(await robot.textContent()).toContain('viewer, approver:staging');

      // The secret signs in, in a browser of its own.
      const other = await dashboardContext(world.browser, world.server.url, VIEWPORTS.desktop);
      try {
        const p2 = await other.newPage();
        await signIn(p2, secret);
        expect(await p2.locator('header .who').textContent()).toContain('robot');
        expect(other.external).toEqual([]);
        expect(other.pageErrors).toEqual([]);
      } finally {
        await other.close();
      }

      await robot.getByRole('button', { name: 'Revoke robot' }).click();
      const confirm = page.getByRole('dialog', { name: 'Revoke “robot”?' });
      await confirm.waitFor();
      await expectClean(ctx, page);
      await confirm.getByRole('button', { name: 'Revoke token' }).click();
      await confirm.waitFor({ state: 'detached' });
      await expect.poll(() => robot.textContent()).toContain('revoked');
      expect(await robot.getByRole('button', { name: 'Revoke robot' }).count()).toBe(0);
      // Past the server's one-second token cache the API refuses the secret.
      await expect
        .poll(async () => (await world.call(secret, 'GET', '/api/v1/session')).status, { timeout: 10_000 })
        .toBe(401);

      // The webhook delivery log: the failing delivery, and a redelivery.
      const log = page.getByRole('region', { name: 'Webhook deliveries' });
      const row = log.locator('tbody tr').first();
      await expect.poll(() => row.textContent()).toContain('promotion.completed');
      expect(await row.textContent()).toContain('hook');
      expect(await row.textContent()).toContain('dead');
      const before = (await world.call<Deliveries>(world.tokens.admin, 'GET', '/api/v1/webhooks/deliveries'))
        .body.deliveries[0];
      await row.getByRole('button', { name: /^Redeliver promotion\.completed to hook$/ }).click();
      await expect.poll(() => page.getByText('is being delivered to hook again').count()).toBe(1);
      await expect
        .poll(
          async () =>
            (await world.call<Deliveries>(world.tokens.admin, 'GET', '/api/v1/webhooks/deliveries')).body
              .deliveries[0]?.attempts,
        )
        .toBeGreaterThan(before?.attempts ?? 0);
      await expectClean(ctx, page);
      await screenshot(page, 'admin-desktop');
    } finally {
      await ctx.close();
    }
  });

  it('shows a viewer that the page needs the admin role, and fits a phone', async () => {
    const ctx = await dashboardContext(world.browser, world.server.url, VIEWPORTS.phone);
    try {
      const page = await ctx.newPage();
      await signIn(page, world.tokens.victor);
      await page.goto('/admin');
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('needs the admin role');
      expect(await page.getByRole('heading', { name: 'API tokens' }).count()).toBe(0);
      expect(await page.getByRole('link', { name: 'Admin' }).count()).toBe(0);
      await expectClean(ctx, page);
      await screenshot(page, 'admin-viewer-phone');

      await page.getByRole('button', { name: 'Sign out' }).click();
      await signIn(page, world.tokens.admin);
      await page.goto('/admin');
      await expect
        .poll(() => page.getByRole('region', { name: 'API tokens' }).locator('tbody tr').count())
        .toBe(5);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await expectClean(ctx, page);
      await screenshot(page, 'admin-phone');
    } finally {
      await ctx.close();
    }
  });
});
