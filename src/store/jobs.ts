/**
 * Durable jobs claimed with a lease and a fencing token. `claim` takes the next runnable job with
 * `FOR UPDATE SKIP LOCKED` (replicas never block on, or both take, the same row), sets a lease
 * measured by the database's clock (replicas' clocks may disagree) and increments the job's
 * `fence`. Every later write by the worker names that fence: once the lease expired and another
 * worker claimed the job, the old worker's heartbeat, completion or failure is refused with
 * `STORE_LEASE_LOST`, and it must stop.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { GantryError } from '../core/index.js';
import type { JsonObject, JsonValue } from './canonical-json.js';
import { toJsonb, type JobsTable, type StoreDatabase } from './schema.js';

/** A job as stored. */
export type JobRow = Selectable<JobsTable>;

/** A job a worker holds: its row, with the fence to present on every write. */
export interface ClaimedJob {
  /** Job id. */
  readonly id: string;
  /** What to run, e.g. `promotion`. */
  readonly kind: string;
  /** Input of the job. */
  readonly payload: JsonObject;
  /** Claims so far, this one included. */
  readonly attempts: number;
  /** Attempts allowed before `fail` makes the job terminal. */
  readonly maxAttempts: number;
  /** The fencing token of this claim. */
  readonly fence: number;
  /** The worker holding the lease. */
  readonly owner: string;
  /** When the lease runs out unless renewed (database time). */
  readonly leaseUntil: Date;
}

/** A new job. */
export interface NewJob {
  /** What to run. */
  readonly kind: string;
  /** Input of the job (JSON). */
  readonly payload: JsonObject;
  /** Id; default a random UUID. */
  readonly id?: string;
  /** Not before; default now. */
  readonly runAt?: Date;
  /** Claims allowed; default 5. */
  readonly maxAttempts?: number;
}

/** Options of {@link JobQueue.claim}. */
export interface ClaimOptions {
  /** Only these kinds; default any. */
  readonly kinds?: readonly string[];
}

/** Options of {@link JobQueue.fail}. */
export interface FailOptions {
  /**
   * Run again after this many milliseconds if attempts remain. Default: do not retry (the job
   * becomes `failed`).
   */
  readonly retryInMs?: number;
}

type JobState = JobsTable['state'];

type Db = Kysely<StoreDatabase> | Transaction<StoreDatabase>;

/**
 * The `jobs` table as a queue. `claim`, `heartbeat` and `release` run on the store itself: never
 * call them inside a transaction callback (on PGlite, whose one connection the transaction holds,
 * that deadlocks). `enqueue`, `complete` and `fail` take the caller's transaction when the job's
 * change belongs with another.
 */
export class JobQueue {
  readonly #db: Kysely<StoreDatabase>;

  /** @param db the store's query builder */
  constructor(db: Kysely<StoreDatabase>) {
    this.#db = db;
  }

  /**
   * Adds a job and returns its id. Pass the transaction that records why the job exists (a new
   * promotion) so the two commit together; default the store itself.
   */
  async enqueue(job: NewJob, trx: Db = this.#db): Promise<string> {
    const id = job.id ?? randomUUID();
    await trx
      .insertInto('jobs')
      .values({
        id,
        kind: job.kind,
        payload: toJsonb(job.payload),
        state: 'queued',
        ...(job.runAt === undefined ? {} : { run_at: job.runAt }),
        ...(job.maxAttempts === undefined ? {} : { max_attempts: job.maxAttempts }),
      })
      .execute();
    return id;
  }

  /**
   * Claims the next runnable job for `owner` with a lease of `leaseMs`: a queued job whose
   * `run_at` has come, or a running job whose lease expired (its worker died or stalled). Returns
   * undefined when there is none. The job's fence goes up by one with every claim.
   */
  async claim(owner: string, leaseMs: number, options: ClaimOptions = {}): Promise<ClaimedJob | undefined> {
    checkLease(leaseMs);
    const kinds = options.kinds;
    if (kinds !== undefined && kinds.length === 0) return undefined;
    const row = await this.#db
      .updateTable('jobs')
      .set((eb) => ({
        state: 'running',
        lease_owner: owner,
        lease_until: leaseEnd(leaseMs),
        fence: eb('fence', '+', 1),
        attempts: eb('attempts', '+', 1),
        woken: false,
        updated_at: sql<Date>`now()`,
      }))
      .where(
        'id',
        '=',
        this.#db
          .selectFrom('jobs')
          .select('id')
          .where((eb) =>
            eb.or([
              eb.and([eb('state', '=', 'queued'), eb('run_at', '<=', sql<Date>`now()`)]),
              eb.and([eb('state', '=', 'running'), eb('lease_until', '<', sql<Date>`now()`)]),
            ]),
          )
          .$if(kinds !== undefined, (qb) => qb.where('kind', 'in', kinds ?? []))
          .orderBy('run_at')
          .orderBy('id')
          .limit(1)
          .forUpdate()
          .skipLocked(),
      )
      .returningAll()
      .executeTakeFirst();
    return row === undefined ? undefined : toClaimed(row);
  }

