/**
 * The Lifecycle page in real Chromium against a real `gantry serve` with a gc schedule (dev) and a
 * sync job: the schedules with their next run, an admin's "Run now" that is a dry run by default
 * (nothing leaves the registry), runs appearing and finishing without a reload, a run's detail
 * matching the API's report (totals, items, kept and why), a real gc's confirmation, and a viewer who sees everything but no way to start a run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardContext, screenshot, expectClean, signIn, VIEWPORTS } from '../helpers/browser.js';
import { registryRequest } from '../helpers/index.js';
import { APPS, startDashboardWorld, VERSIONS, type DashboardWorld } from './fixture.js';

/** The pages' polling interval while a run is under way (POLL_MS in web/src/lifecycle-parts.tsx). */
const POLL_MS = 2000;
/** Items a run's page renders before "Show all" (ITEM_CAP in web/src/pages/lifecycle-run.tsx). */
const ITEM_CAP = 500;

/** Far enough away that no scheduled slot comes while the test runs. */
const CRON = '0 0 1 1 *';

interface Run {
  id: string;
  kind: string;
  name: string;
  trigger: string;
  dryRun: boolean;
  state: string;
  totals: Record<string, number> | null;
  error: { code: string; message: string } | null;
  report?: {
    items: { action: string; repository: string; digest: string; tags?: string[]; reason?: string }[];
    kept: Record<string, number>;
    totals: Record<string, number>;
  };
}

