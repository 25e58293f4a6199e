/**
 * Auto-promotion against real registries, on PGlite and on real PostgreSQL: the candidate sink
 * stores candidates (and their store: holds, one active per pair), auto-promotes a staging
 * candidate into `auto: true` environments through the real runtime (gates apply: a gated one
 * waits and says why), a newer candidate supersedes an older one still waiting, a rollback holds
 * auto-promotion until the hold is released, and duplicates or out-of-order candidates are not
 * promoted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { AutoPromoter, type NewCandidate, type PromotionRuntime } from '../../src/jobs/index.js';
import { Candidates, Ledger, type Store } from '../../src/store/index.js';
import { makeImage, pushImage } from '../helpers/index.js';
import { startPromotionFixture, writeKeyPair, type PromotionFixture } from './promotion-fixture.js';
import { ALICE, CI, loadApp, runtimeOf, waitForState } from './runtime-harness.js';
import { pgliteBackend, postgresBackend, type StoreBackend } from './store-backends.js';

const configYaml = (approverKey: string): string => `approvers:
  bob: { key: ${approverKey}, groups: [ops] }
environments:
  staging: { registry: dev, prefix: team }
  uat: { registry: prod, prefix: uat, from: [staging], auto: true, tags: { floating: [latest] } }
  secure:
    registry: prod
    prefix: secure
    from: [staging]
    auto: true
    tags: { floating: [latest] }
    gates:
      - approval: { count: 1 }
  prod: { registry: prod, prefix: prod, from: [uat] }
applications: [web, api, db]
`;

const backends: StoreBackend[] = [pgliteBackend(), postgresBackend()];

/** Ledger entry types, in order, about `subject`. */
async function ledgerTypes(store: Store, subject: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of new Ledger(store.db).entries({ subject })) out.push(e.type);
  return out;
}

