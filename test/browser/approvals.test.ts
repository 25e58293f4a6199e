/**
 * Approving and rejecting in real Chromium against a real `gantry serve`: the live approvals
 * queue, the promotion page following an approved promotion's copy to `completed` (prod's blob
 * uploads held so the progress bar is seen), the matrix catching up without a reload, a rejection
 * with its reason, and the buttons disabled (with why) for the requester and for a viewer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import {
  dashboardContext,
  screenshot,
  seriousViolations,
  signIn,
  VIEWPORTS,
  type DashboardContext,
} from '../helpers/browser.js';
import type { FaultDecision } from '../helpers/index.js';
import { startDashboardWorld, type DashboardWorld } from './fixture.js';

describe('dashboard: approvals (real Chromium, real gantry serve)', () => {
  let world: DashboardWorld;
  let carol: string;

  beforeAll(async () => {
    world = await startDashboardWorld({ name: 'approvals', layerBytes: { web: 6_000_000 } });
    for (const [app, version] of [
      ['web', '1.1.0'],
      ['api', '1.0.0'],
      ['worker', '1.0.0'],
    ] as const)
      expect((await world.promote(app, version, 'staging', ['completed', 'failed'])).state).toBe('completed');
    carol = await world.token('carol', ['ci', 'approver:prod']);
  }, 150_000);

  afterAll(async () => {
    await world?.stop();
  });

  const card = (page: Page, id: string) => page.locator(`.approval[data-id="${id}"]`);

  /** Every page visited is accessible, fetched nothing from elsewhere and logged no error. */
  const clean = async (ctx: DashboardContext, page: Page) => {
    expect(await seriousViolations(page)).toEqual([]);
    expect(ctx.external).toEqual([]);
    expect(ctx.pageErrors).toEqual([]);
  };

  it('an approver approves from the queue and watches the copy complete; the matrix follows live', async () => {
    const requested = await world.promote('web', '1.1.0', 'prod');
    expect(requested.state).toBe('awaiting-approval');
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    world.proxy.setFault(async (req): Promise<FaultDecision> => {
      // Only the big layer's upload is held; the small blobs get through, slowly enough (progress
      // is reported at most every 250 ms) that a report with their bytes is sent.
      if (req.method === 'PUT' && req.url.includes('/blobs/uploads/')) {
        if (req.body.length > 1_000_000) await gate;
        else await new Promise((resolve) => setTimeout(resolve, 400));
      }
      return 'pass';
    });
    const ctx = await dashboardContext(world.browser, world.server.url, VIEWPORTS.desktop);
    try {
      // The pipeline, open in a second tab all along: it must catch up on its own.
      const pipeline = await ctx.newPage();
      await signIn(pipeline, world.tokens.alice);
      const prodWeb = pipeline.locator('tr[data-app="web"] td[data-env="prod"]');
      await expect.poll(() => prodWeb.textContent()).toContain('not promoted');

      // (Each tab signs in: the token is kept per tab, in sessionStorage.)
      const page = await ctx.newPage();
      await signIn(page, world.tokens.alice);
      await page.getByRole('link', { name: 'Approvals 1 waiting' }).click();
      await page.getByRole('heading', { name: 'Approvals', level: 1 }).waitFor();
      const row = card(page, requested.id);
      await row.waitFor();
      const text = await row.textContent();
      expect(text).toContain('web 1.1.0 → prod');
      expect(text).toContain('staging → prod');
      expect(text).toContain('ci');
      expect(text).toContain('0 of 1 approvals');
      expect(text).toContain(`sha256:${world.digests.web?.['1.1.0']?.slice(7, 19)}`);
      expect(await row.getByRole('link', { name: /^candidate/ }).getAttribute('href')).toBe(
        `/apps/web/candidates/${encodeURIComponent(world.digests.web?.['1.1.0'] ?? '')}?env=prod`,
      );
      await clean(ctx, page);

      await row.getByLabel('Comment (the reason, to reject)').fill('release notes checked');
      await row.getByRole('button', { name: 'Approve' }).click();
      // It leaves the queue live.
      await expect.poll(() => row.count()).toBe(0);

      // Through the pipeline's in-flight list to the promotion page (no reload: the stream stays open).
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Pipeline' }).click();
      await page
        .getByRole('region', { name: 'In flight' })
        .getByRole('link', { name: 'web 1.1.0 → prod' })
        .click();
      const state = page.locator('.state-line .badge').first();
      await expect.poll(() => state.textContent(), { timeout: 20_000 }).toMatch(/approved|copying/);
      const bar = page.getByRole('progressbar', { name: 'Copy progress of web 1.1.0' });
      await bar.waitFor({ timeout: 20_000 });
      await expect
        .poll(() => page.locator('.copy-progress').textContent(), { timeout: 20_000 })
        .toMatch(/^[1-9][\d.]* (?:B|kB|MB) of [\d.]+ MB, \d of \d blobs$/);
      expect(await page.locator('.decisions').textContent()).toContain('approved by alice');
      expect(await page.locator('.decisions').textContent()).toContain('release notes checked');
      await screenshot(page, 'promotion-copying');
      await clean(ctx, page);

      // The pipeline tab shows it in flight, with the same live progress.
      const flight = pipeline
        .getByRole('region', { name: 'In flight' })
        .locator(`li[data-id="${requested.id}"]`);
      await expect
        .poll(() => flight.locator('.copy-progress').textContent(), { timeout: 20_000 })
        .toMatch(/^[1-9][\d.]* (?:B|kB|MB) of [\d.]+ MB, \d of \d blobs$/);
      expect(await flight.getByRole('progressbar', { name: 'Copy progress of web 1.1.0' }).count()).toBe(1);

      release();
      await expect.poll(() => state.textContent(), { timeout: 60_000 }).toBe('completed');
      expect(await page.getByRole('progressbar').count()).toBe(0);
      await expect.poll(() => prodWeb.textContent(), { timeout: 15_000 }).toContain('1.1.0');
      // …and it left the in-flight list.
      await expect.poll(() => flight.count()).toBe(0);
      expect(await prodWeb.textContent()).toContain('by ci');
      await clean(ctx, pipeline);
    } finally {
      release();
      world.proxy.setFault(() => 'pass');
      await ctx.close();
    }
  });

  it('a rejection needs a reason, and the promotion shows it', async () => {
    const requested = await world.promote('api', '1.0.0', 'prod');
    expect(requested.state).toBe('awaiting-approval');
    const ctx = await dashboardContext(world.browser, world.server.url, VIEWPORTS.desktop);
    try {
      const page = await ctx.newPage();
      await signIn(page, world.tokens.alice);
      await page.goto('/approvals');
      const row = card(page, requested.id);
      await row.waitFor();
      await row.getByRole('button', { name: 'Reject' }).click();
      await expect.poll(() => row.getByRole('alert').textContent()).toContain('Give a reason');
      expect(await row.getByLabel('Comment (the reason, to reject)').getAttribute('aria-invalid')).toBe(
        'true',
      );
      // By keyboard: type the reason, then Tab past Approve to Reject.
      await row.getByLabel('Comment (the reason, to reject)').focus();
      await page.keyboard.type('CVE-2026-0001 is not fixed yet');
      await page.keyboard.press('Tab');
      expect(await page.evaluate('document.activeElement.textContent')).toBe('Approve');
      await page.keyboard.press('Tab');
      expect(await page.evaluate('document.activeElement.textContent')).toBe('Reject');
      await page.keyboard.press('Enter');
      await expect.poll(() => row.count()).toBe(0);
      expect((await world.waitFor(requested.id, ['rejected'])).state).toBe('rejected');

      await page.goto(`/promotions/${requested.id}`);
      await expect.poll(() => page.locator('.state-line .badge').first().textContent()).toBe('rejected');
      expect(await page.locator('.reason').textContent()).toContain('CVE-2026-0001 is not fixed yet');
      expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
      await clean(ctx, page);
    } finally {
      await ctx.close();
    }
  });

  it('disables Approve, saying why, for the requester and for a viewer', async () => {
    const created = await world.call<{ id: string }>(carol, 'POST', '/api/v1/promotions', {
      app: 'worker',
      version: '1.0.0',
      to: 'prod',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    const id = created.body.id;
    await world.waitFor(id, ['awaiting-approval']);

    const describedBy = async (page: Page, name: string) => {
      const button = card(page, id).getByRole('button', { name });
      const ref = await button.getAttribute('aria-describedby');
      return {
        disabled: await button.isDisabled(),
        why: ref ? await page.locator(`[id="${ref}"]`).textContent() : undefined,
      };
    };

    // A viewer sees the queue, but both buttons are disabled.
    const viewer = await dashboardContext(world.browser, world.server.url, VIEWPORTS.phone);
    try {
      const page = await viewer.newPage();
      await signIn(page, world.tokens.victor);
      await page.goto('/approvals');
      await card(page, id).waitFor();
      expect(await describedBy(page, 'Approve')).toEqual({
        disabled: true,
        why: 'Needs the approver:prod role.',
      });
      expect(await describedBy(page, 'Reject')).toEqual({
        disabled: true,
        why: 'Needs the approver:prod role.',
      });
      const [pageWidth, viewport] = await page.evaluate<[number, number]>(
        '[document.documentElement.scrollWidth, window.innerWidth]',
      );
      expect(pageWidth).toBeLessThanOrEqual(viewport);
      await screenshot(page, 'approvals-phone');
      await clean(viewer, page);
    } finally {
      await viewer.close();
    }

    // The requester may reject their own request but not approve it.
    const own = await dashboardContext(world.browser, world.server.url, VIEWPORTS.desktop);
    try {
      const page = await own.newPage();
      await signIn(page, carol);
      await page.goto('/approvals');
      await card(page, id).waitFor();
      expect(await describedBy(page, 'Approve')).toEqual({
        disabled: true,
        why: 'You requested this promotion; someone else must approve it.',
      });
      expect((await describedBy(page, 'Reject')).disabled).toBe(false);
      await screenshot(page, 'approvals-desktop');
      await clean(own, page);

      // …and may cancel it (they may promote) from the promotion page.
      await card(page, id).getByRole('link', { name: 'worker 1.0.0 → prod' }).click();
      await page.getByRole('heading', { name: 'worker 1.0.0 → prod', level: 1 }).waitFor();
      await page.getByRole('button', { name: 'Cancel promotion…' }).click();
      const dialog = page.getByRole('dialog', { name: 'Cancel this promotion?' });
      await dialog.getByLabel('Reason (optional)').fill('wrong version');
      await clean(own, page);
      await dialog.getByRole('button', { name: 'Cancel promotion' }).click();
      await expect.poll(() => page.locator('.state-line .badge').first().textContent()).toBe('cancelled');
      expect(await page.locator('.reason').textContent()).toBe('Cancelled: wrong version');
      expect(await page.getByRole('button', { name: 'Cancel promotion…' }).count()).toBe(0);
      await clean(own, page);
    } finally {
      await own.close();
    }
  });
});
