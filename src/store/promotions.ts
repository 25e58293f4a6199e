/**
 * The `promotions` and `approvals` tables as the promotion runtime uses them: a promotion's row
 * holds its plan and progress (plain JSON), its state, and a stop request; approvals hold the
 * decisions given through the API. Writes take the caller's transaction, so a state change commits
 * with its ledger entry and its job's change.
 */
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { JsonObject } from './canonical-json.js';
import { toJsonb, type ApprovalsTable, type PromotionsTable, type StoreDatabase } from './schema.js';
import { decodePageCursor, pageLimit, pageOf } from './page.js';

/** A promotion as stored. */
export type PromotionRow = Selectable<PromotionsTable>;

/** A decision as stored. */
export type DecisionRow = Selectable<ApprovalsTable>;

/** A new promotion. */
export interface NewPromotion {
  readonly id: string;
  readonly kind: 'promotion' | 'release';
  /** The applications, in plan order. */
  readonly apps: readonly string[];
  /** `app@digest` of each application, in plan order. */
  readonly subjects: readonly string[];
  /** The first application's version, if it has one. */
  readonly version?: string;
  /** The first application's digest. */
  readonly digest: string;
  readonly from: string;
  readonly to: string;
  readonly state: string;
  /** The requester's actor string. */
  readonly requester: string;
  /** The requester's identity (compared with approvers). */
  readonly requesterIdentity: string;
  readonly plan: JsonObject;
  readonly progress: JsonObject;
  /** When it was asked for. */
  readonly time: Date;
}

/** A state change of a promotion. */
export interface PromotionUpdate {
  readonly state: string;
  readonly progress: JsonObject;
  readonly reason?: string | null;
  readonly error?: JsonObject | null;
  /** Clears a stop request (it was applied, or cannot be). */
  readonly clearStop?: boolean;
}

/** Filters of {@link Promotions.list}. */
export interface PromotionQuery {
  readonly app?: string;
  readonly env?: string;
  readonly state?: string;
  /** Only promotions all of whose applications are in this list. */
  readonly apps?: readonly string[];
  /** Default 50, at most 500. */
  readonly limit?: number;
  /** A `next` cursor from the previous page. */
  readonly before?: string;
}

/** One API decision. */
export interface NewDecision {
  readonly promotionId: string;
  /** The identity (the approval gate compares it). */
  readonly approver: string;
  readonly actor: string;
  readonly decision: 'approved' | 'rejected';
  readonly groups: readonly string[];
  readonly comment?: string;
}

/** A stored approval of an application's digest into an environment, with the approver's groups. */
export interface StoredDecision {
  readonly approver: string;
  readonly groups: readonly string[];
  readonly time: Date;
  readonly comment?: string;
}

type Db = Kysely<StoreDatabase> | Transaction<StoreDatabase>;

/** Reads and writes promotions and their decisions. */
export class Promotions {
  readonly #db: Kysely<StoreDatabase>;

  /** @param db the store's query builder */
  constructor(db: Kysely<StoreDatabase>) {
    this.#db = db;
  }

  /** Inserts a promotion inside `trx` (with its job and its `promotion.requested` entry). */
  async insert(trx: Transaction<StoreDatabase>, p: NewPromotion): Promise<void> {
    await trx
      .insertInto('promotions')
      .values({
        id: p.id,
        kind: p.kind,
        app: p.apps[0] ?? '',
        apps: [...p.apps],
        subjects: [...p.subjects],
        version: p.version ?? null,
        digest: p.digest,
        from_env: p.from,
        to_env: p.to,
        state: p.state,
        requester: p.requester,
        requester_identity: p.requesterIdentity,
        plan: toJsonb(p.plan),
        progress: toJsonb(p.progress),
        created_at: p.time,
        updated_at: p.time,
      })
      .execute();
  }

