/**
 * Every page of the dashboard at 1280 px and 390 px in real Chromium: no serious or critical
 * axe-core violation, nothing wider than the screen, no request to another origin, no console
 * error; and the keyboard path in: the first Tab reaches "Skip to content", which moves focus to
 * the page's content, and every control on the way is reachable with Tab.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardContext, seriousViolations, signIn, VIEWPORTS } from '../helpers/browser.js';
import { startDashboardWorld, type DashboardWorld } from './fixture.js';

describe('dashboard: every page, both widths, accessible (real Chromium)', () => {
  let world: DashboardWorld;
  let pages: string[] = [];
  let waitingId = '';

  beforeAll(async () => {
    world = await startDashboardWorld({ name: 'a11y', devRetention: '{ keep: 0, schedule: "0 0 1 1 *" }' });
    await world.promote('web', '1.0.0', 'staging', ['completed']);
    await world.promote('web', '1.1.0', 'staging', ['completed']);
    const waiting = await world.promote('web', '1.1.0', 'prod', ['awaiting-approval']);
    waitingId = waiting.id;
    const digest = world.digests.web?.['1.1.0'] as string;
    const gc = await world.call<{ id: string }>(world.tokens.admin, 'POST', '/api/v1/lifecycle/runs', {
      kind: 'gc',
      name: 'dev',
      dryRun: true,
    });
    expect(gc.status, JSON.stringify(gc.body)).toBe(202);
    // Judge the run's page with its report.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const run = await world.call<{ state: string }>(
        world.tokens.admin,
        'GET',
        `/api/v1/lifecycle/runs/${gc.body.id}`,
      );
      if (run.body.state === 'succeeded') break;
      if (Date.now() > deadline) throw new Error(`the dry-run gc is ${run.body.state}, not succeeded`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    pages = [
      '/',
      '/approvals',
      `/promotions/${waiting.id}`,
      `/apps/web/candidates/${digest}?env=prod`,
      '/history?app=web&env=staging',
      '/ledger',
      '/diff?left=staging&right=prod',
      '/admin',
      '/lifecycle',
      `/lifecycle/runs/${gc.body.id}`,
      '/no-such-page',
    ];
  }, 180_000);

  afterAll(async () => {
    await world?.stop();
  });

  for (const [width, viewport] of Object.entries(VIEWPORTS)) {
    it(`has no serious violation and fits the screen on any page at ${viewport.width} px (${width})`, async () => {
      const ctx = await dashboardContext(world.browser, world.server.url, viewport);
      try {
        const page = await ctx.newPage();
        await signIn(page, world.tokens.admin);
        for (const path of pages) {
          await page.goto(path);
          await page.locator('main h1').first().waitFor();
          // Let the page's data arrive before it is judged (the live stream never idles).
          await page.waitForTimeout(400);
          expect(await seriousViolations(page), `${path} at ${viewport.width} px`).toEqual([]);
          const overflow = await page.evaluate(() => {
            const d = (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } })
              .document;
            return d.documentElement.scrollWidth;
          });
          expect(overflow, `${path} is wider than ${viewport.width} px`).toBeLessThanOrEqual(viewport.width);
        }
        expect(ctx.external).toEqual([]);
        expect(ctx.pageErrors).toEqual([]);
      } finally {
        await ctx.close();
      }
    }, 120_000);
  }

  it('is reachable by keyboard: skip link first, then the navigation, each control in turn', async () => {
    const ctx = await dashboardContext(world.browser, world.server.url, VIEWPORTS.desktop);
    try {
      const page = await ctx.newPage();
      await signIn(page, world.tokens.alice);
      await page.goto('/approvals');
      // The queue arrives after the heading: wait for its controls before walking them.
      await page.getByRole('button', { name: 'Approve' }).waitFor();
      await page.keyboard.press('Tab');
      expect(
        await page.evaluate(
          () =>
            (globalThis as unknown as { document: { activeElement: { textContent: string } } }).document
              .activeElement.textContent,
        ),
      ).toBe('Skip to content');
      await page.keyboard.press('Enter');
      await expect
        .poll(() =>
          page.evaluate(
            () =>
              (globalThis as unknown as { document: { activeElement: { id: string } } }).document
                .activeElement.id,
          ),
        )
        .toBe('main');
      // From the content, Tab walks its controls: the queue's link, the comment, Approve, Reject.
      const seen: string[] = [];
      for (let i = 0; i < 8; i++) {
        await page.keyboard.press('Tab');
        seen.push(
          await page.evaluate(() => {
            const a = (
              globalThis as unknown as {
                document: {
                  activeElement: {
                    tagName: string;
                    textContent: string;
                    getAttribute(n: string): string | null;
                  };
                };
              }
            ).document.activeElement;
            return `${a.tagName.toLowerCase()}:${a.getAttribute('name') ?? a.textContent.trim()}`;
          }),
        );
      }
      expect(seen.some((s) => s.startsWith('textarea'))).toBe(true);
      expect(seen).toContain('button:Approve');
      expect(seen).toContain('button:Reject');
      // Approve with the keyboard alone.
      while (
        (await page.evaluate(() =>
          (
            globalThis as unknown as { document: { activeElement: { textContent: string } } }
          ).document.activeElement.textContent.trim(),
        )) !== 'Approve'
      )
        await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Enter');
      await world.waitFor(waitingId, ['approved', 'copying', 'verifying', 'completed'], 30_000);
      expect(ctx.external).toEqual([]);
    } finally {
      await ctx.close();
    }
  }, 120_000);
});
