/**
 * The `lifecycle_runs` table: every gc or sync run `gantry serve` starts (on a schedule or through
 * the API), its state and its outcome (the run's LifecycleReport). A scheduled slot is created at
 * most once, whichever replica asks first (`create` answers undefined to the others): the row and
 * the job that runs it are inserted in the caller's transaction.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { JsonObject } from './canonical-json.js';
import { toJsonb, type LifecycleRunsTable, type StoreDatabase } from './schema.js';

/** A run as stored. */
export type LifecycleRunRow = Selectable<LifecycleRunsTable>;

/** A new run. */
export interface NewLifecycleRun {
  readonly kind: 'gc' | 'sync';
  /** The environment (gc) or the sync job. */
  readonly name: string;
  readonly trigger: 'schedule' | 'api';
  /** The cron slot (trigger `schedule` only). */
  readonly scheduledFor?: Date;
  /** Default false. */
  readonly dryRun?: boolean;
  /** Who asked: `gantry schedule`, or the API caller's actor. */
  readonly requestedBy: string;
  /** The id of the `lifecycle` job that runs it. */
  readonly jobId: string;
}

/** Filters of {@link LifecycleRuns.list}. */
export interface LifecycleRunQuery {
  readonly kind?: 'gc' | 'sync';
  readonly name?: string;
  /** Newest first; default 50, at most 500. */
  readonly limit?: number;
}

/** How a run ended. */
export interface LifecycleRunOutcome {
  readonly state: 'succeeded' | 'failed';
  readonly finishedAt: Date;
  /** The run's report (absent when the runner threw). */
  readonly report?: JsonObject;
  readonly error?: { readonly code: string; readonly message: string };
}

type Db = Kysely<StoreDatabase> | Transaction<StoreDatabase>;

/** A new run id: `run_` and 32 hex digits. */
export function newLifecycleRunId(): string {
  return `run_${randomUUID().replaceAll('-', '')}`;
}

/** Creates, updates and reads lifecycle runs. */
export class LifecycleRuns {
  readonly #db: Kysely<StoreDatabase>;

  /** @param db the store's query builder */
  constructor(db: Kysely<StoreDatabase>) {
    this.#db = db;
  }

  /**
   * Inserts a queued run in `trx` and returns it, or undefined when its slot (kind, name,
   * scheduledFor) already has a run: another replica created it first.
   */
  async create(
    trx: Db,
    run: NewLifecycleRun,
    id = newLifecycleRunId(),
  ): Promise<LifecycleRunRow | undefined> {
    return trx
      .insertInto('lifecycle_runs')
      .values({
        id,
        kind: run.kind,
        name: run.name,
        trigger: run.trigger,
        scheduled_for: run.scheduledFor ?? null,
        dry_run: run.dryRun ?? false,
        requested_by: run.requestedBy,
        job_id: run.jobId,
        state: 'queued',
        started_at: null,
        finished_at: null,
        report: null,
        error: null,
      })
      .onConflict((oc) => oc.constraint('lifecycle_runs_one_per_slot').doNothing())
      .returningAll()
      .executeTakeFirst();
  }

  /** Marks the run running (again, when a claim took over from a worker that died). */
  async started(trx: Db, id: string, at: Date): Promise<void> {
    await trx
      .updateTable('lifecycle_runs')
      .set({ state: 'running', started_at: at, finished_at: null })
      .where('id', '=', id)
      .execute();
  }

  /** Marks a running run queued again (its job was given back, e.g. the server stopped). */
  async requeued(db: Db, id: string): Promise<void> {
    await db
      .updateTable('lifecycle_runs')
      .set({ state: 'queued' })
      .where('id', '=', id)
      .where('state', '=', 'running')
      .execute();
  }

  /** Records how the run ended. */
  async finished(trx: Db, id: string, outcome: LifecycleRunOutcome): Promise<void> {
    await trx
      .updateTable('lifecycle_runs')
      .set({
        state: outcome.state,
        finished_at: outcome.finishedAt,
        report: outcome.report === undefined ? null : toJsonb(outcome.report),
        error: outcome.error === undefined ? null : toJsonb({ ...outcome.error }),
      })
      .where('id', '=', id)
      .execute();
  }

  /** The run, or undefined. */
  async get(id: string, db: Db = this.#db): Promise<LifecycleRunRow | undefined> {
    return db.selectFrom('lifecycle_runs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Runs matching `q`, newest first. */
  async list(q: LifecycleRunQuery = {}): Promise<LifecycleRunRow[]> {
    const limit = Math.min(Math.max(Math.trunc(q.limit ?? 50), 1), 500);
    let query = this.#db.selectFrom('lifecycle_runs').selectAll();
    if (q.kind !== undefined) query = query.where('kind', '=', q.kind);
    if (q.name !== undefined) query = query.where('name', '=', q.name);
    return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  }

  /** The latest slot a scheduled run of (kind, name) was created for, or undefined. */
  async lastSlot(kind: 'gc' | 'sync', name: string): Promise<Date | undefined> {
    const row = await this.#db
      .selectFrom('lifecycle_runs')
      .select((eb) => eb.fn.max('scheduled_for').as('slot'))
      .where('kind', '=', kind)
      .where('name', '=', name)
      .executeTakeFirst();
    return row?.slot == null ? undefined : new Date(row.slot);
  }

  /** Whether a run of (kind, name) that is not a dry run is queued or running. */
  async busy(kind: 'gc' | 'sync', name: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('lifecycle_runs')
      .select('id')
      .where('kind', '=', kind)
      .where('name', '=', name)
      .where('dry_run', '=', false)
      .where('state', 'in', ['queued', 'running'])
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** The newest run of every (kind, name), whatever its trigger. */
  async latest(): Promise<LifecycleRunRow[]> {
    const { rows } = await sql<LifecycleRunRow>`
      select distinct on (kind, name) *
      from lifecycle_runs
      order by kind, name, created_at desc, id desc`.execute(this.#db);
    return rows;
  }
}
