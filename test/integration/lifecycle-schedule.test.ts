/**
 * Lifecycle schedules of `gantry serve` (issue 14) on both databases, with fake gc and sync
 * runners and a fake clock: the store keeps one run per scheduled slot; the scheduler creates the
 * due slot once (also after a restart), the worker runs it with the deployed digests kept,
 * records every item and the outcome in the ledger (and so in webhook deliveries), and a failing
 * runner ends the run `failed`. On PostgreSQL, two replicas (two connection pools, two servers,
 * two schedulers) tick and work at once: the slot runs exactly once, its outcome is served by
 * either replica, an API run is taken by the other replica's worker, and a run whose worker died
 * is claimed again once its lease runs out.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LifecycleItem, LifecycleReport } from '../../src/app-lifecycle.js';
import { createApp, type App } from '../../src/app.js';
import type { WebhookConfig } from '../../src/config/index.js';
import {
  LIFECYCLE_JOB,
  LifecycleScheduler,
  requestLifecycleRun,
  webhookOutbox,
  type LifecycleRunners,
} from '../../src/jobs/index.js';
import { buildServer, runServer, type GantryServer, type RunningServer } from '../../src/server/index.js';
import { waitUntil } from '../helpers/gantry-server.js';
import { parseTestConfig } from '../helpers/in-process.js';
import {
  Deployments,
  JobQueue,
  Ledger,
  LifecycleRuns,
  type LedgerEntry,
  type Store,
} from '../../src/store/index.js';
import { pgliteBackend, postgresBackend, type StoreBackend } from './store-backends.js';

const BOOTSTRAP = `gty_${'b'.repeat(64)}`;
const DEPLOYED = `sha256:${'d'.repeat(64)}`;
const digest = (c: string): string => `sha256:${c.repeat(64)}`;

const CONFIG = `registries:
  r: { url: "http://127.0.0.1:1" }
  m: { url: "http://127.0.0.1:2" }
environments:
  dev:
    registry: r
    prefix: dev
    retention: { keep: 5, olderThan: 7d, schedule: "* * * * *" }
  prod: { registry: r, prefix: prod, from: [dev] }
applications: [web]
teams:
  platform: [web]
sync:
  base:
    from: { registry: r, repositories: [base/*] }
    to: [{ registry: m }]
    schedule: "*/5 * * * *"
