/**
 * Named leases held across replicas: a row per name with its owner, a fencing token and an end
 * measured by the database's clock. `acquire` is one insert-on-conflict statement, so two
 * replicas racing for a name never both get it; an expired lease is taken over (its fence goes
 * up). {@link Leases.withLease} holds a lease while a task runs, renewing it, and aborts the
 * task's signal when the lease is lost. Used for per-registry copy slots and cross-replica locks.
 */
import { sql, type Kysely } from 'kysely';
import { GantryError } from '../core/index.js';
import type { StoreDatabase } from './schema.js';

/** A lease held. */
export interface HeldLease {
  readonly name: string;
  readonly owner: string;
  /** Goes up with every new holder. */
  readonly fence: number;
}

/** Options of {@link Leases.withLease}. */
export interface WithLeaseOptions {
  /** Who holds it (unique per holder: a worker, a request). */
  readonly owner: string;
  /** How long a holder that stops renewing keeps it, in ms. Default 15 000. */
  readonly ttlMs?: number;
  /** How often to try again while another holds it, in ms. Default 200. */
  readonly retryMs?: number;
  /** Stops waiting (and aborts the task). Default: none. */
  readonly signal?: AbortSignal;
}

/** What holds named leases: the store (across replicas) or this process alone. */
export abstract class LeaseHolder {
  /** Takes `name` for `owner` for `ttlMs` if free, expired or already `owner`'s; undefined otherwise. */
  abstract acquire(name: string, owner: string, ttlMs: number): Promise<HeldLease | undefined>;

  /** Extends a lease still held by `lease.owner` with `lease.fence`; false when it was lost. */
  abstract renew(lease: HeldLease, ttlMs: number): Promise<boolean>;

  /** Gives a lease up (nothing happens when it was lost meanwhile). */
  abstract release(lease: HeldLease): Promise<void>;

  /** Holders of leases whose name starts with `prefix` that have not expired. */
  abstract holders(prefix: string): Promise<string[]>;

  /** Takes the first free one of `names`; undefined when every one is held. */
  async acquireAny(names: readonly string[], owner: string, ttlMs: number): Promise<HeldLease | undefined> {
    for (const name of names) {
      const held = await this.acquire(name, owner, ttlMs);
      if (held) return held;
    }
    return undefined;
  }

  /**
   * Waits for one of `names` (polling every `retryMs`), runs `task` while holding it, renewing it
   * every third of `ttlMs`, and releases it after. The task's signal aborts when the lease is lost
   * (a renewal refused or failing) or `options.signal` aborts; the task should then stop.
   */
  async withLease<T>(
    names: string | readonly string[],
    options: WithLeaseOptions,
    task: (signal: AbortSignal, lease: HeldLease) => Promise<T>,
  ): Promise<T> {
    const list = typeof names === 'string' ? [names] : names;
    const ttlMs = options.ttlMs ?? 15_000;
    const retryMs = options.retryMs ?? 200;
    let lease: HeldLease | undefined;
    for (;;) {
      options.signal?.throwIfAborted();
      lease = await this.acquireAny(list, options.owner, ttlMs);
      if (lease) break;
      await sleep(retryMs, options.signal);
    }
    const held = lease;
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setInterval(
      () => {
        this.renew(held, ttlMs).then(
          (ok) => {
            if (!ok) controller.abort(lost(held));
          },
          (error: unknown) => controller.abort(lost(held, error)),
        );
      },
      Math.max(1, Math.floor(ttlMs / 3)),
    );
    try {
      return await task(controller.signal, held);
    } finally {
      clearInterval(timer);
      options.signal?.removeEventListener('abort', onAbort);
      await this.release(held).catch(() => undefined);
    }
  }
}

/** Acquires, renews and releases named leases. */
export class Leases extends LeaseHolder {
  readonly #db: Kysely<StoreDatabase>;

  /** @param db the store's query builder (never a transaction: leases commit on their own) */
  constructor(db: Kysely<StoreDatabase>) {
    super();
    this.#db = db;
  }

