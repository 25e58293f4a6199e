/**
 * The ledger: an append-only, hash-chained record of every event, written in the same transaction
 * as the state change it records. Appends are serialised by locking the single `ledger_head` row
 * (`SELECT … FOR UPDATE`), which holds the last seq and hash: two replicas appending at once on
 * PostgreSQL wait for each other and never fork the chain, and a rolled-back append leaves no gap.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import { GantryError } from '../core/index.js';
import type { JsonObject } from './canonical-json.js';
import {
  hashLedgerEntry,
  LedgerChainVerifier,
  ledgerEntryToLine,
  type LedgerEntry,
  type LedgerVerification,
} from './ledger-chain.js';
import { toJsonb, type StoreDatabase } from './schema.js';

/** What a caller appends; the ledger assigns `seq`, `prev_hash` and `hash`. */
export interface NewLedgerEntry {
  /** Event type, e.g. `promotion.requested`. */
  readonly type: string;
  /** What the event is about (a promotion id, a token id, …). */
  readonly subject: string;
  /** Who caused it. */
  readonly actor: string;
  /** When it happened; stored with millisecond precision. */
  readonly time: Date;
  /** Event details (JSON; `undefined` properties are left out). Default `{}`. */
  readonly payload?: JsonObject;
}

/** Options of {@link Ledger.verify} and {@link Ledger.exportLines}. */
export interface LedgerReadOptions {
  /** Entries read per query. Default 1000. */
  readonly pageSize?: number;
}

/** Options of {@link Ledger.entries}. */
export interface LedgerEntriesOptions extends LedgerReadOptions {
  /** Only entries after this seq. Default 0 (from the start). */
  readonly after?: number;
  /** Only entries up to this seq. Default: to the end. */
  readonly upTo?: number;
  /** Only entries about this subject (e.g. one promotion). Default: all. */
  readonly subject?: string;
  /** Only entries before this seq. Default: no bound. */
  readonly before?: number;
  /** Only entries of this type (`promotion.completed`). Default: all. */
  readonly type?: string;
  /** Only entries whose type starts with this (`promotion.`). Default: all. */
  readonly typePrefix?: string;
  /** Only entries by this actor (exact). Default: all. */
  readonly actor?: string;
  /** `desc`: newest first. Default `asc` (sequence order). */
  readonly order?: 'asc' | 'desc';
}

/**
 * Called with every entry appended, inside the appending transaction: what it writes commits or
 * rolls back with the entry (an outbox). A hook that throws fails the append.
 */
export type LedgerAppendHook = (trx: Transaction<StoreDatabase>, entry: LedgerEntry) => Promise<void>;

/** Reads and appends the ledger of one store. */
export class Ledger {
  readonly #db: Kysely<StoreDatabase>;
  readonly #hooks: LedgerAppendHook[] = [];

  /** @param db the store's query builder */
  constructor(db: Kysely<StoreDatabase>) {
    this.#db = db;
  }

  /**
   * Registers `hook`, called after every later append inside its transaction. Returns a function
   * that removes it.
   */
  onAppend(hook: LedgerAppendHook): () => void {
    this.#hooks.push(hook);
    return () => {
      const i = this.#hooks.indexOf(hook);
      if (i >= 0) this.#hooks.splice(i, 1);
    };
  }

  /**
   * Appends an entry inside the caller's transaction `trx` and returns it. The entry becomes
   * visible, and the chain's head moves, only when `trx` commits; until then other appenders wait.
   * Keep the transaction short: no registry I/O inside it.
   */
  async append(trx: Transaction<StoreDatabase>, entry: NewLedgerEntry): Promise<LedgerEntry> {
    if (!trx.isTransaction) {
      throw new GantryError('INTERNAL', 'ledger entries are appended inside the transaction they record');
    }
    const time = new Date(entry.time.getTime());
    if (Number.isNaN(time.getTime())) throw new GantryError('INTERNAL', 'ledger entry time is invalid');
    // Normalise the payload to what jsonb gives back (undefined properties dropped), so the hash
    // computed now equals the hash recomputed from the stored row.
    const payloadText = toJsonb(entry.payload ?? {});
    const payload = JSON.parse(payloadText) as JsonObject;
    const head = await trx
      .selectFrom('ledger_head')
      .select(['seq', 'hash'])
      .where('id', '=', 1)
      .forUpdate()
      .executeTakeFirstOrThrow();
    const body = {
      seq: head.seq + 1,
      time,
      type: entry.type,
      subject: entry.subject,
      actor: entry.actor,
      payload,
      prev_hash: head.hash,
    };
    const hash = hashLedgerEntry(body);
    await trx
      .insertInto('ledger')
      .values({ ...body, payload: payloadText, hash })
      .execute();
    await trx.updateTable('ledger_head').set({ seq: body.seq, hash }).where('id', '=', 1).execute();
    const appended = { ...body, hash };
    for (const hook of [...this.#hooks]) await hook(trx, appended);
    return appended;
  }

  /**
   * Walks the whole chain in pages of `pageSize` and checks every entry's hash, its link to the
   * one before, gapless sequence numbers, and that the chain reaches the recorded head (so removed
   * trailing entries are found too). Entries appended while it runs are not checked.
   */
  async verify(options: LedgerReadOptions = {}): Promise<LedgerVerification> {
    const head = await this.head();
    const verifier = new LedgerChainVerifier();
    for await (const entry of this.entries({ ...options, upTo: head.seq })) {
      if (!verifier.add(entry)) break;
    }
    return verifier.finish(head);
  }

  /**
   * The chain's head as recorded: the last seq and its hash ({@link GENESIS_HASH} and 0 when
   * empty). Publishing it elsewhere lets `verifyLedgerLines` detect a rewritten chain later.
   */
  async head(): Promise<{ seq: number; hash: string }> {
    return this.#db
      .selectFrom('ledger_head')
      .select(['seq', 'hash'])
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
  }

  /** Every entry as one canonical JSON line (no newline), in order; see `verifyLedgerLines`. */
  async *exportLines(options: LedgerReadOptions = {}): AsyncGenerator<string> {
    for await (const entry of this.entries(options)) yield ledgerEntryToLine(entry);
  }

  /**
   * Entries in sequence order (or newest first with `order: 'desc'`), read in pages (keyset
   * pagination on `seq`).
   */
  async *entries(options: LedgerEntriesOptions = {}): AsyncGenerator<LedgerEntry> {
    const pageSize = options.pageSize ?? 1000;
    const desc = options.order === 'desc';
    let after = options.after ?? 0;
    let before = options.before;
    for (;;) {
      let query = this.#db
        .selectFrom('ledger')
        .selectAll()
        .where('seq', '>', after)
        .orderBy('seq', desc ? 'desc' : 'asc')
        .limit(pageSize);
      if (before !== undefined) query = query.where('seq', '<', before);
      if (options.upTo !== undefined) query = query.where('seq', '<=', options.upTo);
      if (options.subject !== undefined) query = query.where('subject', '=', options.subject);
      if (options.type !== undefined) query = query.where('type', '=', options.type);
      if (options.typePrefix !== undefined)
        query = query.where(sql<boolean>`starts_with(type, ${options.typePrefix})`);
      if (options.actor !== undefined) query = query.where('actor', '=', options.actor);
      const rows = await query.execute();
      for (const row of rows) {
        yield { ...row, payload: row.payload as JsonObject };
      }
      const last = rows.at(-1);
      if (last === undefined || rows.length < pageSize) return;
      if (desc) before = last.seq;
      else after = last.seq;
    }
  }
}
