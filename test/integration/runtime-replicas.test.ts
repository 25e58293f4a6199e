/**
 * The runtime's guarantees across processes and replicas, against real registries (prod behind a
 * proxy that can hold blob uploads) and a real PostgreSQL:
 * - two runtimes on one database racing many promotions run every step exactly once, and no more
 *   than `registryConcurrency` promotions upload into the registry at once across both;
 * - a lost lease aborts the running step's signal, and the stale worker writes nothing;
 * - a runtime killed with SIGKILL mid-copy is replaced by a new process that resumes the job and
 *   completes it exactly once (on PostgreSQL, and on PGlite in the same data dir).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import type { Manifest } from '../../src/core/index.js';
import type { PromotionStreamEvent, PromotionView } from '../../src/jobs/index.js';
import { PROMOTION_ARTIFACT_TYPE } from '../../src/promotion/attestation.js';
import { Ledger, openStore, Promotions, type Store } from '../../src/store/index.js';
import { makeImage, pushImage, startFaultProxy, type FaultProxy } from '../helpers/index.js';
import { startPromotionFixture, type PromotionFixture } from './promotion-fixture.js';
import { CI, holdingApp, loadApp, runtimeOf, waitForState } from './runtime-harness.js';
import { pgliteBackend, postgresBackend } from './store-backends.js';

const APPS = Array.from({ length: 10 }, (_, i) => `a${i}`);
const ENVIRONMENTS = `environments:
  dev: { registry: dev, prefix: team }
  prod: { registry: prod, prefix: team, from: [dev], tags: { floating: [latest] } }
applications: [web, ${APPS.join(', ')}]
`;

let fixture: PromotionFixture;
let proxy: FaultProxy;
let config = '';
/** Repositories with a blob upload in flight through the proxy, and the most seen at once. */
const inflight = new Map<string, number>();
let most = 0;
/** While set, blob uploads into prod wait for it. */
let hold: Promise<void> | undefined;
/** Called with the repository of each blob upload. */
let onUpload: (repo: string) => void = () => undefined;
let seed = 0;

const push = async (name: string, version: string): Promise<string> =>
  pushImage(fixture.dev, `team/${name}`, makeImage({ seed: `replicas-${name}-${(seed += 1)}` }), version);

async function ledgerTypes(store: Store, subject: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of new Ledger(store.db).entries({ subject })) out.push(e.type);
  return out;
}

async function records(app: App, repository: string, digest: string) {
  return app.registry.referrers(
    { registry: proxy.host, repository },
    digest as Manifest['digest'],
    PROMOTION_ARTIFACT_TYPE,
  );
}

beforeAll(async () => {
  fixture = await startPromotionFixture('runtime-replicas');
  proxy = await startFaultProxy({
    target: fixture.prod.url,
    fault: async (req): Promise<'pass'> => {
      const repo = /^\/v2\/(.+)\/blobs\/uploads/.exec(req.url)?.[1];
      if (repo === undefined) return 'pass';
      onUpload(repo);
      inflight.set(repo, (inflight.get(repo) ?? 0) + 1);
      most = Math.max(most, inflight.size);
      try {
        await (hold ?? new Promise((r) => setTimeout(r, 60)));
      } finally {
        const left = (inflight.get(repo) ?? 1) - 1;
        if (left === 0) inflight.delete(repo);
        else inflight.set(repo, left);
      }
      return 'pass';
    },
  });
  config = await fixture.config(ENVIRONMENTS, { hosts: { dev: fixture.dev.host, prod: proxy.host } });
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await fixture?.stop();
}, 60_000);

