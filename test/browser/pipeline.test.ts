/**
 * The pipeline page in real Chromium against a real `gantry serve`: the environments drawn as
 * the graph they form, the applications × environments matrix after promotions done through the
 * API (and live after one more), what is waiting and what failed with their reasons; usable and
 * accessible at desktop and phone widths.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { dashboardContext, screenshot, seriousViolations, signIn, VIEWPORTS } from '../helpers/browser.js';
import { columns, nextOf } from '../../web/src/pipeline-layout.js';
import { startDashboardWorld, type DashboardWorld } from './fixture.js';

const short = (digest: string | undefined) => `sha256:${(digest ?? '').slice(7, 19)}`;

describe('dashboard: the pipeline page (real Chromium, real gantry serve)', () => {
  let world: DashboardWorld;
  let failedId: string;
  let waitingId: string;
  let waitingReason: string;

  beforeAll(async () => {
    world = await startDashboardWorld({ name: 'pipeline' });
    for (const [app, version] of [
      ['web', '1.1.0'],
      ['api', '1.0.0'],
      ['worker', '1.1.0'],
    ] as const)
      expect((await world.promote(app, version, 'staging', ['completed', 'failed'])).state).toBe('completed');
    // A promotion to prod that fails: prod refuses blob uploads.
    world.proxy.setFault((req) =>
      req.url.includes('/blobs/uploads/')
        ? { status: 403, body: { errors: [{ code: 'DENIED', message: 'uploads are closed' }] } }
        : 'pass',
    );
    const failing = await world.promote('api', '1.0.0', 'prod');
    expect(failing.state).toBe('awaiting-approval');
    const approved = await world.call(
      world.tokens.alice,
      'POST',
      `/api/v1/promotions/${failing.id}/approvals`,
      {},
    );
    expect(approved.status, JSON.stringify(approved.body)).toBe(201);
    failedId = (await world.waitFor(failing.id, ['failed'])).id;
    world.proxy.setFault(() => 'pass');
    // One that waits for its approval.
    const waiting = await world.promote('web', '1.1.0', 'prod');
    expect(waiting.state).toBe('awaiting-approval');
    waitingId = waiting.id;
    const view = await world.call<{ waiting?: { reason: string }[] }>(
      world.tokens.admin,
      'GET',
      `/api/v1/promotions/${waitingId}`,
    );
    waitingReason = view.body.waiting?.[0]?.reason ?? '';
    expect(waitingReason).not.toBe('');
  }, 150_000);

  afterAll(async () => {
    await world?.stop();
  });

  const cell = (page: Page, app: string, env: string) =>
    page.locator(`tr[data-app="${app}"] td[data-env="${env}"]`);

  it('draws dev → staging → prod, the matrix, and what waits and failed, updating live', async () => {
    const ctx = await dashboardContext(world.browser, world.server.url, VIEWPORTS.desktop);
    try {
      const page = await ctx.newPage();
      await signIn(page, world.tokens.victor);
      await page.getByRole('heading', { name: 'Pipeline', level: 1 }).waitFor();

      // The graph: three columns in promotion order, each box with its registry, sources and gates.
      const graph = page.getByRole('list', { name: 'Environments in promotion order' });
      await graph.locator('.env-box').first().waitFor();
      expect(await graph.locator('.env-box h3').allTextContents()).toEqual(['dev', 'staging', 'prod']);
      expect(await graph.locator('.arrow').count()).toBe(2);
      const prod = graph.locator('.env-box[data-env="prod"]');
      expect(await prod.textContent()).toContain('staging');
      expect(await prod.textContent()).toContain('approval');
      expect(await prod.textContent()).toContain('protected');
      expect(await graph.locator('.env-box[data-env="staging"]').textContent()).toContain('dev');

      // The matrix: each app's version and short digest in staging, with a link to promote it on.
      await expect.poll(() => cell(page, 'worker', 'staging').textContent()).toContain('1.1.0');
      for (const [app, version] of [
        ['web', '1.1.0'],
        ['api', '1.0.0'],
        ['worker', '1.1.0'],
      ] as const) {
        const text = await cell(page, app, 'staging').textContent();
        expect(text).toContain(version);
        expect(text).toContain(short(world.digests[app]?.[version]));
        expect(text).toContain('by ci');
      }
      const link = cell(page, 'web', 'staging').getByRole('link', {
        name: /Promote to prod \(web 1\.1\.0 from staging\)/,
      });
      expect(await link.getAttribute('href')).toBe(
        `/apps/web/candidates/${encodeURIComponent(world.digests.web?.['1.1.0'] ?? '')}?env=prod`,
      );
      expect(await cell(page, 'web', 'prod').textContent()).toContain('not promoted');

      // What waits (with why) and what failed (with why), each linking to its promotion.
      const waiting = page.getByRole('region', { name: 'Waiting' });
      await expect
        .poll(() => waiting.locator(`li[data-id="${waitingId}"]`).textContent())
        .toContain(waitingReason);
      expect(await waiting.getByRole('link', { name: 'web 1.1.0 → prod' }).getAttribute('href')).toBe(
        `/promotions/${waitingId}`,
      );
      const failed = page.getByRole('region', { name: 'Failed in the last day' });
      const failedText = await failed.locator(`li[data-id="${failedId}"]`).textContent();
      expect(failedText).toContain('api 1.0.0 → prod');
      expect(failedText).toContain('failed');
      expect(failedText).toMatch(/REGISTRY_|COPY_|PROMOTION_/);
      expect(await page.locator('nav').getByRole('link', { name: 'Approvals 1 waiting' }).count()).toBe(1);
      expect(await seriousViolations(page)).toEqual([]);

      // Live: a promotion done through the API shows up in the matrix without a reload.
      expect((await world.promote('api', '1.1.0', 'staging', ['completed', 'failed'])).state).toBe(
        'completed',
      );
      await expect
        .poll(() => cell(page, 'api', 'staging').textContent(), { timeout: 15_000 })
        .toContain('1.1.0');

      // Deployment reports show up live as the cell's targets, drift as text and badge.
      const report = async (app: string, version: string, target: string) => {
        const r = await world.call(world.tokens.ci, 'POST', '/api/v1/deployments', {
          env: 'staging',
          app,
          digest: world.digests[app]?.[version],
          target,
        });
        expect(r.status, JSON.stringify(r.body)).toBe(201);
      };
      await report('web', '1.1.0', 'cluster-a');
      await report('web', '1.0.0', 'cluster-b');
      await report('api', '1.0.0', 'cluster-a');
      const targets = (app: string, target: string) =>
        cell(page, app, 'staging')
          .getByRole('list', { name: 'Deployed targets' })
          .locator('li', { hasText: target });
      await expect
        .poll(() => targets('web', 'cluster-b').textContent(), { timeout: 15_000 })
        .toContain('drift: unpromoted');
      expect(await targets('web', 'cluster-a').textContent()).toContain('in sync');
      expect(await targets('web', 'cluster-b').textContent()).toContain(short(world.digests.web?.['1.0.0']));
      await expect.poll(() => targets('api', 'cluster-a').textContent()).toContain('drift: behind');
      expect(await seriousViolations(page)).toEqual([]);
      await screenshot(page, 'matrix-desktop');

      // A cell's link opens the candidate page for promoting it on (in place, no reload).
      await cell(page, 'web', 'staging')
        .getByRole('link', { name: /Promote to prod \(web 1\.1\.0 from staging\)/ })
        .click();
      await page.getByRole('heading', { name: 'web 1.1.0 → prod', level: 1 }).waitFor();
      expect(new URL(page.url()).pathname).toBe(
        `/apps/web/candidates/${encodeURIComponent(world.digests.web?.['1.1.0'] ?? '')}`,
      );

      expect(ctx.external).toEqual([]);
      expect(ctx.pageErrors).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  it('is usable at 390 px: each application stacks its environments, nothing scrolls sideways', async () => {
    const ctx = await dashboardContext(world.browser, world.server.url, VIEWPORTS.phone);
    try {
      const page = await ctx.newPage();
      await signIn(page, world.tokens.victor);
      await expect.poll(() => cell(page, 'web', 'staging').textContent()).toContain('1.1.0');
      await page.getByRole('region', { name: 'Waiting' }).locator(`li[data-id="${waitingId}"]`).waitFor();
      const [pageWidth, viewport] = await page.evaluate<[number, number]>(
        '[document.documentElement.scrollWidth, window.innerWidth]',
      );
      expect(pageWidth).toBeLessThanOrEqual(viewport);
      // One application's environments are lines under each other, labelled with their names.
      const dev = await cell(page, 'web', 'dev').boundingBox();
      const staging = await cell(page, 'web', 'staging').boundingBox();
      expect(staging?.y).toBeGreaterThan((dev?.y ?? 0) + (dev?.height ?? 0) - 1);
      expect(staging?.x).toBe(dev?.x);
      expect(await cell(page, 'web', 'staging').getAttribute('data-label')).toBe('staging');
      expect(await seriousViolations(page)).toEqual([]);
      await screenshot(page, 'matrix-phone');
      expect(ctx.external).toEqual([]);
      expect(ctx.pageErrors).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  it('shows why a cell is unknown when its registry cannot be read', async () => {
    world.proxy.setFault((req) =>
      req.url.startsWith('/v2/')
        ? { status: 403, body: { errors: [{ code: 'DENIED', message: 'closed for maintenance' }] } }
        : 'pass',
    );
    const ctx = await dashboardContext(world.browser, world.server.url, VIEWPORTS.desktop);
    try {
      const page = await ctx.newPage();
      await signIn(page, world.tokens.victor);
      // The status snapshot is shared for a second or two: read again until it is fresh.
      await expect
        .poll(
          async () => {
            await page.reload();
            await page.getByRole('region', { name: 'Applications by environment' }).waitFor();
            return cell(page, 'web', 'prod').textContent();
          },
          { timeout: 20_000, interval: 1000 },
        )
        .toContain('unknown');
      const text = await cell(page, 'web', 'prod').textContent();
      expect(text).toMatch(/REGISTRY_\w+: /);
      // The other environments are still read.
      expect(await cell(page, 'web', 'staging').textContent()).toContain('1.1.0');
      expect(await seriousViolations(page)).toEqual([]);
      expect(ctx.external).toEqual([]);
      expect(ctx.pageErrors).toEqual([]);
    } finally {
      world.proxy.setFault(() => 'pass');
      await ctx.close();
    }
  });
});

describe('dashboard: the pipeline graph’s layout (columns by depth)', () => {
  const env = (name: string, ...from: string[]) => ({ name, from });
  it.each([
    ['a line', [env('dev'), env('staging', 'dev'), env('prod', 'staging')], [['dev'], ['staging'], ['prod']]],
    [
      'fan-out and fan-in, in file order within a column',
      [env('dev'), env('qa', 'dev'), env('perf', 'dev'), env('prod', 'qa', 'perf')],
      [['dev'], ['qa', 'perf'], ['prod']],
    ],
    [
      'an uneven join: a column after the deepest source',
      [env('prod', 'hotfix', 'staging'), env('dev'), env('staging', 'dev'), env('hotfix')],
      [['dev', 'hotfix'], ['staging'], ['prod']],
    ],
    ['two roots', [env('a'), env('b')], [['a', 'b']]],
  ])('%s', (_name, envs, expected) => {
    expect(columns(envs).map((c) => c.map((e) => e.name))).toEqual(expected);
  });

  it('finds the environments promoted from one', () => {
    const envs = [env('dev'), env('qa', 'dev'), env('perf', 'dev'), env('prod', 'qa', 'perf')];
    expect(nextOf(envs, 'dev')).toEqual(['qa', 'perf']);
    expect(nextOf(envs, 'prod')).toEqual([]);
  });
});
