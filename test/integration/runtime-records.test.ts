/**
 * A promotion record is attached once per promotion, also when a run re-reads its stored
 * progress in the middle of `verifying`. With a signing key (ECDSA: signatures are randomised)
 * a second attach would be a second record with another digest, so the referrers list shows it.
 *
 * The run starts before `verifying` (its applier need not look for earlier records), attaches the
 * record, and is held on the next step; meanwhile its registry slot is taken (a failed renewal
 * does the same), so the step aborts and the run reads its stored progress again — which does
 * not have the record yet (steps that change nothing else are stored at most once a second).
 * A job whose lease is lost at that point is resumed by a new claim, which looks for the record.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import type { Manifest } from '../../src/core/index.js';
import { PROMOTION_ARTIFACT_TYPE } from '../../src/promotion/attestation.js';
import { Ledger, Promotions, type Store } from '../../src/store/index.js';
import { makeImage, pushImage } from '../helpers/index.js';
import { startPromotionFixture, writeKeyPair, type PromotionFixture } from './promotion-fixture.js';
import { CI, holdingApp, loadApp, runtimeOf, waitForState } from './runtime-harness.js';
import { postgresBackend } from './store-backends.js';

let fixture: PromotionFixture;
let config = '';

beforeAll(async () => {
  fixture = await startPromotionFixture('runtime-records');
  const key = await writeKeyPair(fixture.dir, 'signing', 'ec');
  config = await fixture.config(`environments:
  dev: { registry: dev, prefix: team }
  prod: { registry: prod, prefix: team, from: [dev], tags: { floating: [latest] } }
applications: [web]
attestation: { key: ${key.priv} }
`);
}, 120_000);

afterAll(async () => {
  await fixture?.stop();
}, 60_000);

describe('promotion records on PostgreSQL', () => {
  const backend = postgresBackend();
  let store: Store;
  let app: App;

  beforeAll(async () => {
    store = await backend.start();
    app = await loadApp(config, () => store);
  }, 180_000);

  /** The records named by the promotion's stored progress. */
  const storedRecords = async (id: string): Promise<unknown> =>
    ((await new Promotions(store.db).get(id))?.progress as { attestations?: unknown[] } | undefined)
      ?.attestations;

  afterAll(async () => {
    await app?.close();
    await store?.close();
    await backend.stop();
  }, 60_000);

  /**
   * Promotes `version` of web with a runtime held on the step after its signed record was
   * attached; the stored progress is then made to lack the record (as a batched or interrupted
   * store leaves it; set, so that a slow machine that stored it already does not skip the case),
   * `takeAway` takes the run's claim away, and the held step aborts and is let go.
   */
  async function heldAfterItsRecord(
    version: string,
    leaseMs: number,
    takeAway: (id: string) => Promise<void>,
    then: (
      id: string,
      runtime: ReturnType<typeof runtimeOf>,
      records: () => Promise<readonly { digest: string }[]>,
    ) => Promise<void>,
  ): Promise<void> {
    const digest = await pushImage(
      fixture.dev,
      'team/web',
      makeImage({ seed: `records-web-${version}` }),
      version,
    );
    const records = () =>
      app.registry.referrers(
        { registry: fixture.prod.host, repository: 'team/web' },
        digest as Manifest['digest'],
        PROMOTION_ARTIFACT_TYPE,
      );
    // Held: the step after the record was attached (the one that completes the promotion).
    const holding = holdingApp(
      app,
      (p) =>
        p.state === 'verifying' && p.attestations.length > 0 && p.attestations.length === p.copies.length,
    );
    const runtime = runtimeOf(store, holding.app, { workers: 1, leaseMs });
    try {
      const { id } = await runtime.promote({ app: 'web', version, to: 'prod' }, CI);
      runtime.start();
      const signal = await holding.held();
      expect(await records()).toHaveLength(1);
      await sql`update promotions set progress = jsonb_set(progress, '{attestations}', '[]'::jsonb) where id = ${id}`.execute(
        store.db,
      );
      expect(await storedRecords(id)).toEqual([]);
      await takeAway(id);
      const until = Date.now() + 20_000;
      while (!signal.aborted && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(signal.aborted).toBe(true);
      holding.release();
      await then(id, runtime, records);
    } finally {
      holding.release();
      await runtime.stop();
    }
  }

  it('a run that re-reads its progress after attaching a signed record does not attach a second one', async () => {
    await heldAfterItsRecord(
      '1.0.0',
      1_500,
      // The registry slot is taken from the run (its next renewal is refused): the held step aborts.
      async () =>
        void (await sql`update leases set fence = fence + 1 where name like 'registry:%'`.execute(store.db)),
      async (id, runtime, records) => {
        const view = await waitForState((x) => runtime.get(x), id, ['completed', 'failed']);
        expect(view.state).toBe('completed');
        const attached = await records();
        expect(attached.map((d) => d.digest)).toHaveLength(1);
        // The progress stored names that one record.
        expect(await storedRecords(id)).toEqual([attached[0]!.digest]);
        const types: string[] = [];
        for await (const e of new Ledger(store.db).entries({ subject: id })) types.push(e.type);
        expect(types.filter((t) => t === 'promotion.completed')).toHaveLength(1);
      },
    );
  }, 90_000);

  it('a claim that resumes a job whose lease was lost after a signed record was attached reuses that record', async () => {
    await heldAfterItsRecord(
      '2.0.0',
      900,
      // Another worker claims the job (its fence goes up): the next heartbeat is refused.
      async (id) =>
        void (await sql`update jobs set fence = fence + 1, lease_owner = 'thief', lease_until = now() + interval '1 hour' where id = ${id}`.execute(
          store.db,
        )),
      async (id, runtime, records) => {
        // The thief dies: a new claim reads the stored progress (verifying, without the record).
        await new Promise((r) => setTimeout(r, 500));
        await sql`update jobs set lease_until = now() - interval '1 second' where id = ${id}`.execute(
          store.db,
        );
        const view = await waitForState((x) => runtime.get(x), id, ['completed', 'failed']);
        expect(view.state).toBe('completed');
        const attached = await records();
        expect(attached.map((d) => d.digest)).toHaveLength(1);
        expect(await storedRecords(id)).toEqual([attached[0]!.digest]);
        const job = await store.db
          .selectFrom('jobs')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirstOrThrow();
        // Claimed by the run, taken by the thief, claimed again.
        expect(job).toMatchObject({ state: 'succeeded', fence: 3 });
      },
    );
  }, 90_000);
});