describe('replicas on PostgreSQL', () => {
  const backend = postgresBackend();
  let store: Store;
  let second: Store;
  let app: App;
  let app2: App;

  beforeAll(async () => {
    store = await backend.start();
    second = await backend.second();
    app = await loadApp(config, () => store);
    app2 = await loadApp(config, () => second);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([app?.close(), app2?.close()]);
    await store?.close();
    await backend.stop();
  }, 60_000);

  it('two runtimes racing many promotions run every step exactly once, at most N uploading into one registry', async () => {
    const slots = 2;
    const options = { workers: 4, leaseMs: 2_000, registryConcurrency: slots };
    const r1 = runtimeOf(store, app, options);
    const r2 = runtimeOf(second, app2, options);
    most = 0;
    try {
      const digests = await Promise.all(APPS.map((a) => push(a, '1.0.0')));
      const ids: string[] = [];
      for (const [i, a] of APPS.entries())
        ids.push((await (i % 2 ? r1 : r2).promote({ app: a, version: '1.0.0', to: 'prod' }, CI)).id);
      // A third replica that runs nothing sees a promotion end through its watch poll.
      const watcher = runtimeOf(second, app2, { watchPollMs: 100 });
      const watched: PromotionStreamEvent[] = [];
      const unwatch = watcher.watch(ids[1]!, (e) => watched.push(e));
      r1.start();
      r2.start();
      for (const id of ids)
        expect((await waitForState((x) => r1.get(x), id, ['completed', 'failed'], 60_000)).state).toBe(
          'completed',
        );
      for (const [i, id] of ids.entries()) {
        const types = await ledgerTypes(store, id);
        expect(types).toEqual([
          'promotion.requested',
          'promotion.gated',
          'promotion.approved',
          'promotion.copying',
          'promotion.completed',
        ]);
        expect(await records(app, `team/${APPS[i]}`, digests[i]!)).toHaveLength(1);
      }
      expect(await new Ledger(store.db).verify()).toMatchObject({ ok: true });
      const end = Date.now() + 5_000;
      while (!watched.some((e) => e.type === 'end') && Date.now() < end)
        await new Promise((r) => setTimeout(r, 50));
      unwatch();
      expect(watched[0]).toMatchObject({ type: 'state', id: ids[1] });
      expect(watched.at(-1)).toMatchObject({ type: 'end', promotion: { id: ids[1], state: 'completed' } });
      // Uploads went through the proxy, never for more than `slots` promotions at once.
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(slots);
    } finally {
      await Promise.all([r1.stop(), r2.stop()]);
    }
  }, 120_000);

  it('a lost lease aborts the step signal; the stale worker writes nothing, the next claim completes', async () => {
    const holding = holdingApp(app, 'copying');
    const { signals } = holding;
    const release = (): void => holding.release();
    const runtime = runtimeOf(store, holding.app, { workers: 1, leaseMs: 900 });
    try {
      await push('web', '4.0.0');
      const { id } = await runtime.promote({ app: 'web', version: '4.0.0', to: 'prod' }, CI);
      runtime.start();
      const until = Date.now() + 20_000;
      while (signals.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(signals).toHaveLength(1);
      expect(signals[0]!.aborted).toBe(false);
      // Another worker claims the job (its fence goes up): the next heartbeat is refused.
      await sql`update jobs set fence = fence + 1, lease_owner = 'thief', lease_until = now() + interval '1 hour' where id = ${id}`.execute(
        store.db,
      );
      while (!signals[0]!.aborted && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(signals[0]!.aborted).toBe(true);
      release();
      await new Promise((r) => setTimeout(r, 1_500));
      // The stale worker's copy step finished, but it stored nothing under the old fence.
      const row = await new Promotions(store.db).get(id);
      expect(row?.state).toBe('copying');
      expect((row?.progress as { copies: unknown[] }).copies).toEqual([]);
      expect(await ledgerTypes(store, id)).toEqual([
        'promotion.requested',
        'promotion.gated',
        'promotion.approved',
        'promotion.copying',
      ]);
      // The thief dies: its lease runs out, and a claim resumes and completes the promotion once.
      await sql`update jobs set lease_until = now() - interval '1 second' where id = ${id}`.execute(store.db);
      expect((await waitForState((x) => runtime.get(x), id, ['completed', 'failed'])).state).toBe(
        'completed',
      );
      expect((await ledgerTypes(store, id)).filter((t) => t === 'promotion.completed')).toHaveLength(1);
    } finally {
      release();
      await runtime.stop();
    }
  }, 60_000);
});

/** A child runtime process and its JSON lines. */
function child(args: readonly string[]): {
  proc: ChildProcess;
  next: () => Promise<Record<string, unknown>>;
} {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'runtime-child.ts'), ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  return {
    proc,
    next: async () => {
      const r = await lines.next();
      if (r.done) throw new Error(`the child ended: ${stderr}`);
      return JSON.parse(r.value) as Record<string, unknown>;
    },
  };
}

const exited = (proc: ChildProcess): Promise<unknown> =>
  proc.exitCode !== null || proc.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => proc.once('exit', r));

describe.each([pgliteBackend(), postgresBackend()])('kill -9 mid-copy on $name', (backend) => {
  let where = '';

  beforeAll(async () => {
    const store = await backend.start();
    // The database the children share (PGlite: closed here so that they can lock its data dir).
    where = backend.url();
    await store.close();
  }, 180_000);

  afterAll(async () => {
    await backend.stop();
  }, 60_000);

  it('a new process resumes the job and completes it exactly once', async () => {
    expect(where).not.toBe('');
    const digest = await push('web', backend.name === 'pglite' ? '5.0.0' : '5.1.0');
    const version = backend.name === 'pglite' ? '5.0.0' : '5.1.0';
    let uploading: () => void = () => undefined;
    const copying = new Promise<void>((r) => (uploading = r));
    let resume: () => void = () => undefined;
    hold = new Promise<void>((r) => (resume = r));
    onUpload = (repo) => {
      if (repo === 'team/web') uploading();
    };
    const first = child([where, config, 'promote', 'web', version, 'prod']);
    let second: ReturnType<typeof child> | undefined;
    try {
      expect(await first.next()).toEqual({ ready: true });
      const { id } = (await first.next()) as { id: string };
      await copying;
      first.proc.kill('SIGKILL');
      await exited(first.proc);
      expect(first.proc.signalCode).toBe('SIGKILL');
      onUpload = () => undefined;
      hold = undefined;
      resume();
      second = child([where, config, 'wait', id]);
      expect(await second.next()).toEqual({ ready: true });
      const { view, ledger } = (await second.next()) as { view: PromotionView; ledger: string[] };
      expect(view.state).toBe('completed');
      expect(ledger).toEqual([
        'promotion.requested',
        'promotion.gated',
        'promotion.approved',
        'promotion.copying',
        'promotion.completed',
      ]);
      await exited(second.proc);
      expect(second.proc.exitCode).toBe(0);
      const store = await openStore(
        backend.name === 'postgres' ? { databaseUrl: where } : { dataDir: where },
      );
      try {
        const app = await loadApp(config, () => store);
        expect(await records(app, 'team/web', digest)).toHaveLength(1);
        expect(await app.registry.resolve({ registry: proxy.host, repository: 'team/web' }, version)).toBe(
          digest,
        );
        await app.close();
        const job = await store.db
          .selectFrom('jobs')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirstOrThrow();
        // Claimed twice (the killed process, then its successor): the fence went up.
        expect(job).toMatchObject({ state: 'succeeded', fence: 2 });
        expect(await new Ledger(store.db).verify()).toMatchObject({ ok: true });
      } finally {
        await store.close();
      }
    } finally {
      resume();
      hold = undefined;
      first.proc.kill('SIGKILL');
      second?.proc.kill('SIGKILL');
    }
  }, 120_000);
});
