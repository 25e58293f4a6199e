/**
 * The runtime inside `runServer` (PGlite, real registries): the server's app counts approvals
 * given through the desk (the store's approval source reaches `createApp`), a cancel while a
 * promotion copies aborts the step's signal and cancels it, and a graceful stop aborts a step that
 * outlives the grace period and releases its job for the next start without counting an attempt.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/index.js';
import { runServer, type AppDeps, type RunningServer } from '../../src/server/index.js';
import { Ledger, openStore, type Store } from '../../src/store/index.js';
import { makeImage, pushImage } from '../helpers/index.js';
import { startPromotionFixture, writeKeyPair, type PromotionFixture } from './promotion-fixture.js';
import { ALICE, CI, holdingApp, loadApp, runtimeOf, waitForState } from './runtime-harness.js';
import { readFile } from 'node:fs/promises';

let fixture: PromotionFixture;
let config = '';
let root = '';
let seed = 0;
const push = (name: string, version: string): Promise<string> =>
  pushImage(fixture.dev, `team/${name}`, makeImage({ seed: `server-${name}-${(seed += 1)}` }), version);

beforeAll(async () => {
  fixture = await startPromotionFixture('runtime-server');
  const bob = await writeKeyPair(fixture.dir, 'bob', 'ec');
  config = await fixture.config(`approvers:
  bob: { key: ${bob.pub}, groups: [ops] }
environments:
  dev: { registry: dev, prefix: team }
  prod: { registry: prod, prefix: team, from: [dev], tags: { floating: [latest] } }
  secure:
    registry: prod
    prefix: secure
    from: [dev]
    gates:
      - approval: { count: 1 }
applications: [web]
`);
  root = await mkdtemp(join(tmpdir(), 'gantry-runtime-server-'));
}, 120_000);

afterAll(async () => {
  await fixture?.stop();
  if (root !== '') await rm(root, { recursive: true, force: true });
}, 60_000);

describe('the runtime in runServer', () => {
  let running: RunningServer;
  let deps: AppDeps | undefined;

  beforeAll(async () => {
    running = await runServer({
      store: { dataDir: join(root, 'data') },
      loadApp: async (given) => {
        deps = given;
        const { config: parsed } = parseConfig(config, await readFile(config, 'utf8'));
        return {
          app: createApp({
            config: parsed!,
            env: {},
            authFile: join(root, 'auth.json'),
            approvals: deps.approvals,
          }),
          file: config,
          sha256: '0'.repeat(64),
        };
      },
      host: '127.0.0.1',
      port: 0,
      logger: pino({ level: 'silent' }),
      version: 'test',
      runtime: { idleMs: 50, watchPollMs: 100 },
    });
  }, 120_000);

  afterAll(async () => {
    await running?.close();
  }, 60_000);

  it('runs promotions, and its app counts approvals given through the desk', async () => {
    const digest = await push('web', '1.0.0');
    const { id } = await running.runtime.promote({ app: 'web', version: '1.0.0', to: 'secure' }, CI);
    await waitForState((x) => running.runtime.get(x), id, ['awaiting-approval']);
    await running.runtime.approve(id, ALICE);
    const done = await waitForState((x) => running.runtime.get(x), id, ['completed', 'failed'], 20_000);
    expect(done).toMatchObject({ state: 'completed', applications: [{ digest, status: 'completed' }] });
    expect(done.applications[0]?.gates).toEqual([
      expect.objectContaining({ gate: 'approval', status: 'pass' }),
    ]);
  });

  it('gives the app a lock held across replicas (deps.withLease)', async () => {
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 3 }, () =>
        deps!.withLease('referrers:prod/team/web', 5_000, async (signal) => {
          expect(signal.aborted).toBe(false);
          inside += 1;
          most = Math.max(most, inside);
          await new Promise((r) => setTimeout(r, 50));
          inside -= 1;
        }),
      ),
    );
    expect(most).toBe(1);
  });
});

describe('stopping a running step', () => {
  let store: Store;
  let app: App;

  beforeAll(async () => {
    store = await openStore({ dataDir: join(root, 'stop') });
    app = await loadApp(config, () => store);
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await store?.close();
  }, 60_000);

  it('a cancel while copying aborts the step and cancels the promotion', async () => {
    await push('web', '2.0.0');
    const holding = holdingApp(app, 'copying');
    const runtime = runtimeOf(store, holding.app, { workers: 1 });
    runtime.start();
    try {
      const { id } = await runtime.promote({ app: 'web', version: '2.0.0', to: 'prod' }, CI);
      const signal = await holding.held();
      const asked = await runtime.cancel(id, CI, 'stop it');
      expect(asked).toMatchObject({ state: 'copying', cancelRequested: true });
      expect(signal.aborted).toBe(true);
      holding.release();
      const done = await waitForState((x) => runtime.get(x), id, ['cancelled', 'completed', 'failed']);
      expect(done).toMatchObject({ state: 'cancelled', reason: 'stop it' });
      expect(done.cancelRequested).toBeUndefined();
      const types: string[] = [];
      for await (const e of new Ledger(store.db).entries({ subject: id })) types.push(e.type);
      expect(types.slice(-2)).toEqual(['promotion.copying', 'promotion.cancelled']);
      expect(
        await app.registry.resolve({ registry: fixture.prod.host, repository: 'team/web' }, '2.0.0'),
      ).toBeUndefined();
    } finally {
      holding.release();
      await runtime.stop();
    }
  });

  it('a graceful stop aborts a step that outlives the grace period and releases its job', async () => {
    await push('web', '3.0.0');
    const holding = holdingApp(app, 'copying');
    const runtime = runtimeOf(store, holding.app, { workers: 1, graceMs: 300 });
    runtime.start();
    let id = '';
    try {
      id = (await runtime.promote({ app: 'web', version: '3.0.0', to: 'prod' }, CI)).id;
      const signal = await holding.held();
      const stopped = runtime.stop();
      // The held step ignores its signal until released, as a copy in flight might for a moment.
      await new Promise((r) => setTimeout(r, 600));
      expect(signal.aborted).toBe(true);
      holding.release();
      await stopped;
    } finally {
      holding.release();
    }
    const job = await store.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(job).toMatchObject({ state: 'queued', attempts: 0, lease_owner: null });
    expect((await runtime.get(id))?.state).toBe('copying');
    // The next start resumes it.
    const next = runtimeOf(store, app, { workers: 1 });
    next.start();
    try {
      expect((await waitForState((x) => next.get(x), id, ['completed', 'failed'])).state).toBe('completed');
    } finally {
      await next.stop();
    }
  });
});