  /** Takes `name` for `owner` for `ttlMs` if free, expired or already `owner`'s; undefined otherwise. */
  override async acquire(name: string, owner: string, ttlMs: number): Promise<HeldLease | undefined> {
    checkTtl(ttlMs);
    const row = await this.#db
      .insertInto('leases')
      .values({ name, owner, fence: 1, until: until(ttlMs) })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet({
            owner: (eb) => eb.ref('excluded.owner'),
            fence: sql<number>`leases.fence + 1`,
            until: (eb) => eb.ref('excluded.until'),
          })
          .where((eb) => eb.or([eb('leases.until', '<', sql<Date>`now()`), eb('leases.owner', '=', owner)])),
      )
      .returning(['name', 'owner', 'fence'])
      .executeTakeFirst();
    return row;
  }

  /** Extends a lease still held by `lease.owner` with `lease.fence`; false when it was lost. */
  override async renew(lease: HeldLease, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    const done = await this.#db
      .updateTable('leases')
      .set({ until: until(ttlMs) })
      .where('name', '=', lease.name)
      .where('owner', '=', lease.owner)
      .where('fence', '=', lease.fence)
      .where('until', '>=', sql<Date>`now()`)
      .executeTakeFirst();
    return done.numUpdatedRows > 0n;
  }

  /** Gives a lease up (nothing happens when it was lost meanwhile). */
  override async release(lease: HeldLease): Promise<void> {
    await this.#db
      .updateTable('leases')
      .set({ until: sql<Date>`now() - interval '1 millisecond'` })
      .where('name', '=', lease.name)
      .where('owner', '=', lease.owner)
      .where('fence', '=', lease.fence)
      .execute();
  }

  /** Holders of leases whose name starts with `prefix` that have not expired. */
  override async holders(prefix: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('leases')
      .select('owner')
      .where('name', 'like', `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)
      .where('until', '>=', sql<Date>`now()`)
      .execute();
    return rows.map((r) => r.owner);
  }
}

/**
 * Leases held in this process only, for the embedded store: its data dir admits one process
 * (the data-dir lock), so a lease here is as exclusive as one in the database, at no query.
 * Time is this process's clock.
 */
export class MemoryLeases extends LeaseHolder {
  readonly #held = new Map<string, { owner: string; fence: number; until: number }>();

  override acquire(name: string, owner: string, ttlMs: number): Promise<HeldLease | undefined> {
    checkTtl(ttlMs);
    const now = Date.now();
    const current = this.#held.get(name);
    if (current && current.until >= now && current.owner !== owner) return Promise.resolve(undefined);
    const fence = (current?.fence ?? 0) + 1;
    this.#held.set(name, { owner, fence, until: now + ttlMs });
    return Promise.resolve({ name, owner, fence });
  }

  override renew(lease: HeldLease, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    const current = this.#held.get(lease.name);
    const now = Date.now();
    if (!current || current.owner !== lease.owner || current.fence !== lease.fence || current.until < now)
      return Promise.resolve(false);
    current.until = now + ttlMs;
    return Promise.resolve(true);
  }

  override release(lease: HeldLease): Promise<void> {
    const current = this.#held.get(lease.name);
    if (current && current.owner === lease.owner && current.fence === lease.fence)
      current.until = Date.now() - 1;
    return Promise.resolve();
  }

  override holders(prefix: string): Promise<string[]> {
    const now = Date.now();
    return Promise.resolve(
      [...this.#held].filter(([n, l]) => n.startsWith(prefix) && l.until >= now).map(([, l]) => l.owner),
    );
  }
}

function until(ttlMs: number) {
  return sql<Date>`now() + ${ttlMs} * interval '1 millisecond'`;
}

function checkTtl(ttlMs: number): void {
  if (!Number.isInteger(ttlMs) || ttlMs <= 0)
    throw new GantryError(
      'INTERNAL',
      `a lease must last a positive whole number of milliseconds, not ${ttlMs}`,
    );
}

function lost(lease: HeldLease, cause?: unknown): GantryError {
  return new GantryError('STORE_LEASE_LOST', `lease ${lease.name} (fence ${lease.fence}) is no longer held`, {
    ...(cause !== undefined && { cause }),
    details: { lease: lease.name, fence: lease.fence },
  });
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
