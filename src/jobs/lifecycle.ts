/**
 * Lifecycle jobs of `gantry serve` (issue 14): gc of an environment (its `retention.schedule`) and
 * sync jobs (their `schedule`), run once across replicas. Every replica ticks: for each schedule it
 * computes the due slot (lifecycle-slots.ts) and inserts the run with its `lifecycle` job in one
 * transaction; the slot's unique key lets exactly one replica create it. The runs go through the
 * durable job table (claim with a lease, heartbeat, fence), so a run whose replica dies is claimed
 * again once its lease runs out. Every item a run does is recorded in the ledger as it happens
 * (`gc.deleted`, `sync.copied`, `sync.tagged`) and the outcome at the end (`gc.completed`,
 * `gc.failed`, `sync.completed`, `sync.failed`, which webhooks can ask for); the report is kept
 * with the run. A dry run (API only) records its report and nothing in the ledger.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { App } from '../app.js';
import type { GcRunOptions, LifecycleItem, LifecycleReport, SyncRunOptions } from '../app-lifecycle.js';
import { GantryError, silentLogger, type Logger } from '../core/index.js';
import {
  Deployments,
  JobQueue,
  LifecycleRuns,
  type ClaimedJob,
  type JsonObject,
  type Ledger,
  type LifecycleRunRow,
  type Store,
  type StoreDatabase,
} from '../store/index.js';
import { configuredSchedules, dueSlot } from './lifecycle-slots.js';
import { WorkerLoop } from './worker-loop.js';

/** The job kind of a lifecycle run. */
export const LIFECYCLE_JOB = 'lifecycle';

/** The actor of scheduled runs' ledger entries. */
export const SCHEDULE_ACTOR = 'gantry schedule';

/**
 * What performs the runs: `runGc` (src/app-gc.ts) and `runSync` (src/app-sync.ts). Injected so
 * the jobs layer needs neither, and tests can run fakes.
 */
export interface LifecycleRunners {
  gc(app: App, env: string, options: GcRunOptions): Promise<LifecycleReport>;
  sync(app: App, name: string, options: SyncRunOptions): Promise<LifecycleReport>;
}

/** Runners of a build without gc and sync: every run fails with this explanation. */
export const unavailableRunners: LifecycleRunners = Object.freeze({
  gc: () => Promise.reject(new GantryError('INTERNAL', 'gc runs are not available in this build')),
  sync: () => Promise.reject(new GantryError('INTERNAL', 'sync runs are not available in this build')),
});

/** A run to create. */
export interface LifecycleRunRequest {
  readonly kind: 'gc' | 'sync';
  readonly name: string;
  readonly trigger: 'schedule' | 'api';
  readonly scheduledFor?: Date;
  readonly dryRun?: boolean;
  readonly requestedBy: string;
}

/**
 * Creates the run and its `lifecycle` job in one transaction and returns the run, or undefined
 * when its scheduled slot already has one (another replica created it).
 */
export async function requestLifecycleRun(
  db: Kysely<StoreDatabase>,
  request: LifecycleRunRequest,
): Promise<LifecycleRunRow | undefined> {
  return db.transaction().execute(async (trx) => {
    const jobId = randomUUID();
    const run = await new LifecycleRuns(db).create(trx, { ...request, jobId });
    if (run === undefined) return undefined;
    await new JobQueue(db).enqueue(
      { id: jobId, kind: LIFECYCLE_JOB, payload: { run: run.id }, maxAttempts: 3 },
      trx,
    );
    return run;
  });
}

/** Options of {@link LifecycleScheduler}. */
export interface LifecycleSchedulerOptions {
  readonly store: Store;
  /** The ledger with the webhook outbox hook. */
  readonly ledger: Ledger;
  /** The app of the current configuration (read at every tick and run: reloads take effect). */
  readonly app: () => App;
  /** What performs gc and sync runs. */
  readonly runners: LifecycleRunners;
  readonly logger?: Logger;
  /** The clock. Default `() => new Date()`. */
  readonly now?: () => Date;
  /** How often schedules are looked at, ms. Default 30000. */
  readonly tickMs?: number;
  /** How long an idle worker waits before looking for runs again, ms. Default 1000. */
  readonly idleMs?: number;
  /** The lease of a run's job, renewed every third of it, ms. Default 60000. */
  readonly leaseMs?: number;
}

/** Creates due scheduled runs and runs `lifecycle` jobs until stopped. */
export class LifecycleScheduler {
  readonly #o: LifecycleSchedulerOptions;
  readonly #queue: JobQueue;
  readonly #runs: LifecycleRuns;
  readonly #owner = `lifecycle:${randomUUID()}`;
  readonly #log: Logger;
  readonly #now: () => Date;
  /** When this replica first saw each schedule: the earliest slot it creates is after it. */
  readonly #seen = new Map<string, Date>();
  readonly #loop: WorkerLoop;
  #stopping = false;
  #tickTimer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #inFlight: AbortController | undefined;