  /**
   * Extends the lease of a job `owner` holds with `fence` by `leaseMs` from now and returns the
   * new end. Throws `STORE_LEASE_LOST` when the lease expired or another claim superseded it.
   */
  async heartbeat(id: string, owner: string, fence: number, leaseMs: number): Promise<Date> {
    checkLease(leaseMs);
    const row = await this.#db
      .updateTable('jobs')
      .set({ lease_until: leaseEnd(leaseMs), updated_at: sql<Date>`now()` })
      .where('id', '=', id)
      .where('state', '=', 'running')
      .where('lease_owner', '=', owner)
      .where('fence', '=', fence)
      .where('lease_until', '>=', sql<Date>`now()`)
      .returning('lease_until')
      .executeTakeFirst();
    if (row?.lease_until == null) throw leaseLost(id, fence, 'heartbeat');
    return row.lease_until;
  }

  /**
   * Marks the job `succeeded`. Throws `STORE_LEASE_LOST` when `fence` is not the current claim's.
   * Pass the transaction that records the job's outcome so both commit together.
   */
  async complete(id: string, fence: number, trx: Db = this.#db): Promise<void> {
    const done = await trx
      .updateTable('jobs')
      .set({
        state: 'succeeded',
        lease_owner: null,
        lease_until: null,
        last_error: null,
        updated_at: sql<Date>`now()`,
      })
      .where('id', '=', id)
      .where('state', '=', 'running')
      .where('fence', '=', fence)
      .executeTakeFirst();
    if (done.numUpdatedRows === 0n) throw leaseLost(id, fence, 'complete');
  }

  /**
   * Records `error` for the current claim. With `retryInMs` and attempts left the job is queued
   * again for then; otherwise it becomes `failed`. Throws `STORE_LEASE_LOST` on a stale fence.
   */
  async fail(
    id: string,
    fence: number,
    error: JsonValue,
    options: FailOptions = {},
    trx: Db = this.#db,
  ): Promise<void> {
    const retry = options.retryInMs;
    if (retry !== undefined) checkDelay(retry);
    const done = await trx
      .updateTable('jobs')
      .set((eb) => ({
        // attempts already counts this claim
        state:
          retry === undefined
            ? 'failed'
            : sql<JobState>`case when attempts < max_attempts then 'queued' else 'failed' end`,
        run_at:
          retry === undefined ? eb.ref('run_at') : sql<Date>`now() + ${retry} * interval '1 millisecond'`,
        lease_owner: null,
        lease_until: null,
        last_error: toJsonb(error),
        updated_at: sql<Date>`now()`,
      }))
      .where('id', '=', id)
      .where('state', '=', 'running')
      .where('fence', '=', fence)
      .executeTakeFirst();
    if (done.numUpdatedRows === 0n) throw leaseLost(id, fence, 'fail');
  }

  /**
   * Gives the job back without counting the attempt (graceful shutdown): it is queued again and
   * claimable at once. Throws `STORE_LEASE_LOST` on a stale fence.
   */
  async release(id: string, fence: number): Promise<void> {
    const done = await this.#db
      .updateTable('jobs')
      .set((eb) => ({
        state: 'queued',
        lease_owner: null,
        lease_until: null,
        attempts: eb('attempts', '-', 1),
        updated_at: sql<Date>`now()`,
      }))
      .where('id', '=', id)
      .where('state', '=', 'running')
      .where('fence', '=', fence)
      .executeTakeFirst();
    if (done.numUpdatedRows === 0n) throw leaseLost(id, fence, 'release');
  }

  /**
   * Parks a job the worker holds with `fence` (one that waits, e.g. for approvals) until
   * `delayMs` from now (database time), without counting the attempt: it is queued again and
   * claimable then, or at once when {@link wake} was called while it ran. Pass the transaction
   * that stores why it waits. Throws `STORE_LEASE_LOST` on a stale fence.
   */
  async defer(id: string, fence: number, delayMs: number, trx: Db = this.#db): Promise<void> {
    checkDelay(delayMs);
    const done = await trx
      .updateTable('jobs')
      .set((eb) => ({
        state: 'queued',
        run_at: sql<Date>`case when woken then now() else now() + ${delayMs} * interval '1 millisecond' end`,
        lease_owner: null,
        lease_until: null,
        attempts: eb('attempts', '-', 1),
        woken: false,
        updated_at: sql<Date>`now()`,
      }))
      .where('id', '=', id)
      .where('state', '=', 'running')
      .where('fence', '=', fence)
      .executeTakeFirst();
    if (done.numUpdatedRows === 0n) throw leaseLost(id, fence, 'defer');
  }