`;

/** Fake runners: each call is recorded; `mode` decides how the next runs end. */
class FakeRunners implements LifecycleRunners {
  mode: 'ok' | 'throw' | 'report-error' = 'ok';
  /** Runs wait for this before their items. */
  gate: Promise<void> | undefined;
  readonly calls: { kind: 'gc' | 'sync'; name: string; dryRun: boolean; keep?: string[] }[] = [];

  gc: LifecycleRunners['gc'] = async (_app, env, options) => {
    this.calls.push({
      kind: 'gc',
      name: env,
      dryRun: options.dryRun,
      keep: [...(options.keepDigests ?? [])],
    });
    return this.#run('gc', env, options.dryRun, options.onItem, options.signal, [
      {
        action: 'delete',
        repository: 'r/dev/web',
        digest: digest('1'),
        tags: ['0.1.0'],
        reason: 'old',
        done: true,
      },
      { action: 'delete', repository: 'r/dev/web', digest: digest('2'), done: true },
    ]);
  };

  sync: LifecycleRunners['sync'] = async (_app, name, options) => {
    this.calls.push({ kind: 'sync', name, dryRun: options.dryRun });
    return this.#run('sync', name, options.dryRun, options.onItem, options.signal, [
      { action: 'copy', repository: 'm/base/alpine', digest: digest('3'), bytes: 10, done: true },
      { action: 'tag', repository: 'm/base/alpine', digest: digest('3'), tags: ['3.20'], done: true },
    ]);
  };

  async #run(
    kind: 'gc' | 'sync',
    name: string,
    dryRun: boolean,
    onItem: ((item: LifecycleItem) => void | Promise<void>) | undefined,
    signal: AbortSignal | undefined,
    items: LifecycleItem[],
  ): Promise<LifecycleReport> {
    const gate = this.gate;
    if (gate)
      await new Promise<void>((resolve, reject) => {
        void gate.then(resolve);
        signal?.addEventListener('abort', () => reject(new Error('aborted')));
      });
    if (this.mode === 'throw') throw new Error('the registry went away');
    const done = dryRun ? items.map((i) => ({ ...i, done: false })) : items;
    if (!dryRun) for (const item of done) await onItem?.(item);
    return {
      kind,
      name,
      dryRun,
      startedAt: '2026-06-01T12:01:05.000Z',
      finishedAt: '2026-06-01T12:01:06.000Z',
      items: done,
      kept: { promoted: 3 },
      totals: kind === 'gc' ? { deleted: 2, bytes: 0 } : { copied: 1, bytes: 10 },
      ...(this.mode === 'report-error' && {
        error: { code: 'REGISTRY_UNSUPPORTED', message: 'the registry refuses deletes' },
      }),
    };
  }
}

const hookEndpoints: WebhookConfig[] = [
  {
    name: 'chat',
    url: 'http://127.0.0.1:9/hook',
    events: ['gc.*', 'sync.completed', 'failures'],
    secretEnv: 'X',
    timeoutMs: 1000,
    attempts: 1,
    backoffMs: 10,
    maxBackoffMs: 10,
  },
];

async function ledgerEntries(ledger: Ledger, typePrefix?: string): Promise<LedgerEntry[]> {
  const out: LedgerEntry[] = [];
  for await (const e of ledger.entries(typePrefix === undefined ? {} : { typePrefix })) out.push(e);
  return out;
}

const backends: StoreBackend[] = [pgliteBackend(), postgresBackend()];

describe.each(backends)('lifecycle runs on $name', (backend) => {
  let store: Store;
  let app: App;
  let ledger: Ledger;
  let runs: LifecycleRuns;
  const runners = new FakeRunners();
  let clock = Date.parse('2026-06-01T12:00:30.000Z');
  const now = (): Date => new Date(clock);
  const scheduler = (): LifecycleScheduler =>
    new LifecycleScheduler({ store, ledger, app: () => app, runners, now });

  beforeAll(async () => {
    store = await backend.start();
    app = createApp({
      config: parseTestConfig(CONFIG),
      env: {},
      authFile: '/nonexistent/auth.json',
      actor: 'test',
    });
    ledger = new Ledger(store.db);
    ledger.onAppend(webhookOutbox({ endpoints: () => hookEndpoints }));
    runs = new LifecycleRuns(store.db);
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await store?.close();
    await backend.stop();
  });

  it('stores one run per scheduled slot; API runs never collide', async () => {
    const slot = new Date('2026-01-01T03:00:00.000Z');
    const create = (trigger: 'schedule' | 'api', name = 'x') =>
      store.db.transaction().execute((trx) =>
        runs.create(trx, {
          kind: 'gc',
          name,
          trigger,
          ...(trigger === 'schedule' && { scheduledFor: slot }),
          requestedBy: 'test',
          jobId: 'j',
        }),
      );
    const first = await create('schedule');
    expect(first).toMatchObject({
      kind: 'gc',
      name: 'x',
      state: 'queued',
      trigger: 'schedule',
      dry_run: false,
    });
    expect(first?.id).toMatch(/^run_[0-9a-f]{32}$/);
    expect(await create('schedule')).toBeUndefined();
    expect(await create('schedule', 'y')).toBeDefined();
    expect(await create('api')).toBeDefined();
    expect(await create('api')).toBeDefined();
    expect((await runs.list({ kind: 'gc', name: 'x' })).map((r) => r.trigger)).toEqual([
      'api',
      'api',
      'schedule',
    ]);
    expect((await runs.list({ limit: 1 })).length).toBe(1);
    expect((await runs.lastSlot('gc', 'x'))?.toISOString()).toBe(slot.toISOString());
    expect(await runs.lastSlot('sync', 'x')).toBeUndefined();
    await runs.finished(store.db, first?.id ?? '', {
      state: 'failed',
      finishedAt: new Date('2026-01-01T03:00:05.000Z'),
      error: { code: 'INTERNAL', message: 'm' },
    });
    expect(await runs.get(first?.id ?? '')).toMatchObject({ state: 'failed', error: { code: 'INTERNAL' } });
    const latest = await runs.latest();
    expect(latest.map((r) => `${r.kind}/${r.name}/${r.trigger}`).sort()).toEqual([
      'gc/x/api',
      'gc/y/schedule',
    ]);
    await store.db.deleteFrom('lifecycle_runs').execute();
  });

  it('creates the due slot once, runs it keeping deployed digests, and records items and outcome', async () => {
    await new Deployments(store.db, ledger).report(
      { environment: 'prod', app: 'web', target: 'eu', digest: DEPLOYED },
      { actor: 'deployer', time: now() },
    );
    const s = scheduler();
    // First look at 12:00:30: the 12:00 slot is from before the schedule was seen.
    expect(await s.tick()).toEqual([]);
    clock = Date.parse('2026-06-01T12:01:05.000Z');
    const created = await s.tick();
    expect(created.map((r) => [r.kind, r.name, r.scheduled_for?.toISOString()])).toEqual([
      ['gc', 'dev', '2026-06-01T12:01:00.000Z'],
    ]);
    expect(await s.tick()).toEqual([]);
    expect(await s.work()).toBe(true);
    expect(await s.work()).toBe(false);
    expect(runners.calls).toEqual([{ kind: 'gc', name: 'dev', dryRun: false, keep: [DEPLOYED] }]);
    const run = await runs.get(created[0]?.id ?? '');
    expect(run).toMatchObject({
      state: 'succeeded',
      error: null,
      report: { kind: 'gc', totals: { deleted: 2 }, kept: { promoted: 3 } },
    });
    expect(run?.started_at?.toISOString()).toBe('2026-06-01T12:01:05.000Z');
    const gc = await ledgerEntries(ledger, 'gc.');
    expect(gc.map((e) => [e.type, e.subject, e.actor])).toEqual([
      ['gc.deleted', `r/dev/web@${digest('1')}`, 'gantry schedule'],
      ['gc.deleted', `r/dev/web@${digest('2')}`, 'gantry schedule'],
      ['gc.completed', 'gc/dev', 'gantry schedule'],
    ]);
    expect(gc[0]?.payload).toMatchObject({
      run: run?.id,
      environment: 'dev',
      tags: ['0.1.0'],
      reason: 'old',
    });
    expect(gc[2]?.payload).toMatchObject({
      run: run?.id,
      trigger: 'schedule',
      scheduledFor: '2026-06-01T12:01:00.000Z',
      totals: { deleted: 2, bytes: 0 },
    });
    // The outbox turned the outcome (not the items) into a webhook delivery with its facts.
    const deliveries = await store.db.selectFrom('webhook_deliveries').selectAll().execute();
    expect(deliveries.map((d) => d.event)).toEqual(['gc.completed']);
    expect(deliveries[0]?.body).toMatchObject({
      type: 'gc.completed',
      data: { subject: 'gc/dev', actor: 'gantry schedule', run: run?.id, totals: { deleted: 2 } },
    });
    const job = await new JobQueue(store.db).get(run?.job_id ?? '');
    expect(job).toMatchObject({ kind: LIFECYCLE_JOB, state: 'succeeded' });
  });

  it('runs nothing twice after a restart, and at most one missed slot after downtime', async () => {
    clock = Date.parse('2026-06-01T12:01:50.000Z');
    expect(await scheduler().tick()).toEqual([]);
    // Down for an hour: one run for the latest slot, not sixty.
    clock = Date.parse('2026-06-01T13:01:20.000Z');
    const restarted = scheduler();
    const created = await restarted.tick();
    expect(created.map((r) => `${r.kind}/${r.name}@${r.scheduled_for?.toISOString()}`)).toEqual([
      'gc/dev@2026-06-01T13:01:00.000Z',
    ]);
    expect(await restarted.tick()).toEqual([]);
    expect(await restarted.work()).toBe(true);
    expect(await restarted.work()).toBe(false);
    // The sync job was first seen by this replica now: its 13:00 slot is not run.
    expect(await runs.lastSlot('sync', 'base')).toBeUndefined();
    clock = Date.parse('2026-06-01T13:05:00.000Z');
    const both = await restarted.tick();
    expect(both.map((r) => `${r.kind}/${r.name}`)).toEqual(['gc/dev', 'sync/base']);
    while (await restarted.work());
    const sync = await ledgerEntries(ledger, 'sync.');
    expect(sync.map((e) => [e.type, e.subject])).toEqual([
      ['sync.copied', `m/base/alpine@${digest('3')}`],
      ['sync.tagged', `m/base/alpine@${digest('3')}`],
      ['sync.completed', 'sync/base'],
    ]);
  });

  it('ends a run failed when the runner throws or reports an error: gc.failed, a failures webhook', async () => {
    const s = scheduler();
    runners.mode = 'throw';
    const thrown = await requestLifecycleRun(store.db, {
      kind: 'gc',
      name: 'dev',
      trigger: 'api',
      requestedBy: 'alice (tok_1)',
    });
    expect(await s.work()).toBe(true);
    expect(await runs.get(thrown?.id ?? '')).toMatchObject({
      state: 'failed',
      report: null,
      error: { code: 'INTERNAL', message: 'the registry went away' },
    });
    runners.mode = 'report-error';
    const reported = await requestLifecycleRun(store.db, {
      kind: 'gc',
      name: 'dev',
      trigger: 'api',
      requestedBy: 'alice (tok_1)',
    });
    expect(await s.work()).toBe(true);
    expect(await runs.get(reported?.id ?? '')).toMatchObject({
      state: 'failed',
      report: { totals: { deleted: 2 } },
      error: { code: 'REGISTRY_UNSUPPORTED', message: 'the registry refuses deletes' },
    });
    runners.mode = 'ok';
    const failed = (await ledgerEntries(ledger, 'gc.failed')).map((e) => [
      e.actor,
      e.payload.run,
      e.payload.error,
    ]);
    expect(failed).toEqual([
      ['alice (tok_1)', thrown?.id, { code: 'INTERNAL', message: 'the registry went away' }],
      [
        'alice (tok_1)',
        reported?.id,
        { code: 'REGISTRY_UNSUPPORTED', message: 'the registry refuses deletes' },
      ],
    ]);
    const events = await store.db
      .selectFrom('webhook_deliveries')
      .select('event')
      .where('event', '=', 'gc.failed')
      .execute();
    expect(events.length).toBe(2);
  });

  it('runs a dry run without writing to the ledger, and fails a run of an unknown environment', async () => {
    const s = scheduler();
    const before = (await ledger.head()).seq;
    const dry = await requestLifecycleRun(store.db, {
      kind: 'sync',
      name: 'base',
      trigger: 'api',
      dryRun: true,
      requestedBy: 'alice (tok_1)',
    });
    expect(await s.work()).toBe(true);
    expect(runners.calls.at(-1)).toEqual({ kind: 'sync', name: 'base', dryRun: true });
    expect(await runs.get(dry?.id ?? '')).toMatchObject({
      state: 'succeeded',
      dry_run: true,
      report: { dryRun: true },
    });
    expect((await ledger.head()).seq).toBe(before);
    const calls = runners.calls.length;
    const gone = await requestLifecycleRun(store.db, {
      kind: 'gc',
      name: 'moon',
      trigger: 'api',
      requestedBy: 'alice (tok_1)',
    });
    expect(await s.work()).toBe(true);
    expect(runners.calls.length).toBe(calls);
    expect(await runs.get(gone?.id ?? '')).toMatchObject({
      state: 'failed',
      error: { code: 'CONFIG_INVALID', message: 'environment "moon" is not in the configuration' },
    });
  });
  it('does not queue a slot behind a run under way, and gives up on a run interrupted too often', async () => {
    const s = scheduler();
    clock = Date.parse('2026-06-01T13:06:10.000Z');
    await requestLifecycleRun(store.db, {
      kind: 'gc',
      name: 'dev',
      trigger: 'api',
      requestedBy: 'alice (tok_1)',
    });
    // The 13:06 slot is due, but gc of dev is queued: nothing piles up behind it.
    expect(await s.tick()).toEqual([]);
    expect(await s.work()).toBe(true);
    const created = await s.tick();
    expect(created.map((r) => r.scheduled_for?.toISOString())).toEqual(['2026-06-01T13:06:00.000Z']);
    expect(await s.work()).toBe(true);

    const calls = runners.calls.length;
    const doomed = await requestLifecycleRun(store.db, {
      kind: 'gc',
      name: 'dev',
      trigger: 'api',
      requestedBy: 'alice (tok_1)',
    });
    // Three claims already ended without an outcome (their workers died): the fourth gives up.
    await store.db
      .updateTable('jobs')
      .set({ attempts: 3 })
      .where('id', '=', doomed?.job_id ?? '')
      .execute();
    expect(await s.work()).toBe(true);
    expect(runners.calls.length).toBe(calls);
    expect(await runs.get(doomed?.id ?? '')).toMatchObject({
      state: 'failed',
      error: { code: 'OPERATION_ABORTED' },
    });
    expect((await ledgerEntries(ledger, 'gc.failed')).at(-1)?.payload.run).toBe(doomed?.id);
  });
  it('gives a run back when the server stops mid-run, for another replica to run', async () => {
    const stopping = new LifecycleScheduler({ store, ledger, app: () => app, runners, now, idleMs: 20 });
    let release = (): void => undefined;
    runners.gate = new Promise<void>((resolve) => (release = resolve));
    const run = await requestLifecycleRun(store.db, {
      kind: 'sync',
      name: 'base',
      trigger: 'api',
      requestedBy: 'alice (tok_1)',
    });
    stopping.start();
    for (let i = 0; i < 200 && (await runs.get(run?.id ?? ''))?.state !== 'running'; i += 1)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await runs.get(run?.id ?? ''))?.state).toBe('running');
    await stopping.stop();
    runners.gate = undefined;
    release();
    expect(await runs.get(run?.id ?? '')).toMatchObject({ state: 'queued' });
    expect(await new JobQueue(store.db).get(run?.job_id ?? '')).toMatchObject({
      state: 'queued',
      attempts: 0,
    });
    expect(await scheduler().work()).toBe(true);
    expect(await runs.get(run?.id ?? '')).toMatchObject({ state: 'succeeded' });
  });
});

describe('two replicas on one PostgreSQL', () => {
  const backend = postgresBackend();
  const runners = new FakeRunners();
  let clock = Date.parse('2026-06-01T12:00:30.000Z');
  const now = (): Date => new Date(clock);
  let app: App;
  const replicas: { store: Store; ledger: Ledger; scheduler: LifecycleScheduler; server: GantryServer }[] =
    [];

  beforeAll(async () => {
    app = createApp({
      config: parseTestConfig(CONFIG),
      env: {},
      authFile: '/nonexistent/auth.json',
      actor: 'test',
    });
    for (const store of [await backend.start(), await backend.second()]) {
      const ledger = new Ledger(store.db);
      ledger.onAppend(webhookOutbox({ endpoints: () => hookEndpoints }));
      const scheduler = new LifecycleScheduler({ store, ledger, app: () => app, runners, now });
      const server = await buildServer({
        store,
        app: () => app,
        ledger,
        now,
        version: 'test',
        lifecycleQueued: () => scheduler.kick(),
      });
      replicas.push({ store, ledger, scheduler, server });
    }
    await replicas[0]?.server.tokens.seedBootstrap(BOOTSTRAP, { actor: 'test', time: now() });
  }, 120_000);

  afterAll(async () => {
    for (const r of replicas) await r.server.http.close();
    await app?.close();
    await replicas[0]?.store.close();
    await backend.stop();
  });

  const replica = (i: number) => {
    const r = replicas[i];
    if (!r) throw new Error(`no replica ${i}`);
    return r;
  };

  async function call(i: number, method: 'GET' | 'POST', url: string, body?: Record<string, unknown>) {
    const res = await replica(i).server.http.inject({
      method,
      url,
      headers: { authorization: `Bearer ${BOOTSTRAP}` },
      ...(body !== undefined && { payload: body }),
    });
    return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
  }

  it('runs a scheduled slot exactly once and serves its outcome from either replica', async () => {
    const [a, b] = [replica(0), replica(1)];
    expect([...(await a.scheduler.tick()), ...(await b.scheduler.tick())]).toEqual([]);
    clock = Date.parse('2026-06-01T12:01:05.000Z');
    // Both replicas tick at once, twice each: one of them creates the slot.
    const created = (
      await Promise.all([a.scheduler.tick(), b.scheduler.tick(), a.scheduler.tick(), b.scheduler.tick()])
    ).flat();
    expect(created.length).toBe(1);
    expect(
      await a.store.db.selectFrom('lifecycle_runs').select('id').where('trigger', '=', 'schedule').execute(),
    ).toHaveLength(1);
    const worked = await Promise.all([a.scheduler.work(), b.scheduler.work()]);
    expect(worked.filter(Boolean)).toHaveLength(1);
    expect(runners.calls).toHaveLength(1);
    expect((await ledgerEntries(a.ledger, 'gc.completed')).length).toBe(1);
    expect((await ledgerEntries(a.ledger, 'gc.deleted')).length).toBe(2);

    const id = created[0]?.id ?? '';
    for (const i of [0, 1]) {
      const list = await call(i, 'GET', '/api/v1/lifecycle/runs?kind=gc&name=dev');
      expect(list.status).toBe(200);
      expect(list.body.runs).toEqual([
        expect.objectContaining({
          id,
          kind: 'gc',
          name: 'dev',
          trigger: 'schedule',
          scheduledFor: '2026-06-01T12:01:00.000Z',
          state: 'succeeded',
          requestedBy: 'gantry schedule',
          totals: { deleted: 2, bytes: 0 },
          error: null,
        }),
      ]);
      expect((list.body.runs as Record<string, unknown>[])[0]).not.toHaveProperty('report');
    }
    const one = await call(1, 'GET', `/api/v1/lifecycle/runs/${id}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id, report: { kind: 'gc', items: [{ digest: digest('1') }, {}] } });
    const schedules = await call(1, 'GET', '/api/v1/lifecycle/schedules');
    expect(schedules.body).toEqual({
      schedules: [
        expect.objectContaining({
          kind: 'gc',
          name: 'dev',
          schedule: '* * * * *',
          nextRunAt: '2026-06-01T12:02:00.000Z',
          lastRun: expect.objectContaining({ id, state: 'succeeded' }) as unknown,
        }),
        expect.objectContaining({
          kind: 'sync',
          name: 'base',
          schedule: '*/5 * * * *',
          nextRunAt: '2026-06-01T12:05:00.000Z',
          lastRun: null,
        }),
      ],
    });
    // Every job a run can be asked for, scheduled or not: prod has no schedule and is protected.
    const jobs = await call(1, 'GET', '/api/v1/lifecycle/jobs');
    expect(jobs.status).toBe(200);
    expect(jobs.body).toEqual({
      jobs: [
        expect.objectContaining({
          kind: 'gc',
          name: 'dev',
          schedule: '* * * * *',
          nextRunAt: '2026-06-01T12:02:00.000Z',
          protected: false,
          lastRun: expect.objectContaining({ id, state: 'succeeded' }) as unknown,
        }),
        { kind: 'gc', name: 'prod', schedule: null, nextRunAt: null, protected: true, lastRun: null },
        expect.objectContaining({ kind: 'sync', name: 'base', schedule: '*/5 * * * *', protected: false }),
      ],
    });
  });

  it('queues a run asked for through the API (202) that the other replica runs', async () => {
    const started = await call(0, 'POST', '/api/v1/lifecycle/runs', { kind: 'sync', name: 'base' });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({
      kind: 'sync',
      name: 'base',
      trigger: 'api',
      state: 'queued',
      dryRun: false,
    });
    expect(started.body.requestedBy).toMatch(/^bootstrap \(tok_/);
    expect(await replica(1).scheduler.work()).toBe(true);
    const done = await call(0, 'GET', `/api/v1/lifecycle/runs/${String(started.body.id)}`);
    expect(done.body).toMatchObject({
      state: 'succeeded',
      totals: { copied: 1, bytes: 10 },
      scheduledFor: null,
    });
    const completed = await ledgerEntries(replica(0).ledger, 'sync.completed');
    expect(completed.map((e) => e.actor)).toEqual([started.body.requestedBy]);
  });

  it('refuses bad input with 400 and unknown names with 404', async () => {
    for (const body of [
      { kind: 'rm', name: 'dev' },
      { kind: 'gc' },
      { kind: 'gc', name: 'dev', extra: 1 },
      {},
    ]) {
      const res = await call(0, 'POST', '/api/v1/lifecycle/runs', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'API_REQUEST_INVALID' } });
    }
    for (const url of [
      '/api/v1/lifecycle/runs?limit=0',
      '/api/v1/lifecycle/runs?kind=x',
      '/api/v1/lifecycle/runs/x',
    ]) {
      const res = await call(0, 'GET', url);
      expect(res.status, url).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'API_REQUEST_INVALID' } });
    }
    const gc = await call(0, 'POST', '/api/v1/lifecycle/runs', { kind: 'gc', name: 'moon' });
    expect(gc.status).toBe(404);
    expect(gc.body).toMatchObject({
      error: { code: 'API_NOT_FOUND', message: 'no environment "moon" in the configuration' },
    });
    const sync = await call(0, 'POST', '/api/v1/lifecycle/runs', { kind: 'sync', name: 'dev' });
    expect(sync.status).toBe(404);
    expect(sync.body).toMatchObject({ error: { code: 'API_NOT_FOUND' } });
    const none = await call(1, 'GET', `/api/v1/lifecycle/runs/run_${'0'.repeat(32)}`);
    expect(none.status).toBe(404);
    expect(none.body).toMatchObject({ error: { code: 'API_NOT_FOUND' } });
    // Runs name every team's repositories: a token limited to teams reads none of it.
    const team = await call(0, 'POST', '/api/v1/tokens', {
      name: 'team',
      roles: ['viewer'],
      teams: ['platform'],
    });
    expect(team.status).toBe(201);
    for (const url of [
      '/api/v1/lifecycle/runs',
      `/api/v1/lifecycle/runs/run_${'0'.repeat(32)}`,
      '/api/v1/lifecycle/schedules',
      '/api/v1/lifecycle/jobs',
    ]) {
      const res = await replica(1).server.http.inject({
        method: 'GET',
        url,
        headers: { authorization: `Bearer ${String(team.body.token)}` },
      });
      expect(res.statusCode, url).toBe(403);
      expect(res.json()).toMatchObject({ error: { code: 'API_FORBIDDEN' } });
    }
  });

  it('claims a run again once the lease of a worker that died runs out', async () => {
    const [a, b] = [replica(0), replica(1)];
    const started = await call(0, 'POST', '/api/v1/lifecycle/runs', { kind: 'gc', name: 'dev' });
    expect(started.status).toBe(202);
    // A worker claims the job with a short lease and dies before doing anything.
    const dead = await new JobQueue(a.store.db).claim('dead-replica', 300, { kinds: [LIFECYCLE_JOB] });
    expect(dead).toBeDefined();
    expect(await b.scheduler.work()).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await b.scheduler.work()).toBe(true);
    const done = await call(1, 'GET', `/api/v1/lifecycle/runs/${String(started.body.id)}`);
    expect(done.body).toMatchObject({ state: 'succeeded' });
    const job = await new JobQueue(b.store.db).get(dead?.id ?? '');
    expect(job).toMatchObject({ state: 'succeeded', attempts: 2 });
  });

  it('fences a worker whose lease ran out mid-run: it records nothing once another took over', async () => {
    const [a, b] = [replica(0), replica(1)];
    const started = await call(0, 'POST', '/api/v1/lifecycle/runs', { kind: 'gc', name: 'dev' });
    const id = String(started.body.id);
    let release = (): void => undefined;
    runners.gate = new Promise<void>((resolve) => (release = resolve));
    const first = a.scheduler.work();
    const runs = new LifecycleRuns(a.store.db);
    for (let i = 0; i < 100 && (await runs.get(id))?.state !== 'running'; i += 1)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const row = await runs.get(id);
    expect(row?.state).toBe('running');
    // A stalls past its lease; B claims the job and runs it to the end.
    await a.store.db
      .updateTable('jobs')
      .set({ lease_until: new Date(Date.now() - 60_000) })
      .where('id', '=', row?.job_id ?? '')
      .execute();
    runners.gate = undefined;
    expect(await b.scheduler.work()).toBe(true);
    release();
    expect(await first).toBe(true);
    const entries = (await ledgerEntries(a.ledger, 'gc.')).filter((e) => e.payload.run === id);
    expect(entries.map((e) => e.type)).toEqual(['gc.deleted', 'gc.deleted', 'gc.completed']);
    expect(await runs.get(id)).toMatchObject({ state: 'succeeded', error: null });
  });
});

