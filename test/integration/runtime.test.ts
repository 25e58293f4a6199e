/**
 * The durable promotion runtime against real registries, on PGlite and on real PostgreSQL:
 * promotions run through the runner to `completed` with a ledger entry per state change written
 * in the same transaction (a failing append leaves the state as it was), approvals given through
 * the desk wake a waiting promotion and reach the attestation, self-approval is refused,
 * rejections and cancellations, and the event stream. Replicas, lost leases and kill -9 are in
 * runtime-replicas.test.ts.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import type { Manifest } from '../../src/core/index.js';
import type { PromotionRuntime, PromotionStreamEvent, RuntimeObserver } from '../../src/jobs/index.js';
import { PROMOTION_ARTIFACT_TYPE } from '../../src/promotion/attestation.js';
import { Ledger, type Store } from '../../src/store/index.js';
import { makeImage, pushImage } from '../helpers/index.js';
import { startPromotionFixture, writeKeyPair, type PromotionFixture } from './promotion-fixture.js';
import { ALICE, CI, loadApp, runtimeOf, waitForState } from './runtime-harness.js';
import { pgliteBackend, postgresBackend, type StoreBackend } from './store-backends.js';

const APPS = Array.from({ length: 12 }, (_, i) => `a${i}`);
/** The configuration (an approval gate needs a configured approver, here one who signs nothing). */
const configYaml = (approverKey: string): string => `approvers:
  bob: { key: ${approverKey}, groups: [ops] }
environments:
  dev: { registry: dev, prefix: team }
  prod:
    registry: prod
    prefix: team
    from: [dev]
    tags: { immutable: ['^\\d+\\.\\d+\\.\\d+$'], floating: [latest] }
  secure:
    registry: prod
    prefix: secure
    from: [dev]
    gates:
      - approval: { count: 1 }
applications: [web, ${APPS.join(', ')}]
`;
let ENVIRONMENTS = '';

const backends: StoreBackend[] = [pgliteBackend(), postgresBackend()];

/** Ledger entry types about `subject`, in order. */
async function ledgerTypes(store: Store, subject: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of new Ledger(store.db).entries({ subject })) out.push(e.type);
  return out;
}

/** The `approvals` of the promotion records attached to `digest` in `repository` of prod. */
async function attestedApprovals(app: App, registry: string, repository: string, digest: string) {
  const repo = { registry, repository };
  const list = await app.registry.referrers(repo, digest as Manifest['digest'], PROMOTION_ARTIFACT_TYPE);
  const out: unknown[] = [];
  for (const d of list) {
    const m = await app.registry.manifest(repo, d.digest);
    if (m.kind !== 'image') continue;
    const layer = m.body.layers[0]!;
    const dsse = JSON.parse((await app.registry.blob(repo, layer)).toString('utf8')) as { payload: string };
    const statement = JSON.parse(Buffer.from(dsse.payload, 'base64').toString('utf8')) as {
      predicate: { approvals: unknown };
    };
    out.push(statement.predicate.approvals);
  }
  return out;
}

