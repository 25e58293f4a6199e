/**
 * The store parts of the promotion runtime, on PGlite and on real PostgreSQL: named leases
 * (exclusive, taken over when expired with a higher fence, renewals refused after a takeover,
 * withLease aborting its task when the lease is lost), parked jobs (`defer` without counting an
 * attempt, `wake`, a wake-up while running), and the promotions repository (paging newest first,
 * filters, decisions, approvals by application and digest).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isGantryError } from '../../src/core/index.js';
import { JobQueue, Leases, Promotions, type Store } from '../../src/store/index.js';
import { pgliteBackend, postgresBackend, resetStore, type StoreBackend } from './store-backends.js';

const backends: StoreBackend[] = [pgliteBackend(), postgresBackend()];
const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.each(backends)('runtime store on $name', (backend) => {
  let store: Store;
  let other: Store;

  beforeAll(async () => {
    store = await backend.start();
    other = backend.name === 'postgres' ? await backend.second() : store;
  }, 180_000);
  afterAll(async () => {
    await store?.close();
    await backend.stop();
  }, 60_000);
  beforeEach(async () => {
    await resetStore(store);
  });

  describe('leases', () => {
    it('are held by one owner at a time; an expired one is taken over with a higher fence', async () => {
      const a = new Leases(store.db);
      const b = new Leases(other.db);
      const held = await a.acquire('registry:x#0', 'A', 300);
      expect(held).toMatchObject({ owner: 'A', fence: 1 });
      expect(await b.acquire('registry:x#0', 'B', 300)).toBeUndefined();
      // Re-acquiring one's own lease renews it.
      expect(await a.acquire('registry:x#0', 'A', 300)).toMatchObject({ owner: 'A' });
      await wait(400);
      const taken = await b.acquire('registry:x#0', 'B', 10_000);
      expect(taken).toMatchObject({ owner: 'B' });
      expect(taken!.fence).toBeGreaterThan(held!.fence);
      expect(await a.renew(held!, 10_000)).toBe(false);
      await a.release(held!); // a stale release changes nothing
      expect(await a.acquire('registry:x#0', 'A', 300)).toBeUndefined();
      expect(await b.holders('registry:x#')).toEqual(['B']);
    });

    it('racing acquirers: exactly one gets the lease', async () => {
      const stores = [store, other];
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          new Leases(stores[i % 2]!.db).acquire('lock', `owner-${i}`, 10_000),
        ),
      );
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    });

    it('withLease runs one holder at a time and aborts a task whose lease is lost', async () => {
      const leases = new Leases(store.db);
      let inside = 0;
      let most = 0;
      await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          leases.withLease('one', { owner: `w${i}`, ttlMs: 5_000, retryMs: 20 }, async () => {
            inside += 1;
            most = Math.max(most, inside);
            await wait(30);
            inside -= 1;
          }),
        ),
      );
      expect(most).toBe(1);

      const stolen = leases.withLease('two', { owner: 'slow', ttlMs: 300 }, async (signal) => {
        // Another replica takes the lease over (as after an expiry): the next renewal is refused.
        await store.db.updateTable('leases').set({ owner: 'thief' }).where('name', '=', 'two').execute();
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
        return signal.reason as unknown;
      });
      const reason = await stolen;
      expect(isGantryError(reason) && reason.code).toBe('STORE_LEASE_LOST');
    });
  });

  describe('parked jobs', () => {
    it('defer parks without counting the attempt; wake makes it runnable now', async () => {
      const q = new JobQueue(store.db);
      const id = await q.enqueue({ kind: 'promotion', payload: {} });
      const job = (await q.claim('w', 10_000))!;
      expect(job.attempts).toBe(1);
      await q.defer(id, job.fence, 60_000);
      expect(await q.claim('w', 10_000)).toBeUndefined();
      expect(await q.get(id)).toMatchObject({ state: 'queued', attempts: 0 });
      await store.db.transaction().execute((trx) => q.wake(id, trx));
      const again = (await q.claim('w', 10_000))!;
      expect(again.id).toBe(id);
      expect(again.fence).toBe(job.fence + 1);
      expect(again.attempts).toBe(1);
      // A stale fence cannot park it.
      await expect(q.defer(id, job.fence, 1_000)).rejects.toMatchObject({ code: 'STORE_LEASE_LOST' });
    });

    it('a wake-up while the job runs makes the next defer runnable at once', async () => {
      const q = new JobQueue(store.db);
      const id = await q.enqueue({ kind: 'promotion', payload: {} });
      const job = (await q.claim('w', 10_000))!;
      expect(await q.wake(id)).toBe(true);
      await q.defer(id, job.fence, 60_000);
      expect((await q.claim('w', 10_000))?.id).toBe(id);
    });

    it('settle ends a queued job and leaves a running one alone', async () => {
      const q = new JobQueue(store.db);
      const queued = await q.enqueue({
        kind: 'promotion',
        payload: {},
        runAt: new Date(Date.now() + 60_000),
      });
      expect(await q.settle(queued)).toBe(true);
      expect((await q.get(queued))?.state).toBe('succeeded');
      const running = await q.enqueue({ kind: 'promotion', payload: {} });
      await q.claim('w', 10_000);
      expect(await q.settle(running)).toBe(false);
      expect(await q.wake(queued)).toBe(false);
    });
  });

  describe('promotions', () => {
    const insert = async (promotions: Promotions, id: string, app: string, env: string, t: number) =>
      store.db.transaction().execute((trx) =>
        promotions.insert(trx, {
          id,
          kind: 'promotion',
          apps: [app],
          subjects: [`${app}@sha256:${'a'.repeat(64)}`],
          digest: `sha256:${'a'.repeat(64)}`,
          from: 'dev',
          to: env,
          state: 'requested',
          requester: 'ci (t1)',
          requesterIdentity: 'ci',
          plan: {},
          progress: { state: 'requested' },
          time: new Date(Date.UTC(2026, 0, 1, 0, 0, t)),
        }),
      );

    it('lists newest first in pages, with filters', async () => {
      const p = new Promotions(store.db);
      for (let i = 0; i < 7; i++)
        await insert(p, `p${i}`, i % 2 ? 'web' : 'api', i < 5 ? 'prod' : 'staging', i);
      const first = await p.list({ limit: 3 });
      expect(first.rows.map((r) => r.id)).toEqual(['p6', 'p5', 'p4']);
      const second = await p.list({ limit: 3, before: first.next! });
      expect(second.rows.map((r) => r.id)).toEqual(['p3', 'p2', 'p1']);
      const third = await p.list({ limit: 3, before: second.next! });
      expect(third).toEqual({ rows: [expect.objectContaining({ id: 'p0' })] });
      expect((await p.list({ app: 'web', env: 'prod' })).rows.map((r) => r.id)).toEqual(['p3', 'p1']);
      expect((await p.list({ apps: ['api'] })).rows.map((r) => r.id)).toEqual(['p6', 'p4', 'p2', 'p0']);
      expect((await p.list({ state: 'completed' })).rows).toEqual([]);
      await expect(p.list({ before: 'nonsense' })).rejects.toMatchObject({ code: 'API_REQUEST_INVALID' });
    });

    it('records one decision per approver and finds approvals by application and digest', async () => {
      const p = new Promotions(store.db);
      await insert(p, 'p1', 'web', 'prod', 1);
      await insert(p, 'p2', 'web', 'prod', 2);
      const decide = (id: string, approver: string, decision: 'approved' | 'rejected') =>
        store.db
          .transaction()
          .execute((trx) =>
            p.decide(trx, { promotionId: id, approver, actor: `${approver} (t)`, decision, groups: ['ops'] }),
          );
      expect(await decide('p1', 'alice', 'approved')).toBe(true);
      expect(await decide('p1', 'alice', 'approved')).toBe(false);
      expect(await decide('p1', 'bob', 'rejected')).toBe(true);
      expect((await p.decisions(['p1'])).map((d) => [d.approver, d.decision])).toEqual([
        ['alice', 'approved'],
        ['bob', 'rejected'],
      ]);
      const found = await p.approvalsOf('web', 'prod', `sha256:${'a'.repeat(64)}`);
      expect(found).toEqual([expect.objectContaining({ approver: 'alice', groups: ['ops'] })]);
      expect(await p.approvalsOf('web', 'staging', `sha256:${'a'.repeat(64)}`)).toEqual([]);
      expect(await p.approvalsOf('api', 'prod', `sha256:${'a'.repeat(64)}`)).toEqual([]);
      // Approvals of a promotion that was cancelled no longer count.
      await store.db.updateTable('promotions').set({ state: 'cancelled' }).where('id', '=', 'p1').execute();
      expect(await p.approvalsOf('web', 'prod', `sha256:${'a'.repeat(64)}`)).toEqual([]);
    });
  });
});