describe('two gantry serve replicas (runServer) on one PostgreSQL, ticking on their own', () => {
  const backend = postgresBackend();
  const runners = new FakeRunners();
  let clock = Date.parse('2026-06-01T12:00:30.000Z');
  const servers: RunningServer[] = [];

  beforeAll(async () => {
    await (await backend.start()).close();
    for (let i = 0; i < 2; i += 1)
      servers.push(
        await runServer({
          store: { databaseUrl: backend.url() },
          loadApp: () =>
            Promise.resolve({
              app: createApp({
                config: parseTestConfig(CONFIG),
                env: {},
                authFile: '/nonexistent/auth.json',
              }),
              file: '/etc/gantry/gantry.yaml',
              sha256: '0'.repeat(64),
            }),
          host: '127.0.0.1',
          port: 0,
          logger: pino({ level: 'silent' }),
          version: 'test',
          now: () => new Date(clock),
          ...(i === 0 && { bootstrapToken: BOOTSTRAP }),
          lifecycleRunners: runners,
          lifecycleTickMs: 50,
          lifecycleIdleMs: 50,
        }),
      );
  }, 120_000);

  afterAll(async () => {
    for (const s of servers) await s.close();
    await backend.stop();
  });

  const until = <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> =>
    waitUntil(what, probe, { timeoutMs: 10_000, intervalMs: 50 });

  it('runs the slot once over HTTP-visible state, and runs an API run', async () => {
    const [a, b] = servers;
    if (!a || !b) throw new Error('two servers');
    const get = async (s: RunningServer, path: string) => {
      const res = await fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${BOOTSTRAP}` } });
      return (await res.json()) as Record<string, unknown>;
    };
    // Let both replicas see the schedules at 12:00:30, then the minute turns.
    await new Promise((resolve) => setTimeout(resolve, 300));
    clock = Date.parse('2026-06-01T12:01:05.000Z');
    const run = await until('the scheduled run to succeed', async () => {
      const { runs } = (await get(b, '/api/v1/lifecycle/runs?kind=gc')) as {
        runs: Record<string, unknown>[];
      };
      return runs.find((r) => r.state === 'succeeded');
    });
    expect(run).toMatchObject({ trigger: 'schedule', scheduledFor: '2026-06-01T12:01:00.000Z' });
    // Both replicas keep ticking (every 50 ms) within the same minute: nothing more is created.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { runs } = (await get(a, '/api/v1/lifecycle/runs')) as { runs: unknown[] };
    expect(runs).toHaveLength(1);
    expect(runners.calls).toHaveLength(1);
    const { entries } = (await get(a, '/api/v1/ledger?limit=1000')) as { entries: { type: string }[] };
    expect(entries.filter((e) => e.type === 'gc.completed')).toHaveLength(1);

    const res = await fetch(`${b.url}/api/v1/lifecycle/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BOOTSTRAP}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'sync', name: 'base', dryRun: true }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const done = await until('the API run to end', async () => {
      const one = await get(a, `/api/v1/lifecycle/runs/${id}`);
      return one.state === 'succeeded' || one.state === 'failed' ? one : undefined;
    });
    expect(done).toMatchObject({
      state: 'succeeded',
      dryRun: true,
      trigger: 'api',
      report: { dryRun: true },
    });
  });
});