  /** The promotion, or undefined. */
  async get(id: string, db: Db = this.#db): Promise<PromotionRow | undefined> {
    return db.selectFrom('promotions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Several promotions by id (any order). */
  async getMany(ids: readonly string[]): Promise<PromotionRow[]> {
    if (ids.length === 0) return [];
    return this.#db
      .selectFrom('promotions')
      .selectAll()
      .where('id', 'in', [...ids])
      .execute();
  }

  /** Locks the promotion's row for the rest of `trx` and returns it, or undefined. */
  async lock(trx: Transaction<StoreDatabase>, id: string): Promise<PromotionRow | undefined> {
    return trx.selectFrom('promotions').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  }

  /** Stores a state change inside `trx` (after the caller locked the row and checked it). */
  async update(trx: Transaction<StoreDatabase>, id: string, u: PromotionUpdate, time: Date): Promise<void> {
    await trx
      .updateTable('promotions')
      .set({
        state: u.state,
        progress: toJsonb(u.progress),
        updated_at: time,
        ...(u.reason !== undefined && { reason: u.reason }),
        ...(u.error !== undefined && { error: u.error === null ? null : toJsonb(u.error) }),
        ...(u.clearStop && { stop_request: null, stop_reason: null, stop_actor: null }),
      })
      .where('id', '=', id)
      .execute();
  }

  /** Asks the runner holding the promotion's job to reject or cancel it (inside `trx`). */
  async requestStop(
    trx: Transaction<StoreDatabase>,
    id: string,
    stop: { kind: 'cancel' | 'reject'; reason: string; actor: string },
  ): Promise<void> {
    await trx
      .updateTable('promotions')
      .set({ stop_request: stop.kind, stop_reason: stop.reason, stop_actor: stop.actor })
      .where('id', '=', id)
      .execute();
  }

  /** Promotions matching `q`, newest first, and the cursor of the next page. */
  async list(q: PromotionQuery): Promise<{ rows: PromotionRow[]; next?: string }> {
    const limit = pageLimit(q.limit);
    let query = this.#db.selectFrom('promotions').selectAll();
    if (q.app !== undefined) query = query.where(sql<boolean>`${q.app} = any(apps)`);
    if (q.env !== undefined) query = query.where('to_env', '=', q.env);
    if (q.state !== undefined) query = query.where('state', '=', q.state);
    if (q.apps !== undefined) query = query.where(sql<boolean>`apps <@ ${sql.val([...q.apps])}::text[]`);
    if (q.before !== undefined) {
      const { time, id } = decodePageCursor(q.before);
      query = query.where(sql<boolean>`(created_at, id) < (${time}::timestamptz, ${id})`);
    }
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    const { page, next } = pageOf(rows, limit);
    return next === undefined ? { rows: page } : { rows: page, next };
  }

  /** Promotions changed (or created) after `since`, oldest change first, at most `limit`. */
  async changedSince(since: Date, limit: number): Promise<PromotionRow[]> {
    return this.#db
      .selectFrom('promotions')
      .selectAll()
      .where('updated_at', '>', since)
      .orderBy('updated_at')
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  /** The newest promotions (and releases) with `subject` (`<app>@<digest>`), newest first. */
  async ofSubject(subject: string, limit: number): Promise<PromotionRow[]> {
    return this.#db
      .selectFrom('promotions')
      .selectAll()
      .where(sql<boolean>`subjects @> ${sql.val([subject])}::text[]`)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
  }

  /**
   * Records a decision inside `trx`. An approver decides once per promotion: a second decision is
   * ignored (false).
   */
  async decide(trx: Transaction<StoreDatabase>, d: NewDecision): Promise<boolean> {
    const done = await trx
      .insertInto('approvals')
      .values({
        promotion_id: d.promotionId,
        approver: d.approver,
        actor: d.actor,
        decision: d.decision,
        groups: [...d.groups],
        comment: d.comment ?? null,
      })
      .onConflict((oc) => oc.columns(['promotion_id', 'approver']).doNothing())
      .returning('id')
      .executeTakeFirst();
    return done !== undefined;
  }

  /** The decisions on promotions `ids`, oldest first. */
  async decisions(ids: readonly string[]): Promise<DecisionRow[]> {
    if (ids.length === 0) return [];
    return this.#db
      .selectFrom('approvals')
      .selectAll()
      .where('promotion_id', 'in', [...ids])
      .orderBy('id')
      .execute();
  }

  /**
   * Approvals given through the API for `application`'s `digest` into `environment`, on
   * promotions that were not rejected, cancelled or failed.
   */
  async approvalsOf(application: string, environment: string, digest: string): Promise<StoredDecision[]> {
    const rows = await this.#db
      .selectFrom('approvals')
      .innerJoin('promotions', 'promotions.id', 'approvals.promotion_id')
      .select(['approvals.approver', 'approvals.groups', 'approvals.created_at', 'approvals.comment'])
      .where('approvals.decision', '=', 'approved')
      .where('promotions.to_env', '=', environment)
      .where(sql<boolean>`promotions.subjects @> ${sql.val([`${application}@${digest}`])}::text[]`)
      .where('promotions.state', 'not in', ['rejected', 'cancelled', 'failed'])
      .orderBy('approvals.id')
      .execute();
    return rows.map((r) => ({
      approver: r.approver,
      groups: r.groups,
      time: r.created_at,
      ...(r.comment !== null && { comment: r.comment }),
    }));
  }
}
