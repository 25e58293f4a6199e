/**
 * The webhook delivery log: one row per event and endpoint (its body, where its delivery stands)
 * and one row per attempt (status, error, timing). Deliveries are inserted inside the ledger
 * entry's transaction (the outbox); attempts are stored with the outcome of their job.
 */
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { JsonObject } from './canonical-json.js';
import { decodePageCursor, pageLimit, pageOf } from './page.js';
import {
  toJsonb,
  type StoreDatabase,
  type WebhookAttemptsTable,
  type WebhookDeliveriesTable,
} from './schema.js';

/** A delivery as stored. */
export type DeliveryRow = Selectable<WebhookDeliveriesTable>;

/** An attempt as stored. */
export type AttemptRow = Selectable<WebhookAttemptsTable>;

/** A delivery with its attempts, oldest first. */
export interface DeliveryWithAttempts extends DeliveryRow {
  readonly attemptLog: readonly AttemptRow[];
}

/** A new delivery. */
export interface NewDelivery {
  readonly id: string;
  readonly endpoint: string;
  readonly event: string;
  readonly subject: string;
  readonly ledgerSeq: number;
  readonly body: JsonObject;
  readonly time: Date;
}

/** One attempt's result. */
export interface NewAttempt {
  readonly deliveryId: string;
  readonly startedAt: Date;
  readonly durationMs: number;
  readonly status?: number;
  readonly error?: string;
  readonly outcome: 'delivered' | 'retry' | 'dead';
}

/** Filters of {@link WebhookDeliveries.list}. */
export interface DeliveryQuery {
  /** Only this delivery. */
  readonly id?: string;
  readonly endpoint?: string;
  readonly state?: DeliveryRow['state'];
  /** Default 50, at most 500. */
  readonly limit?: number;
  /** A `next` cursor of the previous page. */
  readonly before?: string;
}

type Db = Kysely<StoreDatabase> | Transaction<StoreDatabase>;

/** Reads and writes the delivery log. */
export class WebhookDeliveries {
  readonly #db: Kysely<StoreDatabase>;

  /** @param db the store's query builder */
  constructor(db: Kysely<StoreDatabase>) {
    this.#db = db;
  }

  /** Inserts a pending delivery inside `trx` (the transaction of its ledger entry). */
  async insert(trx: Transaction<StoreDatabase>, d: NewDelivery): Promise<void> {
    await trx
      .insertInto('webhook_deliveries')
      .values({
        id: d.id,
        endpoint: d.endpoint,
        event: d.event,
        subject: d.subject,
        ledger_seq: d.ledgerSeq,
        body: toJsonb(d.body),
        state: 'pending',
        created_at: d.time,
        updated_at: d.time,
        delivered_at: null,
        last_status: null,
        last_error: null,
      })
      .execute();
  }

  /** The delivery, or undefined. */
  async get(id: string, db: Db = this.#db): Promise<DeliveryRow | undefined> {
    return db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Locks the delivery's row for the rest of `trx` and returns it, or undefined. */
  async lock(trx: Transaction<StoreDatabase>, id: string): Promise<DeliveryRow | undefined> {
    return trx
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
  }

  /** Records an attempt and moves the delivery to its outcome, inside `trx`. */
  async attempted(trx: Transaction<StoreDatabase>, a: NewAttempt): Promise<void> {
    await trx
      .insertInto('webhook_attempts')
      .values({
        delivery_id: a.deliveryId,
        started_at: a.startedAt,
        duration_ms: Math.max(0, Math.round(a.durationMs)),
        status: a.status ?? null,
        error: a.error ?? null,
        outcome: a.outcome,
      })
      .execute();
    await trx
      .updateTable('webhook_deliveries')
      .set((eb) => ({
        attempts: eb('attempts', '+', 1),
        last_status: a.status ?? null,
        last_error: a.error ?? null,
        state: a.outcome === 'retry' ? 'pending' : a.outcome,
        updated_at: sql<Date>`now()`,
        ...(a.outcome === 'delivered' && { delivered_at: sql<Date>`now()` }),
      }))
      .where('id', '=', a.deliveryId)
      .execute();
  }

  /** Ends a delivery without an attempt (its endpoint is no longer configured), inside `trx`. */
  async abandon(trx: Transaction<StoreDatabase>, id: string, error: string): Promise<void> {
    await trx
      .updateTable('webhook_deliveries')
      .set({ state: 'dead', last_error: error, updated_at: sql<Date>`now()` })
      .where('id', '=', id)
      .execute();
  }

  /** Makes the delivery pending again (a redelivery), inside `trx`. */
  async reopen(trx: Transaction<StoreDatabase>, id: string): Promise<void> {
    await trx
      .updateTable('webhook_deliveries')
      .set({ state: 'pending', updated_at: sql<Date>`now()` })
      .where('id', '=', id)
      .execute();
  }

  /** Deliveries matching `q` with their attempts, newest first, and the next page's cursor. */
  async list(q: DeliveryQuery): Promise<{ deliveries: DeliveryWithAttempts[]; next?: string }> {
    const limit = pageLimit(q.limit);
    let query = this.#db.selectFrom('webhook_deliveries').selectAll();
    if (q.id !== undefined) query = query.where('id', '=', q.id);
    if (q.endpoint !== undefined) query = query.where('endpoint', '=', q.endpoint);
    if (q.state !== undefined) query = query.where('state', '=', q.state);
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
    const attempts = await this.attempts(page.map((r) => r.id));
    const deliveries = page.map((r) => ({
      ...r,
      attemptLog: attempts.filter((a) => a.delivery_id === r.id),
    }));
    return next === undefined ? { deliveries } : { deliveries, next };
  }

  /** The attempts of these deliveries, oldest first. */
  async attempts(ids: readonly string[]): Promise<AttemptRow[]> {
    if (ids.length === 0) return [];
    return this.#db
      .selectFrom('webhook_attempts')
      .selectAll()
      .where('delivery_id', 'in', [...ids])
      .orderBy('id')
      .execute();
  }
}
