/**
 * History, rollback, ledger and diff pages in real Chromium against a real `gantry serve`: the
 * rollback dialog offers only digests the environment held before, a confirmed rollback shows in
 * the history and the status, the ledger verifies and filters by a type prefix, and the diff
 * compares two environments.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardContext, screenshot, expectClean, signIn, VIEWPORTS } from '../helpers/browser.js';
import { startDashboardWorld, type DashboardWorld } from './fixture.js';

describe('dashboard: history, rollback, ledger and diff (real Chromium, real gantry serve)', () => {
  let world: DashboardWorld;

  beforeAll(async () => {
    world = await startDashboardWorld({ name: 'history' });
    expect((await world.promote('web', '1.0.0', 'staging')).state).toBe('completed');
    expect((await world.promote('web', '1.1.0', 'staging')).state).toBe('completed');
  }, 180_000);

  afterAll(async () => {
    await world?.stop();
  });

  it('rolls back to the only digest staging held before, then the ledger and the diff show it', async () => {
    const ctx = await dashboardContext(world.browser, world.server.url, VIEWPORTS.desktop);
    try {
      const page = await ctx.newPage();
      await signIn(page, world.tokens.ci);
      await page.goto('/history?app=web&env=staging');
      const rows = page.locator('table tbody tr');
      await expect.poll(() => rows.count()).toBe(2);
      expect(await rows.nth(0).textContent()).toContain('1.1.0');
      expect(await rows.nth(1).textContent()).toContain('1.0.0');
      expect(await page.getByLabel('Application').inputValue()).toBe('web');
      expect(await page.getByLabel('Environment').inputValue()).toBe('staging');
      await expectClean(ctx, page);
      await screenshot(page, 'history-desktop');

      await page.getByRole('button', { name: 'Roll back…' }).click();
      const dialog = page.getByRole('dialog', { name: 'Roll back web in staging' });
      await dialog.waitFor();
      // Only 1.0.0: not the current 1.1.0, not the never-promoted digests of other apps.
      const radios = dialog.getByRole('radio');
      expect(await radios.count()).toBe(1);
      expect(await radios.first().getAttribute('value')).toBe(world.digests.web?.['1.0.0']);
      expect(await radios.first().isChecked()).toBe(true);
      expect(await dialog.textContent()).toContain('1.0.0');
      expect(await dialog.textContent()).not.toContain('1.1.0');
      await expectClean(ctx, page);
      await screenshot(page, 'history-rollback-dialog');
      // Keyboard: Escape closes the dialog, Enter on the button opens it again with focus inside.
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      await page.getByRole('button', { name: 'Roll back…' }).focus();
      await page.keyboard.press('Enter');
      await dialog.waitFor();
      expect(await page.evaluate<boolean>("document.activeElement?.closest('dialog') != null")).toBe(true);

      // A refused rollback keeps the dialog open with the server's one-line reason.
      await page.route('**/api/v1/rollbacks', (route) =>
        route.fulfill({
          status: 409,
          contentType: 'application/json',
          body: JSON.stringify({
            error: { code: 'PROMOTION_IN_PROGRESS', message: 'a promotion of web is running' },
          }),
        }),
      );
      await dialog.getByRole('button', { name: 'Roll back', exact: true }).click();
      await expect.poll(() => dialog.getByRole('alert').textContent()).toBe('a promotion of web is running');
      expect(await dialog.isVisible()).toBe(true);
      await page.unroute('**/api/v1/rollbacks');
      ctx.pageErrors.length = 0; // the browser logs the refused request

      await dialog.getByRole('button', { name: 'Roll back', exact: true }).click();
      await dialog.waitFor({ state: 'hidden' });
      await expect.poll(() => rows.count()).toBe(3);
      expect(await rows.nth(0).textContent()).toContain('rollback');
      expect(await rows.nth(0).textContent()).toContain('1.0.0');

      const status = await world.call<{
        cells: { environment: string; application: string; digest?: string; version?: string }[];
      }>(world.tokens.ci, 'GET', '/api/v1/status');
      const cell = status.body.cells.find((c) => c.environment === 'staging' && c.application === 'web');
      expect(cell?.digest).toBe(world.digests.web?.['1.0.0']);
      await expectClean(ctx, page);

      // The ledger: verified, and filtered to rollbacks.
      await page.getByRole('link', { name: 'Ledger' }).click();
      await expect.poll(() => page.getByText(/Ledger verified · \d+ entries/).count()).toBe(1);
      await page.getByLabel('Event type').selectOption('rollback.*');
      await page.getByRole('button', { name: 'Filter' }).click();
      await expect.poll(() => new URL(page.url()).searchParams.get('type')).toBe('rollback.*');
      const entries = page.locator('table tbody tr');
      await expect.poll(() => entries.count()).toBe(1);
      expect(await entries.first().textContent()).toContain('rollback.completed');
      await entries.first().locator('summary').click();
      expect(await entries.first().locator('pre').textContent()).toContain(world.digests.web?.['1.0.0']);
      await expectClean(ctx, page);
      await screenshot(page, 'ledger-desktop');
      // Paging towards older entries, three at a time, and back to the newest.
      const seqs = async () => (await entries.locator('td:first-child').allTextContents()).map(Number);
      await page.goto('/ledger?limit=3');
      await expect.poll(() => entries.count()).toBe(3);
      const newest = await seqs();
      expect(newest).toEqual([newest[0], (newest[0] ?? 0) - 1, (newest[0] ?? 0) - 2]);
      await page.getByRole('link', { name: 'Older entries' }).click();
      await expect.poll(seqs).toEqual(newest.map((n) => n - 3));
      expect(new URL(page.url()).searchParams.get('before')).toBe(String(newest[2]));
      await page.getByRole('link', { name: 'Newest' }).click();
      await expect.poll(seqs).toEqual(newest);
      expect(new URL(page.url()).search).toBe('?limit=3');

      // The diff: staging runs web 1.0.0, prod nothing yet.
      await page.goto('/diff?left=staging&right=prod');
      const web = page.locator('table tbody tr', { has: page.getByRole('rowheader', { name: 'web' }) });
      await expect.poll(() => web.textContent()).toContain('differs');
      expect(await web.textContent()).toContain('1.0.0');
      expect(await page.getByRole('status').textContent()).toContain('differ between staging and prod');
      await expectClean(ctx, page);
      await screenshot(page, 'diff-desktop');
    } finally {
      await ctx.close();
    }
  });

  it('is usable on a phone, and a viewer gets no rollback button', async () => {
    const ctx = await dashboardContext(world.browser, world.server.url, VIEWPORTS.phone);
    try {
      const page = await ctx.newPage();
      await signIn(page, world.tokens.victor);
      await page.goto('/history?app=web&env=staging');
      await expect.poll(() => page.locator('table tbody tr').count()).toBe(3);
      expect(await page.getByRole('button', { name: 'Roll back…' }).count()).toBe(0);
      // The page itself never scrolls sideways; wide tables scroll in their own box.
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await expectClean(ctx, page);
      await screenshot(page, 'history-phone');
      await page.goto('/ledger');
      await expect.poll(() => page.getByText(/Ledger verified/).count()).toBe(1);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await expectClean(ctx, page);
      await screenshot(page, 'ledger-phone');

      // A broken chain is said in the error style, with where and why.
      await page.route('**/api/v1/ledger/verify', (route) =>
        route.fulfill({
          status: 200,
          contentType: 'application/json',
          body: JSON.stringify({
            ok: false,
            entries: 17,
            headHash: 'f'.repeat(64),
            firstBadSeq: 7,
            reason: 'entry 7 does not hash to its recorded hash',
          }),
        }),
      );
      await page.reload();
      const broken = page.locator('p.error', { hasText: 'Ledger broken at #7' });
      await broken.waitFor();
      expect(await broken.textContent()).toBe(
        'Ledger broken at #7: entry 7 does not hash to its recorded hash',
      );
      expect(await page.getByText('Ledger verified').count()).toBe(0);
      await expectClean(ctx, page);
    } finally {
      await ctx.close();
    }
  });
});