describe.each(backends)('auto-promotion on $name', (backend) => {
  let fixture: PromotionFixture;
  let store: Store;
  let app: App;
  let runtime: PromotionRuntime;
  let sink: AutoPromoter;
  let n = 0;
  /** Pushes a new image of `name` to staging as `version`; returns its digest. */
  const push = async (name: string, version: string): Promise<string> => {
    n += 1;
    return pushImage(fixture.dev, `team/${name}`, makeImage({ seed: `auto-${backend.name}-${n}` }), version);
  };
  const candidate = (name: string, digest: string, tag: string, seenAt = new Date()): NewCandidate => ({
    app: name,
    environment: 'staging',
    digest,
    tag,
    source: 'notification:generic',
    seenAt: seenAt.toISOString(),
    reportedBy: 'registry test',
  });
  const outcomeFor = (r: Awaited<ReturnType<AutoPromoter['register']>>, env: string) =>
    r.autoPromotions?.find((o) => o.environment === env);
  const resolves = (prefix: string, name: string, digest: string) =>
    app.registry.resolve({ registry: fixture.prod.host, repository: `${prefix}/${name}` }, digest);

  beforeAll(async () => {
    fixture = await startPromotionFixture(`auto-${backend.name}`);
    const bob = await writeKeyPair(fixture.dir, 'bob', 'ec');
    store = await backend.start();
    app = await loadApp(await fixture.config(configYaml(bob.pub)), () => store);
    runtime = runtimeOf(store, app);
    runtime.start();
    sink = new AutoPromoter({ store, runtime, app: () => app });
  }, 180_000);

  afterAll(async () => {
    await runtime?.stop();
    await app?.close();
    await store?.close();
    await backend.stop();
    await fixture?.stop();
  }, 60_000);

  it('stores candidates once and keeps one active hold per application and environment', async () => {
    const c = new Candidates(store.db);
    const digest = `sha256:${'1'.repeat(64)}`;
    const row = {
      app: 'db',
      environment: 'prod',
      digest,
      source: 'poll',
      seenAt: new Date(),
      reportedBy: 'x',
    };
    const first = await store.db.transaction().execute((trx) => c.insert(trx, row));
    expect(first).toMatchObject({ app: 'db', environment: 'prod', digest, tag: null, source: 'poll' });
    expect(
      await store.db.transaction().execute((trx) => c.insert(trx, { ...row, tag: 'x' })),
    ).toBeUndefined();
    const hold = { app: 'db', environment: 'prod', reason: 'r', actor: 'alice', time: new Date() };
    expect(await store.db.transaction().execute((trx) => c.hold(trx, hold))).toMatchObject({ reason: 'r' });
    expect(
      await store.db.transaction().execute((trx) => c.hold(trx, { ...hold, reason: 'again' })),
    ).toBeUndefined();
    expect((await c.holds({ app: 'db' })).map((h) => h.reason)).toEqual(['r']);
    const rel = { app: 'db', environment: 'prod', actor: 'bob', time: new Date() };
    expect(await store.db.transaction().execute((trx) => c.release(trx, rel))).toMatchObject({
      released_by: 'bob',
    });
    expect(await store.db.transaction().execute((trx) => c.release(trx, rel))).toBeUndefined();
    expect(await c.holds({ app: 'db' })).toEqual([]);
    expect((await c.holds({ app: 'db', all: true })).map((h) => h.released_by)).toEqual(['bob']);
    // A new hold after a release is allowed (the unique index covers active holds only).
    expect(await store.db.transaction().execute((trx) => c.hold(trx, hold))).toBeDefined();
  });

  it('auto-promotes a staging candidate into auto environments; a gated one waits and says why', async () => {
    const digest = await push('web', '1.0.0');
    const r = await sink.register(candidate('web', digest, '1.0.0'));
    expect(r.registered).toBe(true);
    const uat = outcomeFor(r, 'uat');
    const secure = outcomeFor(r, 'secure');
    expect(uat?.promotion).toEqual(expect.any(String));
    expect(secure?.promotion).toEqual(expect.any(String));
    expect(r.autoPromotions?.map((o) => o.environment)).toEqual(['secure', 'uat']); // prod is fed by uat

    const done = await waitForState((id) => runtime.get(id), uat!.promotion!, [
      'completed',
      'failed',
      'rejected',
    ]);
    expect(done).toMatchObject({ state: 'completed', requestedBy: 'gantry auto', from: 'staging' });
    expect(await resolves('uat', 'web', digest)).toBe(digest);

    const waiting = await waitForState((id) => runtime.get(id), secure!.promotion!, ['awaiting-approval']);
    expect(waiting.waiting).toEqual([{ application: 'web', gate: 'approval', reason: '0 of 1 approvals' }]);
    const listed = await runtime.list({ env: 'secure', state: 'awaiting-approval' });
    expect(listed.promotions.find((p) => p.id === waiting.id)?.waiting).toEqual(waiting.waiting);

    expect(await ledgerTypes(store, `staging: web@${digest}`)).toEqual(['candidate.registered']);
    // The same candidate again (a second notification, a poll) changes nothing.
    expect(await sink.register(candidate('web', digest, '1.0.0'))).toEqual({ registered: false });
  }, 60_000);

  it('a newer candidate supersedes the older one still waiting for approval', async () => {
    const older = (await runtime.list({ env: 'secure', state: 'awaiting-approval', app: 'web' })).promotions;
    expect(older).toHaveLength(1);
    const digest = await push('web', '1.1.0');
    const r = await sink.register(candidate('web', digest, '1.1.0'));
    const secure = outcomeFor(r, 'secure');
    expect(secure?.superseded).toEqual([older[0]!.id]);
    const cancelled = await waitForState((id) => runtime.get(id), older[0]!.id, ['cancelled']);
    expect(cancelled.reason).toBe(`superseded by ${digest}`);
    const next = await waitForState((id) => runtime.get(id), secure!.promotion!, ['awaiting-approval']);
    expect(next.applications[0]?.digest).toBe(digest);
    // The approval of the newer one lets it through.
    await runtime.approve(next.id, ALICE);
    await waitForState((id) => runtime.get(id), next.id, ['completed']);
    expect(await resolves('secure', 'web', digest)).toBe(digest);
    await waitForState((id) => runtime.get(id), outcomeFor(r, 'uat')!.promotion!, ['completed']);
  }, 60_000);

  it('after a rollback the next candidate is held; after the release the next one is promoted', async () => {
    const first = (await runtime.list({ env: 'uat', app: 'web', state: 'completed' })).promotions.at(-1)!;
    const rolled = await runtime.rollback({ app: 'web', env: 'uat' }, CI);
    expect(rolled.digest).toBe(first.applications[0]?.digest);
    expect(await sink.holds({ app: 'web' })).toEqual([
      expect.objectContaining({
        application: 'web',
        environment: 'uat',
        reason: `rolled back to 1.0.0 by ci-bot`,
        createdBy: CI.actor,
      }),
    ]);
    expect(await ledgerTypes(store, 'uat: web')).toEqual(['hold.created']);

    const held = await push('web', '1.2.0');
    const r = await sink.register(candidate('web', held, '1.2.0'));
    expect(outcomeFor(r, 'uat')?.skipped).toMatch(/^held: rolled back to 1\.0\.0 by ci-bot/);
    expect(outcomeFor(r, 'uat')?.promotion).toBeUndefined();
    expect(outcomeFor(r, 'secure')?.promotion).toEqual(expect.any(String)); // only uat is held
    expect(
      (await runtime.list({ env: 'uat', app: 'web' })).promotions.some((p) => p.state !== 'completed'),
    ).toBe(false);

    // A rollback also cancels an auto-promotion still waiting there (secure: the 1.2.0 one).
    const waitingSecure = await waitForState((id) => runtime.get(id), outcomeFor(r, 'secure')!.promotion!, [
      'awaiting-approval',
    ]);
    const current = (await runtime.list({ env: 'secure', app: 'web', state: 'completed' })).promotions[0]!;
    await runtime.rollback({ app: 'web', env: 'secure', to: current.applications[0]!.digest }, CI);
    const cancelled = await waitForState((id) => runtime.get(id), waitingSecure.id, ['cancelled']);
    expect(cancelled.reason).toBe('auto-promotion held: web was rolled back in secure');

    const released = await sink.release('web', 'uat', ALICE);
    expect(released).toMatchObject({ application: 'web', environment: 'uat', releasedBy: ALICE.actor });
    expect(await ledgerTypes(store, 'uat: web')).toEqual(['hold.created', 'hold.released']);
    await expect(sink.release('web', 'uat', ALICE)).rejects.toMatchObject({ code: 'API_NOT_FOUND' });

    const next = await push('web', '1.3.0');
    const r2 = await sink.register(candidate('web', next, '1.3.0'));
    const uat = outcomeFor(r2, 'uat');
    expect(uat?.promotion).toEqual(expect.any(String));
    await waitForState((id) => runtime.get(id), uat!.promotion!, ['completed']);
    expect(await resolves('uat', 'web', next)).toBe(next);
    expect(outcomeFor(r2, 'secure')?.skipped).toMatch(/^held: /); // secure is still held
  }, 90_000);

  it('does not promote a digest the environment has already, nor an older candidate arriving late', async () => {
    const digest = await push('api', '2.0.0');
    const manual = await runtime.promote({ app: 'api', digest, to: 'uat', from: 'staging' }, CI);
    await waitForState((id) => runtime.get(id), manual.id, ['completed']);
    const r = await sink.register(candidate('api', digest, '2.0.0'));
    expect(outcomeFor(r, 'uat')?.skipped).toBe(`already promoted to uat (promotion ${manual.id}, completed)`);

    const newer = await push('api', '2.2.0');
    const late = await push('api', '2.1.0');
    const now = Date.now();
    const rn = await sink.register(candidate('api', newer, '2.2.0', new Date(now)));
    expect(outcomeFor(rn, 'uat')?.promotion).toEqual(expect.any(String));
    const rl = await sink.register(candidate('api', late, '2.1.0', new Date(now - 60_000)));
    expect(rl.registered).toBe(true);
    expect(outcomeFor(rl, 'uat')?.skipped).toBe(`a newer candidate ${newer} arrived first`);
    await waitForState((id) => runtime.get(id), outcomeFor(rn, 'uat')!.promotion!, ['completed']);
  }, 60_000);

  it('refuses names the configuration does not know and malformed digests', async () => {
    const digest = `sha256:${'2'.repeat(64)}`;
    await expect(sink.register(candidate('nope', digest, 'x'))).rejects.toMatchObject({
      code: 'PROMOTION_UNKNOWN',
    });
    await expect(
      sink.register({ ...candidate('web', digest, 'x'), environment: 'qa' }),
    ).rejects.toMatchObject({
      code: 'PROMOTION_UNKNOWN',
    });
    await expect(sink.register(candidate('web', 'sha256:abc', 'x'))).rejects.toMatchObject({
      code: 'DIGEST_INVALID',
    });
  });
});