  constructor(options: LifecycleSchedulerOptions) {
    this.#o = Object.freeze({ ...options });
    this.#queue = new JobQueue(options.store.db);
    this.#runs = new LifecycleRuns(options.store.db);
    this.#log = options.logger ?? silentLogger;
    this.#now = options.now ?? (() => new Date());
    this.#loop = new WorkerLoop({
      work: () => this.work(),
      logger: this.#log,
      failure: 'lifecycle worker: run failed',
      ...(options.idleMs !== undefined && { idleMs: options.idleMs }),
    });
  }

  /** Starts ticking (now, then every `tickMs`) and the worker loop. */
  start(): void {
    if (this.#loop.running) return;
    this.#stopping = false;
    const tick = (): void => {
      // One look at a time: a slow store does not pile ticks up.
      this.#ticking ??= this.tick()
        .then(() => undefined)
        .catch((error: unknown) => {
          const e = error as { code?: string; message?: string };
          this.#log.warn({ code: e.code, message: e.message }, 'lifecycle schedules: tick failed');
        })
        .finally(() => {
          this.#ticking = undefined;
        });
    };
    tick();
    this.#tickTimer = setInterval(tick, this.#o.tickMs ?? 30_000);
    this.#tickTimer.unref();
    this.#loop.start();
  }

  /** Looks for runs now rather than after the idle wait. */
  kick(): void {
    this.#loop.kick();
  }

  /** Stops ticking; a run in flight is aborted and its job given back for another replica. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#tickTimer);
    this.#inFlight?.abort(new GantryError('OPERATION_ABORTED', 'the server is stopping'));
    await Promise.all([this.#loop.stop(), this.#ticking]);
  }

  /** Creates the due slot of every schedule; returns the runs this replica created. */
  async tick(): Promise<LifecycleRunRow[]> {
    const now = this.#now();
    const created: LifecycleRunRow[] = [];
    for (const s of configuredSchedules(this.#o.app().config)) {
      const key = `${s.kind}/${s.name}/${s.schedule}`;
      const seen = this.#seen.get(key) ?? now;
      this.#seen.set(key, seen);
      const after = (await this.#runs.lastSlot(s.kind, s.name)) ?? seen;
      const slot = dueSlot(s.schedule, after, now);
      // A run still under way is not queued behind: the slot due once it ends runs then.
      if (slot === undefined || (await this.#runs.busy(s.kind, s.name))) continue;
      const run = await requestLifecycleRun(this.#o.store.db, {
        kind: s.kind,
        name: s.name,
        trigger: 'schedule',
        scheduledFor: slot,
        requestedBy: SCHEDULE_ACTOR,
      });
      if (run === undefined) continue;
      created.push(run);
      this.#log.info(
        { run: run.id, kind: s.kind, name: s.name, slot: slot.toISOString() },
        'lifecycle run scheduled',
      );
    }
    if (created.length > 0) this.kick();
    return created;
  }

  /** Claims one `lifecycle` job and runs it to its end; false when there was none. */
  async work(): Promise<boolean> {
    const job = await this.#queue.claim(this.#owner, this.#leaseMs(), { kinds: [LIFECYCLE_JOB] });
    if (!job) return false;
    await this.#run(job);
    return true;
  }

  #leaseMs(): number {
    return this.#o.leaseMs ?? 60_000;
  }

  async #run(job: ClaimedJob): Promise<void> {
    const db = this.#o.store.db;
    const runId = typeof job.payload.run === 'string' ? job.payload.run : '';
    const run = await this.#runs.get(runId);
    if (!run) {
      await this.#queue.fail(job.id, job.fence, { code: 'INTERNAL', message: `no lifecycle run ${runId}` });
      return;
    }
    if (run.state === 'succeeded' || run.state === 'failed') {
      await this.#queue.complete(job.id, job.fence);
      return;
    }
    if (job.attempts > job.maxAttempts) {
      // Its workers kept dying or losing the lease mid-run: end it rather than retry for ever.
      await this.#finish(job, run, undefined, {
        code: 'OPERATION_ABORTED',
        message: `the run was interrupted ${job.attempts - 1} times (its worker stopped or lost its lease); not retried`,
      });
      return;
    }
    const held = await db.transaction().execute(async (trx) => {
      if (!(await this.#queue.lock(trx, job.id, job.fence))) return false;
      await this.#runs.started(trx, run.id, this.#now());
      return true;
    });
    if (!held) return;
    const abort = new AbortController();
    this.#inFlight = abort;
    const leaseMs = this.#leaseMs();
    const heartbeat = setInterval(
      () => {
        this.#queue.heartbeat(job.id, job.owner, job.fence, leaseMs).catch((error: unknown) => {
          // The lease is gone: stop. A store hiccup: the next beat may still hold it.
          if ((error as { code?: unknown }).code === 'STORE_LEASE_LOST') abort.abort(error);
          else this.#log.warn({ run: run.id, ...errorOf(error) }, 'lifecycle run: heartbeat failed');
        });
      },
      Math.max(1, Math.floor(leaseMs / 3)),
    );
    let report: LifecycleReport | undefined;
    let thrown: { code: string; message: string } | undefined;
    try {
      report = await this.#perform(job, run, abort.signal);
    } catch (error) {
      thrown = errorOf(error);
    } finally {
      clearInterval(heartbeat);
      this.#inFlight = undefined;
    }
    if (abort.signal.aborted && (thrown !== undefined || report?.error !== undefined)) {
      // Cut short because the lease is lost (another worker runs it) or the server stops (the
      // job is given back): the outcome is not this claim's to record. A run that ended anyway
      // is recorded below, if the claim still holds.
      const reason = errorOf(abort.signal.reason as unknown);
      this.#log.warn({ run: run.id, ...reason }, 'lifecycle run stopped before its end');
      if (this.#stopping)
        await this.#queue.release(job.id, job.fence).then(
          () => this.#runs.requeued(this.#o.store.db, run.id),
          () => undefined,
        );
      return;
    }
    await this.#finish(job, run, report, thrown ?? report?.error);
  }

  /** Stores the outcome, its ledger entry (not for a dry run) and the job's end, while the claim holds. */
  async #finish(
    job: ClaimedJob,
    run: LifecycleRunRow,
    report: LifecycleReport | undefined,
    error: { readonly code: string; readonly message: string } | undefined,
  ): Promise<void> {
    const state = error === undefined ? 'succeeded' : 'failed';
    const finishedAt = this.#now();
    await this.#o.store.db.transaction().execute(async (trx) => {
      if (!(await this.#queue.lock(trx, job.id, job.fence))) return;
      await this.#runs.finished(trx, run.id, {
        state,
        finishedAt,
        ...(report !== undefined && { report: toJson(report) }),
        ...(error !== undefined && { error: { code: error.code, message: error.message } }),
      });
      if (!run.dry_run)
        await this.#o.ledger.append(trx, {
          type: `${run.kind}.${state === 'succeeded' ? 'completed' : 'failed'}`,
          subject: `${run.kind}/${run.name}`,
          actor: run.requested_by,
          time: finishedAt,
          payload: {
            run: run.id,
            kind: run.kind,
            name: run.name,
            trigger: run.trigger,
            ...(run.scheduled_for !== null && { scheduledFor: new Date(run.scheduled_for).toISOString() }),
            totals: toJson(report?.totals ?? {}),
            ...(error !== undefined && { error: { code: error.code, message: error.message } }),
          },
        });
      await this.#queue.complete(job.id, job.fence, trx);
    });
    this.#log.info({ run: run.id, kind: run.kind, name: run.name, state }, 'lifecycle run finished');
  }

  /** Calls the runner; an unknown environment or sync job (a reload removed it) throws. */
  async #perform(job: ClaimedJob, run: LifecycleRunRow, signal: AbortSignal): Promise<LifecycleReport> {
    const app = this.#o.app();
    const known =
      run.kind === 'gc' ? app.config.environments.has(run.name) : (app.config.sync?.has(run.name) ?? false);
    if (!known)
      throw new GantryError(
        'CONFIG_INVALID',
        `${run.kind === 'gc' ? 'environment' : 'sync job'} "${run.name}" is not in the configuration`,
      );
    const options = {
      dryRun: run.dry_run,
      signal,
      now: this.#now,
      ...(!run.dry_run && { onItem: (item: LifecycleItem) => this.#record(job, run, item) }),
    };
    if (run.kind === 'sync') return this.#o.runners.sync(app, run.name, options);
    const deployed = await new Deployments(this.#o.store.db, this.#o.ledger).current();
    return this.#o.runners.gc(app, run.name, {
      ...options,
      keepDigests: new Set(deployed.map((d) => d.digest)),
    });
  }

  /** Records one item in the ledger while this claim still holds the job. */
  async #record(job: ClaimedJob, run: LifecycleRunRow, item: LifecycleItem): Promise<void> {
    const type =
      item.action === 'delete' ? 'gc.deleted' : item.action === 'copy' ? 'sync.copied' : 'sync.tagged';
    await this.#o.store.db.transaction().execute(async (trx) => {
      if (!(await this.#queue.lock(trx, job.id, job.fence)))
        throw new GantryError(
          'STORE_LEASE_LOST',
          `lifecycle run ${run.id}: the job's lease was lost; another worker runs it`,
        );
      await this.#o.ledger.append(trx, {
        type,
        subject: `${item.repository}@${item.digest}`,
        actor: run.requested_by,
        time: this.#now(),
        payload: {
          run: run.id,
          [run.kind === 'gc' ? 'environment' : 'job']: run.name,
          repository: item.repository,
          digest: item.digest,
          ...(item.tags !== undefined && { tags: [...item.tags] }),
          ...(item.bytes !== undefined && { bytes: item.bytes }),
          ...(item.reason !== undefined && { reason: item.reason }),
        },
      });
    });
  }
}

function errorOf(error: unknown): { code: string; message: string } {
  const e = error as { code?: unknown; message?: unknown } | undefined;
  return {
    code: error instanceof GantryError && typeof e?.code === 'string' ? e.code : 'INTERNAL',
    message: typeof e?.message === 'string' ? e.message : String(error),
  };
}

function toJson(value: object): JsonObject {
  return JSON.parse(JSON.stringify(value)) as JsonObject;
}
