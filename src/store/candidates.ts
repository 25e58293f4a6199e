/**
 * The `candidates` and `holds` tables (auto-promotion, issue 12): images seen in an
 * environment's repository, one row per application, environment and digest; and holds on
 * auto-promotion of an application into an environment, put by a rollback and released by a
 * person, at most one active per pair. Writes take the caller's transaction, so they commit with
 * their ledger entries and the promotions they cause.
 */
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { CandidatesTable, HoldsTable, PromotionsTable, StoreDatabase } from './schema.js';

/** A candidate as stored. */
export type CandidateRow = Selectable<CandidatesTable>;

/** A hold as stored. */
export type HoldRow = Selectable<HoldsTable>;

/** A new candidate. */
export interface NewCandidateRow {
  readonly app: string;
  readonly environment: string;
  readonly digest: string;
  readonly tag?: string;
  readonly source: string;
  readonly seenAt: Date;
  readonly reportedBy: string;
}

/** A new hold. */
export interface NewHold {
  readonly app: string;
  readonly environment: string;
  readonly reason: string;
  readonly actor: string;
  readonly time: Date;
}

/** Filters of {@link Candidates.holds}. */
export interface HoldQuery {
  readonly app?: string;
  readonly environment?: string;
  /** Also released holds (newest first). Default: only active ones. */
  readonly all?: boolean;
  /** Default 100, at most 500. */
  readonly limit?: number;
}

type Db = Kysely<StoreDatabase> | Transaction<StoreDatabase>;

/** Reads and writes candidates and holds. */
export class Candidates {
  readonly #db: Kysely<StoreDatabase>;

  /** @param db the store's query builder */
  constructor(db: Kysely<StoreDatabase>) {
    this.#db = db;
  }

  /** The candidate, or undefined. */
  async get(
    app: string,
    environment: string,
    digest: string,
    db: Db = this.#db,
  ): Promise<CandidateRow | undefined> {
    return db
      .selectFrom('candidates')
      .selectAll()
      .where('app', '=', app)
      .where('environment', '=', environment)
      .where('digest', '=', digest)
      .executeTakeFirst();
  }

  /** Inserts a candidate inside `trx`; undefined when it was known already (nothing changes). */
  async insert(trx: Transaction<StoreDatabase>, c: NewCandidateRow): Promise<CandidateRow | undefined> {
    return trx
      .insertInto('candidates')
      .values({
        app: c.app,
        environment: c.environment,
        digest: c.digest,
        tag: c.tag ?? null,
        source: c.source,
        seen_at: c.seenAt,
        reported_by: c.reportedBy,
      })
      .onConflict((oc) => oc.columns(['app', 'environment', 'digest']).doNothing())
      .returningAll()
      .executeTakeFirst();
  }

  /** The newest candidate (by `seen_at`) of `app` in `environment`, or undefined. */
  async newest(app: string, environment: string, db: Db = this.#db): Promise<CandidateRow | undefined> {
    return db
      .selectFrom('candidates')
      .selectAll()
      .where('app', '=', app)
      .where('environment', '=', environment)
      .orderBy('seen_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  /**
   * Serialises auto-promotion decisions about `app` in `environment` until `trx` ends (a
   * transaction-scoped advisory lock): a candidate's promotion and a rollback's hold never
   * interleave, across replicas too.
   */
  async lockPair(trx: Transaction<StoreDatabase>, app: string, environment: string): Promise<void> {
    const key = `gantry:auto:${app} ${environment}`;
    await sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`.execute(trx);
  }

  /**
   * Promotions of `app` into `environment` requested by `requester` in one of `states`, locked
   * for the rest of `trx`, with the `seen_at` of their candidate in the source environment
   * (null when there is none).
   */
  async promotionsBy(
    trx: Transaction<StoreDatabase>,
    q: { app: string; environment: string; requester: string; states: readonly string[] },
  ): Promise<
    (Pick<Selectable<PromotionsTable>, 'id' | 'digest' | 'state' | 'from_env'> & { seen_at: Date | null })[]
  > {
    const rows = await trx
      .selectFrom('promotions')
      .select(['id', 'digest', 'state', 'from_env'])
      .where('app', '=', q.app)
      .where('to_env', '=', q.environment)
      .where('requester', '=', q.requester)
      .where('state', 'in', [...q.states])
      .orderBy('created_at')
      .forUpdate()
      .execute();
    const out = [];
    for (const r of rows) {
      const c = r.from_env === null ? undefined : await this.get(q.app, r.from_env, r.digest, trx);
      out.push({ ...r, seen_at: c?.seen_at ?? null });
    }
    return out;
  }

  /**
   * A promotion of `app`'s `digest` into `environment` that did not end rejected, cancelled or
   * failed (it is waiting, running or completed), or undefined.
   */
  async livePromotion(
    db: Db,
    app: string,
    environment: string,
    digest: string,
  ): Promise<{ id: string; state: string } | undefined> {
    return db
      .selectFrom('promotions')
      .select(['id', 'state'])
      .where('to_env', '=', environment)
      .where(sql<boolean>`subjects @> ${sql.val([`${app}@${digest}`])}::text[]`)
      .where('state', 'not in', ['rejected', 'cancelled', 'failed'])
      .limit(1)
      .executeTakeFirst();
  }

  /** The active hold on `app` in `environment`, or undefined. */
  async activeHold(app: string, environment: string, db: Db = this.#db): Promise<HoldRow | undefined> {
    return db
      .selectFrom('holds')
      .selectAll()
      .where('app', '=', app)
      .where('environment', '=', environment)
      .where('released_at', 'is', null)
      .executeTakeFirst();
  }

  /** Puts a hold inside `trx`; undefined when one is active already (it stays as it is). */
  async hold(trx: Transaction<StoreDatabase>, h: NewHold): Promise<HoldRow | undefined> {
    if (await this.activeHold(h.app, h.environment, trx)) return undefined;
    return trx
      .insertInto('holds')
      .values({
        app: h.app,
        environment: h.environment,
        reason: h.reason,
        actor: h.actor,
        created_at: h.time,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Releases the active hold inside `trx` and returns it; undefined when there is none. */
  async release(
    trx: Transaction<StoreDatabase>,
    r: { app: string; environment: string; actor: string; time: Date },
  ): Promise<HoldRow | undefined> {
    return trx
      .updateTable('holds')
      .set({ released_at: r.time, released_by: r.actor })
      .where('app', '=', r.app)
      .where('environment', '=', r.environment)
      .where('released_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
  }

  /** Holds matching `q`, newest first. */
  async holds(q: HoldQuery = {}): Promise<HoldRow[]> {
    const limit = Math.min(Math.max(Math.trunc(q.limit ?? 100), 1), 500);
    let query = this.#db.selectFrom('holds').selectAll();
    if (q.app !== undefined) query = query.where('app', '=', q.app);
    if (q.environment !== undefined) query = query.where('environment', '=', q.environment);
    if (!q.all) query = query.where('released_at', 'is', null);
    return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  }
}