describe.each(backends)('promotion runtime on $name', (backend) => {
  let fixture: PromotionFixture;
  let store: Store;
  let app: App;
  let runtime: PromotionRuntime;
  let n = 0;
  /** What the runtime reported for metrics. */
  const seen = { entered: [] as string[], steps: [] as string[], copied: new Map<string, number>() };
  const observer: RuntimeObserver = {
    step: (state, ms) => {
      expect(ms).toBeGreaterThanOrEqual(0);
      seen.steps.push(state);
    },
    entered: (state) => seen.entered.push(state),
    copied: (host, bytes) => seen.copied.set(host, (seen.copied.get(host) ?? 0) + bytes),
    registryError: () => undefined,
  };
  /** Pushes a new image of `app` to dev as `version` and returns its digest. */
  const push = async (name: string, version: string): Promise<string> => {
    n += 1;
    return pushImage(
      fixture.dev,
      `team/${name}`,
      makeImage({ seed: `${backend.name}-${name}-${n}` }),
      version,
    );
  };

  beforeAll(async () => {
    fixture = await startPromotionFixture(`runtime-${backend.name}`);
    ENVIRONMENTS = configYaml((await writeKeyPair(fixture.dir, 'bob', 'ec')).pub);
    store = await backend.start();
    app = await loadApp(await fixture.config(ENVIRONMENTS), () => store);
    runtime = runtimeOf(store, app, { observer });
    runtime.start();
  }, 180_000);

  afterAll(async () => {
    await runtime?.stop();
    await app?.close();
    await store?.close();
    await backend.stop();
    await fixture?.stop();
  }, 60_000);

  it('runs a promotion requested → completed, one ledger entry per state change, in order', async () => {
    const digest = await push('web', '1.0.0');
    const events: PromotionStreamEvent[] = [];
    const view = await runtime.promote({ app: 'web', version: '1.0.0', to: 'prod' }, CI);
    expect(view).toMatchObject({
      state: 'requested',
      kind: 'promotion',
      requestedBy: CI.actor,
      environment: 'prod',
    });
    const unwatch = runtime.watch(view.id, (e) => events.push(e));
    const done = await waitForState((id) => runtime.get(id), view.id, ['completed', 'failed', 'rejected']);
    expect(done.state).toBe('completed');
    expect(done.applications[0]).toMatchObject({
      status: 'completed',
      digest,
      attestation: expect.any(String),
    });
    expect(
      await app.registry.resolve({ registry: fixture.prod.host, repository: 'team/web' }, 'latest'),
    ).toBe(digest);
    expect(await ledgerTypes(store, view.id)).toEqual([
      'promotion.requested',
      'promotion.gated',
      'promotion.approved',
      'promotion.copying',
      'promotion.completed',
    ]);
    expect(await new Ledger(store.db).verify()).toMatchObject({ ok: true });
    // The stream ends with the completed promotion.
    const end = Date.now() + 5_000;
    while (!events.some((e) => e.type === 'end') && Date.now() < end)
      await new Promise((r) => setTimeout(r, 50));
    unwatch();
    expect(events.at(-1)).toMatchObject({ type: 'end', promotion: { state: 'completed' } });
    expect(events.filter((e) => e.type === 'state').at(-1)).toMatchObject({ state: 'completed' });
    // Metrics saw every state, the steps and the bytes copied into prod.
    expect(seen.entered).toEqual(['requested', 'gated', 'approved', 'copying', 'verifying', 'completed']);
    expect(seen.steps).toEqual(
      expect.arrayContaining(['requested', 'gated', 'approved', 'copying', 'verifying']),
    );
    expect(seen.copied.get(fixture.prod.host)).toBeGreaterThan(0);
    // The job ended with the promotion.
    expect(
      await store.db.selectFrom('jobs').select('state').where('id', '=', view.id).executeTakeFirst(),
    ).toEqual({
      state: 'succeeded',
    });
  });

  it('a failing ledger append leaves the state unchanged; the step runs again once it can be recorded', async () => {
    await sql`create or replace function gantry_test_refuse() returns trigger language plpgsql as $$
      begin
        if new.type = 'promotion.copying' then raise exception 'ledger refused (test)'; end if;
        return new;
      end $$`.execute(store.db);
    await sql`create trigger gantry_test_refuse before insert on ledger for each row execute function gantry_test_refuse()`.execute(
      store.db,
    );
    let id = '';
    try {
      await push('web', '1.1.0');
      id = (await runtime.promote({ app: 'web', version: '1.1.0', to: 'prod' }, CI)).id;
      const end = Date.now() + 20_000;
      for (;;) {
        const job = await store.db
          .selectFrom('jobs')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirstOrThrow();
        if (job.last_error !== null) break;
        if (Date.now() > end) throw new Error('the step was never refused');
        await new Promise((r) => setTimeout(r, 50));
      }
      // The state change to copying was not stored without its entry, and nothing was copied.
      // (Gates passed and approved are stored, with their entries, together with copying: the
      // whole transaction was refused, so the promotion is still as requested.)
      expect((await runtime.get(id))?.state).toBe('requested');
      expect(await ledgerTypes(store, id)).toEqual(['promotion.requested']);
      expect(
        await app.registry.resolve({ registry: fixture.prod.host, repository: 'team/web' }, '1.1.0'),
      ).toBeUndefined();
    } finally {
      await sql`drop trigger gantry_test_refuse on ledger`.execute(store.db);
    }
    await sql`update jobs set run_at = now() where id = ${id}`.execute(store.db);
    const done = await waitForState((x) => runtime.get(x), id, ['completed', 'failed']);
    expect(done.state).toBe('completed');
    expect(await ledgerTypes(store, id)).toEqual([
      'promotion.requested',
      'promotion.gated',
      'promotion.approved',
      'promotion.copying',
      'promotion.completed',
    ]);
    expect(await new Ledger(store.db).verify()).toMatchObject({ ok: true });
  });

  it('waits for approval; the requester cannot approve; an API approval wakes it and is attested', async () => {
    const digest = await push('web', '2.0.0');
    const { id } = await runtime.promote({ app: 'web', version: '2.0.0', to: 'secure' }, CI);
    await waitForState((x) => runtime.get(x), id, ['awaiting-approval']);
    await expect(
      runtime.approve(id, { ...CI, actor: 'other token', identity: ' CI-Bot ' }),
    ).rejects.toMatchObject({
      code: 'PROMOTION_SELF_APPROVAL',
    });
    // Re-evaluation is 60 s away: only the approval's wake-up can move it on now.
    const approved = await runtime.approve(id, ALICE, 'looks good');
    expect(approved.decisions).toEqual([
      expect.objectContaining({ approver: 'alice', decision: 'approved', comment: 'looks good' }),
    ]);
    const done = await waitForState((x) => runtime.get(x), id, ['completed', 'failed', 'rejected'], 15_000);
    expect(done.state).toBe('completed');
    const attested = await attestedApprovals(app, fixture.prod.host, 'secure/web', digest);
    expect(attested).toEqual([[expect.objectContaining({ approver: 'alice' })]]);
    const types = await ledgerTypes(store, id);
    expect(types).toContain('promotion.approval');
    expect(types.filter((t) => t === 'promotion.completed')).toHaveLength(1);
    await expect(runtime.approve(id, ALICE)).rejects.toMatchObject({ code: 'PROMOTION_STATE_CONFLICT' });
  });

  it('rejects and cancels waiting promotions at once, with their ledger entries', async () => {
    await push('web', '3.0.0');
    const a = await runtime.promote({ app: 'web', version: '3.0.0', to: 'secure' }, CI);
    await waitForState((x) => runtime.get(x), a.id, ['awaiting-approval']);
    const rejected = await runtime.reject(a.id, ALICE, 'not this one');
    expect(rejected).toMatchObject({ state: 'rejected', reason: 'not this one' });
    expect(await ledgerTypes(store, a.id)).toContain('promotion.rejected');
    await expect(runtime.cancel(a.id, CI)).rejects.toMatchObject({ code: 'PROMOTION_STATE_CONFLICT' });

    const b = await runtime.promote({ app: 'web', version: '3.0.0', to: 'secure' }, CI);
    await waitForState((x) => runtime.get(x), b.id, ['awaiting-approval']);
    const cancelled = await runtime.cancel(b.id, CI, 'wrong version');
    expect(cancelled).toMatchObject({ state: 'cancelled', reason: 'wrong version' });
    expect((await ledgerTypes(store, b.id)).at(-1)).toBe('promotion.cancelled');
    expect(
      await store.db.selectFrom('jobs').select('state').where('id', '=', b.id).executeTakeFirst(),
    ).toEqual({
      state: 'succeeded',
    });
    await expect(runtime.get('nope')).resolves.toBeUndefined();
    await expect(runtime.approve('nope', ALICE)).rejects.toMatchObject({ code: 'API_NOT_FOUND' });
    const listed = await runtime.list({ env: 'secure', limit: 1 });
    expect(listed.promotions.map((p) => p.id)).toEqual([b.id]);
    expect((await runtime.list({ env: 'secure', limit: 1, before: listed.next! })).promotions[0]?.id).toBe(
      a.id,
    );
  });

  it('runs a release of several applications, and rolls one back with its ledger entry', async () => {
    const [w1, a1] = await Promise.all([push('a10', '1.0.0'), push('a11', '1.0.0')]);
    const release = await runtime.release(
      {
        to: 'prod',
        applications: [
          { app: 'a10', version: '1.0.0' },
          { app: 'a11', digest: a1 },
        ],
      },
      CI,
    );
    expect(release.kind).toBe('release');
    const done = await waitForState((x) => runtime.get(x), release.id, ['completed', 'failed']);
    expect(done.applications.map((a) => [a.application, a.status, a.digest])).toEqual([
      ['a10', 'completed', w1],
      ['a11', 'completed', a1],
    ]);
    expect((await runtime.list({ app: 'a11' })).promotions.map((p) => p.id)).toEqual([release.id]);

    const w2 = await push('a10', '2.0.0');
    const second = await runtime.promote({ app: 'a10', version: '2.0.0', to: 'prod' }, CI);
    expect((await waitForState((x) => runtime.get(x), second.id, ['completed', 'failed'])).state).toBe(
      'completed',
    );
    const prodRepo = { registry: fixture.prod.host, repository: 'team/a10' };
    expect(await app.registry.resolve(prodRepo, 'latest')).toBe(w2);
    const outcome = await runtime.rollback({ app: 'a10', env: 'prod' }, ALICE);
    expect(outcome.digest).toBe(w1);
    expect(await app.registry.resolve(prodRepo, 'latest')).toBe(w1);
    expect(await ledgerTypes(store, `prod: a10@${w1}`)).toEqual(['rollback.completed']);
    expect(await new Ledger(store.db).verify()).toMatchObject({ ok: true });
  });
});