describe('dashboard: lifecycle runs (real Chromium, real gantry serve)', () => {
  let world: DashboardWorld;

  beforeAll(async () => {
    world = await startDashboardWorld({
      name: 'lifecycle',
      devRetention: `{ keep: 0, olderThan: 1s, schedule: "${CRON}" }`,
      extraConfig: `sync:
  mirror-web:
    from: { registry: dev, repositories: [dev/web], tags: ["1.0.0"] }
    to: [{ registry: dev, prefix: mirror }]
    schedule: "${CRON}"
  mirror-on-request:
    from: { registry: dev, repositories: [dev/web], tags: ["1.0.0"] }
    to: [{ registry: dev, prefix: on-request }]
teams: { shop: [web] }
`,
    });
    // web 1.0.0 is in staging too: gc of dev keeps it (promoted).
    expect((await world.promote('web', '1.0.0', 'staging')).state).toBe('completed');
  }, 180_000);

  afterAll(async () => {
    await world?.stop();
  });

  async function runs(kind?: string): Promise<Run[]> {
    const r = await world.call<{ runs: Run[] }>(
      world.tokens.admin,
      'GET',
      `/api/v1/lifecycle/runs${kind ? `?kind=${kind}` : ''}`,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.runs;
  }

  async function manifestExists(repo: string, digest: string): Promise<boolean> {
    const res = await registryRequest(world.dev, `/v2/${repo}/manifests/${digest}`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    return res.status === 200;
  }

  it('an admin starts a dry-run gc from its schedule; the run and its report show what the API says', async () => {
    const ctx = await dashboardContext(world.browser, world.server.url, VIEWPORTS.desktop);
    try {
      const page = await ctx.newPage();
      await signIn(page, world.tokens.admin);
      await page.getByRole('link', { name: 'Lifecycle' }).click();
      await page.getByRole('heading', { name: 'Lifecycle', level: 1 }).waitFor();
      const schedules = page.getByRole('region', { name: 'Schedules' }).locator('tbody tr');
      await expect.poll(() => schedules.count()).toBe(2);
      const gcRow = schedules.filter({ hasText: 'gc' }).filter({ hasText: 'dev' });
      const gcText = await gcRow.textContent();
      expect(gcText).toContain(CRON);
      expect(gcText).toMatch(/\d{4}-01-01 00:00 UTC \(in \d+ d\)/);
      expect(gcText).toContain('never');
      expect(await schedules.filter({ hasText: 'mirror-web' }).textContent()).toContain('sync');
      expect(await page.getByText('No gc or sync run yet.').count()).toBe(1);
      const anyJob = page.getByRole('form', { name: 'Run any job now' });
      expect(await anyJob.count()).toBe(1);
      // A sync job without a schedule is not a schedule, but it may be run now.
      expect(await schedules.filter({ hasText: 'mirror-on-request' }).count()).toBe(0);
      await anyJob.getByLabel('Job kind').selectOption('sync');
      const syncOptions = await anyJob.getByLabel('Sync job').locator('option').allTextContents();
      expect(syncOptions).toEqual(expect.arrayContaining(['mirror-web', 'mirror-on-request']));
      await anyJob.getByLabel('Job kind').selectOption('gc');
      await expectClean(ctx, page);

      // Run now: a dry run unless chosen otherwise.
      await page.getByRole('button', { name: 'Run now… (gc of dev)' }).click();
      const dialog = page.getByRole('dialog', { name: 'Run gc of dev now' });
      await dialog.waitFor();
      expect(await dialog.getByRole('radio', { name: /Dry run/ }).isChecked()).toBe(true);
      await expectClean(ctx, page);
      await dialog.getByRole('button', { name: 'Start dry run' }).click();
      await dialog.waitFor({ state: 'detached' });

      // The run appears and finishes without a reload (the page polls while it is under way).
      const rows = page.getByRole('region', { name: 'Recent runs' }).locator('tbody tr');
      await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(1);
      await expect.poll(() => rows.first().textContent(), { timeout: 20_000 }).toContain('succeeded');
      const [run] = await runs('gc');
      expect(run).toMatchObject({
        kind: 'gc',
        name: 'dev',
        trigger: 'api',
        dryRun: true,
        state: 'succeeded',
      });
      const totals = run?.totals ?? {};
      expect(totals.planned).toBe(APPS.length * VERSIONS.length - 1);
      expect(totals.deleted).toBe(0);
      const row = (await rows.first().textContent()) ?? '';
      expect(row).toContain(`${totals.planned} planned · 0 deleted`);
      expect(row).toContain('yes'); // dry run
      // Nothing left the registry.
      expect(await manifestExists('dev/web', world.digests.web?.['1.0.0'] ?? '')).toBe(true);
      for (const app of APPS)
        for (const version of VERSIONS)
          expect(await manifestExists(`dev/${app}`, world.digests[app]?.[version] ?? '')).toBe(true);
      // The schedule's last run is this one.
      await expect.poll(() => gcRow.textContent()).toContain('succeeded');
      await expectClean(ctx, page);
      await screenshot(page, 'lifecycle-desktop');

      // The run's detail: the API's report, item by item.
      const detail = await world.call<Run>(world.tokens.admin, 'GET', `/api/v1/lifecycle/runs/${run?.id}`);
      const report = detail.body.report;
      expect(report?.items.length).toBe(totals.planned);
      await rows.first().getByRole('link').click();
      await page.getByRole('heading', { name: 'gc of dev (dry run)' }).waitFor();
      expect(new URL(page.url()).pathname).toBe(`/lifecycle/runs/${run?.id}`);
      const items = page.getByRole('region', { name: 'Items of this run' }).locator('tbody tr');
      await expect.poll(() => items.count()).toBe(report?.items.length);
      for (const [i, item] of (report?.items ?? []).entries()) {
        const text = (await items.nth(i).textContent()) ?? '';
        expect(text).toContain(`${item.repository}@${item.digest}`);
        expect(text).toContain(item.action);
        expect(text).toContain(item.reason ?? '');
        for (const tag of item.tags ?? []) expect(text).toContain(tag);
      }
      // Never the promoted web 1.0.0.
      expect(await page.locator('main').textContent()).not.toContain(world.digests.web?.['1.0.0']);
      const kept = page.getByRole('region', { name: 'Kept by reason' }).locator('tbody tr');
      const reasons = Object.entries(report?.kept ?? {}).filter(([, n]) => n > 0);
      expect(report?.kept.promoted).toBeGreaterThanOrEqual(1);
      expect(await kept.count()).toBe(reasons.length);
      for (const [reason, n] of reasons) {
        const cells = await kept.filter({ hasText: reason }).locator('th, td').allTextContents();
        expect(cells.slice(0, 2)).toEqual([reason, String(n)]);
      }
      expect(await page.locator('dl.lifecycle-totals').textContent()).toContain(`planned${totals.planned}`);
      await expectClean(ctx, page);
      await screenshot(page, 'lifecycle-run-desktop');

      // A real gc needs its confirmation ticked; then it deletes what the dry run planned, and no more.
      await page.getByRole('link', { name: 'All lifecycle runs' }).click();
      await page.getByRole('button', { name: 'Run now… (gc of dev)' }).click();
      await dialog.waitFor();
      await dialog.getByRole('radio', { name: /Real run/ }).check();
      const del = dialog.getByRole('button', { name: 'Delete now' });
      expect(await del.isDisabled()).toBe(true);
      expect(await dialog.textContent()).toContain('This deletes images from dev');
      await expectClean(ctx, page);
      await dialog.getByRole('checkbox', { name: /I understand/ }).check();
      expect(await del.isDisabled()).toBe(false);
      await del.click();
      await dialog.waitFor({ state: 'detached' });
      await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(2);
      await expect.poll(() => rows.first().textContent(), { timeout: 20_000 }).toContain('succeeded');
      const [real] = await runs('gc');
      expect(real).toMatchObject({ dryRun: false, state: 'succeeded' });
      expect(real?.totals?.deleted).toBe(totals.planned);
      expect(await rows.first().textContent()).toContain(
        `${totals.planned} planned · ${totals.planned} deleted`,
      );
      for (const app of APPS)
        for (const version of VERSIONS)
          expect(await manifestExists(`dev/${app}`, world.digests[app]?.[version] ?? '')).toBe(
            app === 'web' && version === '1.0.0',
          );

      // A sync started through the API appears too; the filter narrows to it.
      const sync = await world.call<Run>(world.tokens.admin, 'POST', '/api/v1/lifecycle/runs', {
        kind: 'sync',
        name: 'mirror-web',
      });
      expect(sync.status, JSON.stringify(sync.body)).toBe(202);
      await page.getByLabel('Kind', { exact: true }).selectOption('sync');
      await expect.poll(() => new URL(page.url()).searchParams.get('kind')).toBe('sync');
      await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(1);
      await expect.poll(() => rows.first().textContent(), { timeout: 20_000 }).toContain('succeeded');
      const [synced] = await runs('sync');
      expect(synced?.totals?.copied).toBe(1);
      expect(await rows.first().textContent()).toContain(
        `${synced?.totals?.copied} copied · ${synced?.totals?.tagged} tagged`,
      );
      await expectClean(ctx, page);
    } finally {
      await ctx.close();
    }
  });

  it('a viewer sees schedules and runs on a phone but no way to start one', async () => {
    const ctx = await dashboardContext(world.browser, world.server.url, VIEWPORTS.phone);
    try {
      const page = await ctx.newPage();
      await signIn(page, world.tokens.victor);
      await page.goto('/lifecycle');
      await expect
        .poll(() => page.getByRole('region', { name: 'Schedules' }).locator('tbody tr').count())
        .toBe(2);
      await expect
        .poll(() => page.getByRole('region', { name: 'Recent runs' }).locator('tbody tr').count())
        .toBeGreaterThan(0);
      expect(await page.getByRole('button', { name: /Run/ }).count()).toBe(0);
      expect(await page.getByRole('form', { name: 'Run any job now' }).count()).toBe(0);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await expectClean(ctx, page);
      await screenshot(page, 'lifecycle-phone');
      // The server says the same.
      const refused = await world.call(world.tokens.victor, 'POST', '/api/v1/lifecycle/runs', {
        kind: 'gc',
        name: 'dev',
        dryRun: true,
      });
      expect(refused.status).toBe(403);

      // A token limited to teams has no Lifecycle link, and the page says why.
      const team = await world.call<{ token: string }>(world.tokens.admin, 'POST', '/api/v1/tokens', {
        name: 'shop-viewer',
        roles: ['viewer'],
        teams: ['shop'],
      });
      expect(team.status, JSON.stringify(team.body)).toBe(201);
      const teamPage = await ctx.newPage();
      await signIn(teamPage, team.body.token);
      expect(
        await teamPage
          .getByRole('navigation', { name: 'Main' })
          .getByRole('link', { name: 'Lifecycle' })
          .count(),
      ).toBe(0);
      await teamPage.goto('/lifecycle');
      expect(await teamPage.locator('main').getByRole('alert').textContent()).toContain(
        'a token limited to teams cannot read them',
      );
      await teamPage.close();

      // A failed run's error is one line of text, whatever it holds (no markup is interpreted).
      const [latest] = await runs();
      const hostile = '<img src=x onerror="document.title=1">';
      await page.route(`**/api/v1/lifecycle/runs/${latest?.id}`, async (route) => {
        const body = (await (await route.fetch()).json()) as Run;
        await route.fulfill({
          status: 200,
          contentType: 'application/json',
          body: JSON.stringify({
            ...body,
            state: 'failed',
            error: { code: 'REGISTRY_DELETE_REFUSED', message: `refused ${hostile}\nsecond line` },
          }),
        });
      });
      await page.goto(`/lifecycle/runs/${latest?.id}`);
      const alert = page.locator('main').getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toBe(`REGISTRY_DELETE_REFUSED: refused ${hostile}`);
      expect(await page.locator('main img').count()).toBe(0);
      expect(await page.title()).toBe('Lifecycle run · Gantry');
      await expectClean(ctx, page);
    } finally {
      await ctx.close();
    }
  });

  it('polls while a run is under way (list and run), stops when the page is left, and caps a long report', async () => {
    const ctx = await dashboardContext(world.browser, world.server.url, VIEWPORTS.desktop);
    try {
      const page = await ctx.newPage();
      await signIn(page, world.tokens.victor);
      const [latest] = await runs();
      // The list says the newest run is still running: the page reads it again every few seconds.
      let listReads = 0;
      await page.route('**/api/v1/lifecycle/runs?*', async (route) => {
        listReads++;
        const body = (await (await route.fetch()).json()) as { runs: Run[] };
        const [first, ...rest] = body.runs;
        await route.fulfill({
          status: 200,
          contentType: 'application/json',
          body: JSON.stringify({ runs: [{ ...first, state: 'running', finishedAt: null }, ...rest] }),
        });
      });
      await page.goto('/lifecycle');
      await expect.poll(() => listReads, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
      await page.getByRole('link', { name: 'Ledger' }).click();
      await page.getByRole('heading', { name: 'Ledger', level: 1 }).waitFor();
      const left = listReads;
      await page.waitForTimeout(2 * POLL_MS + 500);
      expect(listReads).toBe(left);
      await page.unroute('**/api/v1/lifecycle/runs?*');

      // A run's page read while the run is queued follows it to its end without a reload.
      let runReads = 0;
      await page.route(`**/api/v1/lifecycle/runs/${latest?.id}`, async (route) => {
        if (runReads++ > 0) return route.continue();
        const body = (await (await route.fetch()).json()) as Run;
        await route.fulfill({
          status: 200,
          contentType: 'application/json',
          body: JSON.stringify({
            ...body,
            state: 'queued',
            startedAt: null,
            finishedAt: null,
            totals: null,
            report: null,
          }),
        });
      });
      await page.goto(`/lifecycle/runs/${latest?.id}`);
      const state = page.locator('main .state-line');
      await expect.poll(() => state.textContent()).toContain('queued');
      expect(await page.getByText('Not finished yet.').count()).toBeGreaterThan(0);
      await expect.poll(() => state.textContent(), { timeout: 10_000 }).toContain('succeeded');
      expect(runReads).toBe(2);
      await page.unroute(`**/api/v1/lifecycle/runs/${latest?.id}`);

      // A report of 600 items shows the first 500, and the rest on request.
      await page.route(`**/api/v1/lifecycle/runs/${latest?.id}`, async (route) => {
        const body = (await (await route.fetch()).json()) as Run & { report: NonNullable<Run['report']> };
        const item = {
          action: 'delete',
          repository: 'r.example/app',
          digest: `sha256:${'0'.repeat(64)}`,
          done: false,
        };
        await route.fulfill({
          status: 200,
          contentType: 'application/json',
          body: JSON.stringify({ ...body, report: { ...body.report, items: Array(600).fill(item) } }),
        });
      });
      await page.goto(`/lifecycle/runs/${latest?.id}`);
      const items = page.getByRole('region', { name: 'Items of this run' }).locator('tbody tr');
      await expect.poll(() => items.count()).toBe(ITEM_CAP);
      expect(await page.getByRole('heading', { name: 'Items (600)' }).count()).toBe(1);
      expect(await page.getByText(`Showing the first ${ITEM_CAP} of 600 items.`).count()).toBe(1);
      await page.getByRole('button', { name: 'Show all 600' }).click();
      await expect.poll(() => items.count()).toBe(600);
      // (axe already judged this page with a short report; 600 rows would only slow it down.)
      expect(ctx.external).toEqual([]);
      expect(ctx.pageErrors).toEqual([]);
    } finally {
      await ctx.close();
    }
  });
});