  /**
   * Makes a parked job runnable now; a job that is running is marked so that parking it makes it
   * runnable at once (what woke it may have come after its worker looked). Jobs that ended are
   * left alone. Returns whether the job was queued or running. Pass the transaction that records
   * why (an approval) so both commit together.
   */
  async wake(id: string, trx: Db = this.#db): Promise<boolean> {
    const done = await trx
      .updateTable('jobs')
      .set({
        run_at: sql<Date>`case when state = 'queued' and run_at > now() then now() else run_at end`,
        woken: sql<boolean>`state = 'running'`,
        updated_at: sql<Date>`now()`,
      })
      .where('id', '=', id)
      .where('state', 'in', ['queued', 'running'])
      .executeTakeFirst();
    return done.numUpdatedRows > 0n;
  }

  /**
   * Ends a job that no worker holds (state `queued`) as `succeeded`, because its work was settled
   * elsewhere (a promotion rejected or cancelled while it waited). Returns false when the job is
   * running or ended. Pass the transaction that settles the work.
   */
  async settle(id: string, trx: Db = this.#db): Promise<boolean> {
    const done = await trx
      .updateTable('jobs')
      .set({ state: 'succeeded', lease_owner: null, lease_until: null, updated_at: sql<Date>`now()` })
      .where('id', '=', id)
      .where('state', '=', 'queued')
      .executeTakeFirst();
    return done.numUpdatedRows > 0n;
  }

  /**
   * Locks the job's row for the rest of `trx` (`SELECT … FOR UPDATE`) and returns it, or
   * undefined. With `fence`, returns it only while that claim holds it (state `running`, same
   * fence): the check a worker makes before writing its step's outcome.
   */
  async lock(trx: Transaction<StoreDatabase>, id: string, fence?: number): Promise<JobRow | undefined> {
    const row = await trx.selectFrom('jobs').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
    if (row === undefined || fence === undefined) return row;
    return row.state === 'running' && row.fence === fence ? row : undefined;
  }

  /**
   * Ends every running job's lease now, so the next claim takes the job at once. Only for a store
   * no other worker can be using — the embedded store, whose data dir one process holds: a job
   * running there at start-up belongs to a process that died (`kill -9`). Returns how many.
   */
  async expireLeases(): Promise<number> {
    const done = await this.#db
      .updateTable('jobs')
      .set({ lease_until: sql<Date>`now() - interval '1 millisecond'`, updated_at: sql<Date>`now()` })
      .where('state', '=', 'running')
      .executeTakeFirst();
    return Number(done.numUpdatedRows);
  }

  /** The job's row, or undefined. */
  async get(id: string): Promise<JobRow | undefined> {
    return this.#db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
  }
}

function leaseEnd(leaseMs: number) {
  return sql<Date>`now() + ${leaseMs} * interval '1 millisecond'`;
}

function checkLease(leaseMs: number): void {
  if (!Number.isInteger(leaseMs) || leaseMs <= 0) {
    throw new GantryError(
      'INTERNAL',
      `a job lease must be a positive whole number of milliseconds, not ${leaseMs}`,
    );
  }
}

function checkDelay(ms: number): void {
  if (!Number.isInteger(ms) || ms < 0) {
    throw new GantryError('INTERNAL', `a retry delay must be a whole number of milliseconds, not ${ms}`);
  }
}

function toClaimed(row: JobRow): ClaimedJob {
  if (row.lease_owner === null || row.lease_until === null) {
    throw new GantryError('INTERNAL', `job ${row.id} was claimed without a lease`);
  }
  return Object.freeze({
    id: row.id,
    kind: row.kind,
    payload: row.payload as JsonObject,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    fence: row.fence,
    owner: row.lease_owner,
    leaseUntil: row.lease_until,
  });
}

function leaseLost(id: string, fence: number, op: string): GantryError {
  return new GantryError(
    'STORE_LEASE_LOST',
    `job ${id}: ${op} refused, the lease with fence ${fence} is no longer held (it expired or another worker claimed the job)`,
    { details: { job: id, fence } },
  );
}
