/**
 * The `deployments` table on PGlite and on real PostgreSQL: a report is stored with its
 * `deployment.reported` ledger entry (the chain still verifies), the history is kept, the current
 * deployment of a target is its newest report, and `promoted` says whether a completed promotion
 * (or release) to the environment carried the digest — in one query for every target.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Deployments, Ledger, Promotions, type Store } from '../../src/store/index.js';
import { pgliteBackend, postgresBackend, resetStore, type StoreBackend } from './store-backends.js';

const backends: StoreBackend[] = [pgliteBackend(), postgresBackend()];
const D = (c: string): string => `sha256:${c.repeat(64)}`;
const T0 = Date.UTC(2026, 5, 1, 12);
const at = (s: number): Date => new Date(T0 + s * 1000);

describe.each(backends)('deployments on $name', (backend) => {
  let store: Store;
  let ledger: Ledger;
  let deployments: Deployments;

  beforeAll(async () => {
    store = await backend.start();
    ledger = new Ledger(store.db);
    deployments = new Deployments(store.db, ledger);
  }, 180_000);
  afterAll(async () => {
    await store?.close();
    await backend.stop();
  }, 60_000);
  beforeEach(async () => {
    await resetStore(store);
    await sql`truncate deployments`.execute(store.db);
  });

  async function promotion(id: string, to: string, subjects: string[], state: string): Promise<void> {
    await store.db.transaction().execute((trx) =>
      new Promotions(store.db).insert(trx, {
        id,
        kind: subjects.length > 1 ? 'release' : 'promotion',
        apps: subjects.map((s) => s.split('@')[0] ?? ''),
        subjects,
        digest: subjects[0]?.split('@')[1] ?? '',
        from: 'staging',
        to,
        state,
        requester: 'ci',
        requesterIdentity: 'ci',
        plan: {},
        progress: {},
        time: at(0),
      }),
    );
  }

  it('stores a report with its ledger entry in one transaction; the chain verifies', async () => {
    const d = await deployments.report(
      { environment: 'prod', app: 'web', target: 'cluster-a', digest: D('a') },
      { actor: 'argo (tok_0123456789abcdef)', time: at(1) },
    );
    expect(d).toMatchObject({
      environment: 'prod',
      app: 'web',
      target: 'cluster-a',
      digest: D('a'),
      reportedBy: 'argo (tok_0123456789abcdef)',
      reportedAt: at(1),
    });
    expect(typeof d.id).toBe('number');
    const entries = [];
    for await (const e of ledger.entries()) entries.push(e);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      type: 'deployment.reported',
      subject: 'deployments/prod/web/cluster-a',
      actor: 'argo (tok_0123456789abcdef)',
      payload: { id: d.id, environment: 'prod', application: 'web', target: 'cluster-a', digest: D('a') },
    });
    expect((await ledger.verify()).ok).toBe(true);
  });

  it('keeps the history; the current deployment of each target is its newest report', async () => {
    const r = (target: string, digest: string, s: number, environment = 'prod', app = 'web') =>
      deployments.report({ environment, app, target, digest }, { actor: 'cd', time: at(s) });
    await r('cluster-a', D('1'), 1);
    await r('cluster-a', D('2'), 3);
    await r('cluster-b', D('1'), 2);
    await r('cluster-a', D('3'), 2); // reported later, but about an earlier time: not the newest
    await r('cluster-a', D('4'), 5, 'staging');
    await r('cluster-a', D('5'), 6, 'prod', 'api');
    const current = await deployments.current();
    expect(current.map((c) => [c.environment, c.app, c.target, c.digest])).toEqual([
      ['prod', 'api', 'cluster-a', D('5')],
      ['prod', 'web', 'cluster-a', D('2')],
      ['prod', 'web', 'cluster-b', D('1')],
      ['staging', 'web', 'cluster-a', D('4')],
    ]);
    const history = await deployments.list({ environment: 'prod', app: 'web', target: 'cluster-a' });
    expect(history.map((h) => h.digest)).toEqual([D('2'), D('3'), D('1')]);
    expect((await deployments.list({ apps: ['api'] })).map((h) => h.app)).toEqual(['api']);
    expect(await deployments.list({ apps: [] })).toEqual([]);
    expect(await deployments.list({ limit: 2 })).toHaveLength(2);
  });

  it('says whether a completed promotion or release to the environment carried the digest', async () => {
    await promotion('p-1', 'prod', [`web@${D('a')}`], 'completed');
    await promotion('p-2', 'prod', [`api@${D('c')}`, `web@${D('b')}`], 'completed'); // a release
    await promotion('p-3', 'prod', [`web@${D('d')}`], 'failed');
    await promotion('p-4', 'staging', [`web@${D('e')}`], 'completed');
    const report = (target: string, digest: string) =>
      deployments.report({ environment: 'prod', app: 'web', target, digest }, { actor: 'cd', time: at(1) });
    await report('t-a', D('a'));
    await report('t-b', D('b'));
    await report('t-d', D('d'));
    await report('t-e', D('e'));
    await report('t-f', D('f'));
    const promoted = Object.fromEntries((await deployments.current()).map((c) => [c.target, c.promoted]));
    expect(promoted).toEqual({ 't-a': true, 't-b': true, 't-d': false, 't-e': false, 't-f': false });
  });
});
