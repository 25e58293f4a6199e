/**
 * The promotion runner: worker loops that claim `promotion` jobs with a lease and a fencing token,
 * apply their plan one step at a time, and store each step's outcome under the fence
 * (docs/decisions/0013-durable-jobs.md). Per step:
 * - the applier records the step's ledger events into a buffer;
 * - one transaction then locks the job row, checks that this claim still holds it (state running,
 *   same fence), appends the buffered events and stores the new state and progress; a terminal
 *   state completes the job in that transaction, and `awaiting-approval` parks it;
 * - a lost lease (a heartbeat refused, or the fence check) aborts the step's signal, and the
 *   worker drops the job without writing; a step aborted for a cancellation or a shutdown is
 *   discarded too (its work is idempotent and is done again or not at all).
 * Steps that write to the target registry (copying, then tags and records) hold one of N leases
 * `registry:<host>#<slot>` while they run, so at most N promotions write into one registry at
 * once across every replica.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Transaction } from 'kysely';
import {
  isTerminal,
  type App,
  type PlainError,
  type PromotionPlan,
  type PromotionProgress,
  type PromotionState,
} from '../app.js';
import { GantryError, isGantryError, toGantryError, type Logger } from '../core/index.js';
import {
  sleep,
  type ClaimedJob,
  type JobQueue,
  type JsonObject,
  type HeldLease,
  type LeaseHolder,
  type Ledger,
  type Promotions,
  type PromotionRow,
  type StoreDatabase,
  type Store,
} from '../store/index.js';
import { BufferedLedger } from './buffered-ledger.js';
import type { RuntimeObserver, PromotionView } from './desk.js';
import type { EventBus } from './event-bus.js';
import { WorkerLoop } from './worker-loop.js';

/** The job kind of promotions and releases. */
export const PROMOTION_JOB = 'promotion';

/** Options of the runner (all part of `PromotionRuntimeOptions`). */
export interface RunnerOptions {
  /** Worker loops in this process. Default 4. */
  readonly workers?: number;
  /** The job lease, ms; heartbeats every third of it. Default 15 000. */
  readonly leaseMs?: number;
  /** How long an idle worker waits before looking for work again, ms. Default 500. */
  readonly idleMs?: number;
  /** How often a promotion awaiting approval is evaluated again (signed approvals arrive without the API), ms. Default 30 000. */
  readonly approvalRecheckMs?: number;
  /**
   * Promotions copying into one registry host at once, across replicas: a number, or one per
   * host. Default: the host's `registries.<name>.concurrency`, else 4.
   */
  readonly registryConcurrency?: number | ((host: string) => number);
  /** On `stop()`, how long running steps may finish before they are aborted, ms. Default 10 000. */
  readonly graceMs?: number;
  /** The first retry delay after an infrastructure failure, ms (doubles per attempt). Default 1 000. */
  readonly retryMs?: number;
  /** This process's worker name prefix. Default `<hostname>:<pid>:<random>`. */
  readonly owner?: string;
}

/** What the runner shares with the desk. */
export interface RunnerParts {
  readonly store: Store;
  readonly app: () => App;
  readonly queue: JobQueue;
  readonly promotions: Promotions;
  readonly ledger: Ledger;
  readonly leases: LeaseHolder;
  readonly bus: EventBus;
  readonly observer?: RuntimeObserver;
  readonly logger: Logger;
  readonly now: () => Date;
  readonly view: (id: string) => Promise<PromotionView | undefined>;
}

/** The applier a run uses for its steps from one read of the promotion's row. */
type PromotionApplier = ReturnType<App['promotions']['applier']>;

/** States before `verifying`: no promotion record can have been attached yet. */
const BEFORE_VERIFYING: ReadonlySet<PromotionState> = new Set([
  'requested',
  'gated',
  'awaiting-approval',
  'approved',
  'copying',
]);

/** States stored only with the state that follows them (their steps do no registry work). */
const BOOKKEEPING: ReadonlySet<PromotionState> = new Set(['gated', 'approved']);

/** A step that changes nothing but progress is stored at least this often (ms). */
const COMMIT_EVERY_MS = 1000;

/** What one run of a job keeps between its steps. */
interface RunState {
  /** When this run last stored the progress (performance.now()). */
  lastCommit: number;
  /** State changes made since then, announced once stored. */
  transitions: [PromotionState, PromotionState][];
}

/** What a step needs from its run. */
interface StepContext {
  readonly lease: JobLease;
  readonly slot: RegistrySlot;
  readonly applier: PromotionApplier;
  readonly buffer: BufferedLedger;
  readonly run: RunState;
}

/** Why a step's signal was aborted. */
type AbortWhy = 'lease' | 'stop-request' | 'shutdown';

class Aborted extends Error {
  constructor(readonly why: AbortWhy) {
    super(`aborted: ${why}`);
  }
}

/** Runs promotion jobs until stopped. */
export class PromotionRunner {
  readonly #p: RunnerParts;
  readonly #leaseMs: number;
  readonly #recheckMs: number;
  readonly #graceMs: number;
  readonly #retryMs: number;
  readonly #owner: string;
  readonly #concurrency: (host: string) => number;
  readonly #loop: WorkerLoop;
  /** Running jobs of this process: promotion id → the controller of its current step. */
  readonly #running = new Map<string, AbortController>();
  /** Promotions run here with a stop request seen since their row was last read. */
  readonly #stops = new Set<string>();

  constructor(parts: RunnerParts, options: RunnerOptions = {}) {
    this.#p = parts;
    this.#leaseMs = options.leaseMs ?? 15_000;
    this.#recheckMs = options.approvalRecheckMs ?? 30_000;
    this.#graceMs = options.graceMs ?? 10_000;
    this.#retryMs = options.retryMs ?? 1_000;
    this.#owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const c = options.registryConcurrency;
    this.#concurrency =
      typeof c === 'function'
        ? c
        : typeof c === 'number'
          ? () => c
          : (host) => configuredConcurrency(parts.app(), host);
    this.#loop = new WorkerLoop({
      work: (loop, claimed) => this.#claimAndRun(`${this.#owner}#${loop}`, claimed),
      logger: parts.logger,
      failure: 'promotion worker: failed',
      idleMs: options.idleMs ?? 500,
      concurrency: options.workers ?? 4,
    });
  }

  /** Starts the worker loops (once). */
  start(): void {
    // A runner once stopped stays stopped (its loop could start again).
    if (!this.#loop.stopping) this.#loop.start();
  }

  /** Wakes idle workers (a job was enqueued or woken here). */
  kick(): void {
    this.#loop.kick();
  }

  /** A stop (reject or cancel) was asked for: the step running for `id` here is aborted. */
  stopRequested(id: string): void {
    this.#stops.add(id);
    this.#running.get(id)?.abort(new Aborted('stop-request'));
  }

  /**
   * Stops claiming; running steps may finish for `graceMs`, then they are aborted; each job is
   * released (queued again for any replica) or left to its lease. Idempotent.
   */
  async stop(): Promise<void> {
    const all = this.#loop.stop();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#graceMs);
    });
    const first = await Promise.race([all.then(() => 'done' as const), grace]);
    clearTimeout(timer);
    if (first === 'timeout') {
      for (const c of this.#running.values()) c.abort(new Aborted('shutdown'));
      // A step that ignores its signal is given up on: its job's lease runs out.
      await Promise.race([all, new Promise((r) => setTimeout(r, 2_000).unref())]);
    }
  }

  /** Claims a promotion job and runs it; false when there was none. */
  async #claimAndRun(worker: string, claimed: () => void): Promise<boolean> {
    let job: ClaimedJob | undefined;
    try {
      job = await this.#p.queue.claim(worker, this.#leaseMs, { kinds: [PROMOTION_JOB] });
    } catch (error) {
      this.#p.logger.warn({ code: toGantryError(error).code }, 'cannot claim jobs');
      return false;
    }
    if (!job) return false;
    claimed();
    await this.#run(job).catch((error: unknown) => {
      const e = toGantryError(error);
      this.#p.logger.error({ job: job.id, code: e.code, message: e.message }, 'job runner failed');
    });
    return true;
  }

  /**
   * Runs a claimed job step by step until it ends, parks, loses its lease or the runner stops.
   * The promotion's row is read at the start and again only after a stop request or an aborted
   * step; in between, plan and progress are this worker's (it holds the job). One applier serves
   * the steps from each read, so manifests read for one tag are not read again for the next.
   */
  async #run(job: ClaimedJob): Promise<void> {
    const id = promotionOf(job);
    const lease = new JobLease(this.#p, job, this.#leaseMs, () => this.stopRequested(id));
    const slot = new RegistrySlot(this.#p.leases, `${job.owner}/${id}`, this.#leaseMs);
    const buffer = new BufferedLedger();
    let applier: PromotionApplier | undefined;
    let row: PromotionRow | undefined;
    let progress: PromotionProgress | undefined;
    let reread = true;
    const run: RunState = { lastCommit: performance.now(), transitions: [] };
    this.#stops.delete(id);
    try {
      for (;;) {
        if (lease.lost) return;
        if (this.#stops.delete(id)) reread = true;
        if (reread || !row || !progress || !applier) {
          row = await this.#p.promotions.get(id);
          if (!row) {
            await this.#p.queue.fail(job.id, job.fence, { code: 'INTERNAL', message: `no promotion ${id}` });
            return;
          }
          progress = row.progress as unknown as PromotionProgress;
          reread = false;
          // No promotion record can have been attached while the state read is before `verifying`
          // (entering it is committed before any record is written). A progress read again within
          // the run may lack records this run attached (such steps are stored at most once a
          // second), so each read gets an applier that looks for them once it is `verifying`.
          applier = this.#p
            .app()
            .promotions.applier({ ledger: buffer, fresh: BEFORE_VERIFYING.has(progress.state) });
        }
        const plan = row.plan as unknown as PromotionPlan;
        if (isTerminal(progress.state)) {
          await this.#p.store.db.transaction().execute(async (trx) => {
            if (await this.#p.queue.lock(trx, job.id, job.fence))
              await this.#p.queue.complete(job.id, job.fence, trx);
          });
          return;
        }
        if (row.stop_request !== null) {
          await slot.release();
          if (!(await this.#applyStop(job, row, plan, progress))) return;
          reread = true;
          continue;
        }
        if (this.#loop.stopping) {
          await this.#p.queue.release(job.id, job.fence).catch(() => undefined);
          return;
        }
        const outcome = await this.#step(job, row, plan, progress, { lease, slot, applier, buffer, run });
        if (outcome === 'lost') return;
        if (outcome === 'aborted') {
          if (lease.lost) return;
          if (this.#loop.stopping) {
            await this.#p.queue.release(job.id, job.fence).catch(() => undefined);
            return;
          }
          reread = true;
          continue; // a stop request: the next turn applies it
        }
        progress = outcome;
        if (isTerminal(outcome.state) || outcome.state === 'awaiting-approval') return;
      }
    } catch (error) {
      if (lease.lost) return;
      await this.#failed(job, id, error);
    } finally {
      lease.stop();
      await slot.release();
      this.#running.delete(id);
    }
  }

  /**
   * One step: run it (under a registry slot when it writes to a registry), then store its outcome
   * under the fence — when it changed the state, recorded events, or the last store is a second
   * old. Steps in between (each tag, each record) are idempotent: after a crash they are done
   * again from the stored progress, and writing a tag or record that is there changes nothing.
   */
  async #step(
    job: ClaimedJob,
    row: PromotionRow,
    plan: PromotionPlan,
    progress: PromotionProgress,
    ctx: StepContext,
  ): Promise<PromotionProgress | 'lost' | 'aborted'> {
    const { lease, slot, applier, buffer } = ctx;
    const controller = new AbortController();
    this.#running.set(row.id, controller);
    const onLost = (): void => controller.abort(new Aborted('lease'));
    lease.signal.addEventListener('abort', onLost, { once: true });
    const started = performance.now();
    const host = copyHost(plan, progress);
    const slotHost = writeHost(plan, progress);
    const reported = new Map<number, number>();
    try {
      if (slotHost) await slot.hold(slotHost, Math.max(1, this.#concurrency(slotHost)), controller.signal);
      else await slot.release();
      const signal = slotHost ? AbortSignal.any([slot.signal, controller.signal]) : controller.signal;
      const next = await applier.step(plan, progress, {
        actor: row.requester,
        subject: row.id,
        signal,
        onCopyProgress: (index, p) => {
          const before = reported.get(index) ?? 0;
          reported.set(index, p.bytesTransferred);
          if (host && p.bytesTransferred > before)
            this.#p.observer?.copied(host, p.bytesTransferred - before);
          this.#p.bus.progress({ type: 'progress', id: row.id, application: index, ...pick(p) });
        },
      });
      if (controller.signal.aborted || signal.aborted) {
        buffer.clear();
        ctx.run.transitions.length = 0;
        return 'aborted';
      }
      this.#p.observer?.step(progress.state, performance.now() - started);
      if (host) {
        const i = progress.copies.length;
        const copied = next.copies[i]?.bytesTransferred ?? 0;
        const rest = copied - (reported.get(i) ?? 0);
        if (rest > 0) this.#p.observer?.copied(host, rest);
      }
      if (next.state === 'failed' && next.error?.code.startsWith('REGISTRY_'))
        this.#p.observer?.registryError(host ?? targetHost(plan), next.error.code);
      // Bookkeeping states (gates passed, approved) do no registry work: they are stored, with
      // their ledger entries, together with the state that follows.
      const bookkeeping = BOOKKEEPING.has(next.state);
      // The time of the promotion records is stored before any record is attached: a claim that
      // resumes after a crash looks for an attached record by that time, and a record made with a
      // time that was never stored would be attached a second time (with the next claim's time).
      const due =
        !bookkeeping &&
        (next.state !== progress.state ||
          next.publishedAt !== progress.publishedAt ||
          buffer.events.length > 0 ||
          performance.now() - ctx.run.lastCommit >= COMMIT_EVERY_MS);
      if (next.state !== progress.state) ctx.run.transitions.push([progress.state, next.state]);
      if (!due) return next;
      const stored = await this.#commit(job, row.id, next, buffer, { awaiting: true });
      if (!stored) {
        lease.markLost();
        return 'lost';
      }
      buffer.clear();
      ctx.run.lastCommit = performance.now();
      for (const [before, after] of ctx.run.transitions.splice(0)) this.#entered(row.id, before, after);
      return next;
    } catch (error) {
      // The step's outcome is dropped, and with it what was not stored yet: the run reads the
      // stored state again (or ends) and does that work again.
      buffer.clear();
      ctx.run.transitions.length = 0;
      if (controller.signal.aborted || slot.signal.aborted) return 'aborted';
      throw error;
    } finally {
      lease.signal.removeEventListener('abort', onLost);
      this.#running.delete(row.id);
    }
  }

  /** Applies a stop request (reject or cancel); false when the lease was lost. */
  async #applyStop(
    job: ClaimedJob,
    row: PromotionRow,
    plan: PromotionPlan,
    progress: PromotionProgress,
  ): Promise<boolean> {
    const buffer = new BufferedLedger();
    const applier = this.#p.app().promotions.applier({ ledger: buffer });
    const reason = row.stop_reason ?? '';
    const options = { actor: row.stop_actor ?? row.requester, subject: row.id };
    let next: PromotionProgress = progress;
    const conflict = (e: unknown): boolean => isGantryError(e) && e.code === 'PROMOTION_STATE_CONFLICT';
    try {
      next =
        row.stop_request === 'reject'
          ? await applier.reject(plan, progress, reason, options)
          : await applier.cancel(plan, progress, reason, options);
    } catch (error) {
      if (!conflict(error)) throw error;
      // A rejection that came too late to reject still stops the promotion where it can.
      if (row.stop_request === 'reject')
        next = await applier.cancel(plan, progress, reason, options).catch((e: unknown) => {
          if (!conflict(e)) throw e;
          return progress;
        });
    }
    const stored = await this.#commit(job, row.id, next, buffer, { clearStop: true });
    if (stored) this.#entered(row.id, progress.state, next.state);
    return stored;
  }

  /**
   * Stores a step's outcome: in one transaction, checks the fence on the locked job row, appends
   * the buffered events, stores state and progress, and completes (terminal) or parks
   * (`awaiting-approval`) the job. False when this claim no longer holds the job.
   */
  async #commit(
    job: ClaimedJob,
    id: string,
    next: PromotionProgress,
    buffer: BufferedLedger,
    options: { awaiting?: boolean; clearStop?: boolean },
  ): Promise<boolean> {
    const time = this.#p.now();
    return this.#p.store.db.transaction().execute(async (trx) => {
      if (!(await this.#p.queue.lock(trx, job.id, job.fence))) return false;
      await buffer.flush(trx, this.#p.ledger);
      await storeProgress(this.#p.promotions, trx, id, next, time, options.clearStop === true);
      if (isTerminal(next.state)) await this.#p.queue.complete(job.id, job.fence, trx);
      else if (options.awaiting && next.state === 'awaiting-approval')
        await this.#p.queue.defer(job.id, job.fence, this.#recheckMs, trx);
      return true;
    });
  }

  /** An infrastructure failure (the store, a broken configuration): retried later, failed at the last attempt. */
  async #failed(job: ClaimedJob, id: string, error: unknown): Promise<void> {
    const e = toGantryError(error);
    const plain: PlainError = { code: e.code, message: e.message };
    const json: JsonObject = { code: e.code, message: e.message };
    this.#p.logger.warn(
      { promotion: id, code: e.code, message: e.message, attempt: job.attempts },
      'promotion step failed; retrying',
    );
    const last = job.attempts >= job.maxAttempts;
    await this.#p.store.db
      .transaction()
      .execute(async (trx) => {
        if (!(await this.#p.queue.lock(trx, job.id, job.fence))) return;
        if (last) {
          const row = await this.#p.promotions.lock(trx, id);
          const progress = row?.progress as unknown as PromotionProgress | undefined;
          if (row && progress && !isTerminal(progress.state)) {
            const time = this.#p.now();
            await this.#p.ledger.append(trx, {
              type: 'promotion.failed',
              subject: id,
              actor: row.requester,
              time,
              payload: { environment: row.to_env, error: json, state: progress.state },
            });
            await storeProgress(
              this.#p.promotions,
              trx,
              id,
              { ...progress, state: 'failed', error: plain },
              time,
              true,
            );
          }
        }
        await this.#p.queue.fail(
          job.id,
          job.fence,
          json,
          { retryInMs: this.#retryMs * 2 ** Math.min(job.attempts - 1, 6) },
          trx,
        );
      })
      .catch((x: unknown) => {
        this.#p.logger.error(
          { promotion: id, code: toGantryError(x).code },
          'cannot record the failure; the lease will run out',
        );
      });
    if (last) this.#entered(id, 'requested', 'failed');
  }

  #entered(id: string, before: PromotionState, after: PromotionState): void {
    if (before === after) return;
    this.#p.observer?.entered(after);
    if (isTerminal(after)) {
      void this.#p.view(id).then(
        (view) => this.#p.bus.entered(id, after, view),
        () => this.#p.bus.entered(id, after),
      );
    } else this.#p.bus.entered(id, after);
  }
}

/** Stores `next` as the promotion's state and progress inside `trx`. */
export async function storeProgress(
  promotions: Promotions,
  trx: Transaction<StoreDatabase>,
  id: string,
  next: PromotionProgress,
  time: Date,
  clearStop: boolean,
): Promise<void> {
  await promotions.update(
    trx,
    id,
    {
      state: next.state,
      progress: next as unknown as JsonObject,
      ...(next.reason !== undefined && { reason: next.reason }),
      ...(next.error !== undefined && { error: next.error as unknown as JsonObject }),
      clearStop,
    },
    time,
  );
}

/**
 * The job's lease while a worker holds it: a heartbeat every third of the lease (a refusal, or no
 * successful one for a whole lease, aborts `signal`); each beat also looks for a stop request.
 */
class JobLease {
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;
  #lastOk = Date.now();

  constructor(parts: RunnerParts, job: ClaimedJob, leaseMs: number, onStopRequest: () => void) {
    this.#timer = setInterval(
      () => {
        parts.queue.heartbeat(job.id, job.owner, job.fence, leaseMs).then(
          () => {
            this.#lastOk = Date.now();
          },
          (error: unknown) => {
            if (
              (isGantryError(error) && error.code === 'STORE_LEASE_LOST') ||
              Date.now() - this.#lastOk >= leaseMs
            )
              this.markLost();
          },
        );
        parts.promotions.get(promotionOf(job)).then(
          (row) => {
            if (row?.stop_request) onStopRequest();
          },
          () => undefined,
        );
      },
      Math.max(1, Math.floor(leaseMs / 3)),
    );
  }

  /** Aborts when the lease is lost. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get lost(): boolean {
    return this.#controller.signal.aborted;
  }

  markLost(): void {
    if (!this.lost)
      this.#controller.abort(
        new GantryError('STORE_LEASE_LOST', 'the job lease was lost; the step is abandoned'),
      );
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** The promotion a job runs (its payload's `promotion`; the job's id is the promotion's). */
function promotionOf(job: ClaimedJob): string {
  const p = job.payload.promotion;
  return typeof p === 'string' ? p : job.id;
}

/**
 * The registry host the step from `progress` writes to (content, tags, records), when it does:
 * such steps hold one of the host's slots.
 */
function writeHost(plan: PromotionPlan, progress: PromotionProgress): string | undefined {
  if (progress.state === 'verifying') return plan.applications[0]?.target.registry;
  return copyHost(plan, progress);
}

/** The registry host the step from `progress` copies into, when it copies. */
function copyHost(plan: PromotionPlan, progress: PromotionProgress): string | undefined {
  if (progress.state !== 'copying') return undefined;
  const a = plan.applications[progress.copies.length];
  return a && a.mode === 'copy' && !a.unchanged ? a.target.registry : undefined;
}

function targetHost(plan: PromotionPlan): string {
  return plan.applications[0]?.target.registry ?? 'unknown';
}

function pick(p: { bytesTransferred: number; bytesTotal: number; blobsDone: number; blobsTotal: number }) {
  return {
    bytesTransferred: p.bytesTransferred,
    bytesTotal: p.bytesTotal,
    blobsDone: p.blobsDone,
    blobsTotal: p.blobsTotal,
  };
}

/** `registries.<name>.concurrency` of the registry at `host`, else 4. */
function configuredConcurrency(app: App, host: string): number {
  for (const r of app.config.registries.values())
    if (r.host === host && r.concurrency !== undefined) return r.concurrency;
  return 4;
}

/**
 * One of a registry host's N write slots (`registry:<host>#<i>` leases), held by one job across
 * its consecutive steps that write there (the copy, each tag, each record) and given back when
 * it stops writing, parks or ends. Renewed every third of its lease; `signal` aborts when the
 * lease is lost.
 */
class RegistrySlot {
  readonly #leases: LeaseHolder;
  readonly #owner: string;
  readonly #ttlMs: number;
  #held: HeldLease | undefined;
  #host: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #controller = new AbortController();

  constructor(leases: LeaseHolder, owner: string, ttlMs: number) {
    this.#leases = leases;
    this.#owner = owner;
    this.#ttlMs = ttlMs;
  }

  /** Aborts when the slot held is lost. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Holds a slot of `host` (one of `slots`), waiting for one to be free unless `signal` aborts. */
  async hold(host: string, slots: number, signal: AbortSignal): Promise<void> {
    if (this.#held && this.#host === host && !this.#controller.signal.aborted) return;
    await this.release();
    const names = Array.from({ length: slots }, (_, i) => `registry:${host}#${i}`);
    let held: HeldLease | undefined;
    for (;;) {
      signal.throwIfAborted();
      held = await this.#leases.acquireAny(names, this.#owner, this.#ttlMs);
      if (held) break;
      await sleep(100, signal);
    }
    const controller = new AbortController();
    this.#controller = controller;
    this.#held = held;
    this.#host = host;
    const lease = held;
    this.#timer = setInterval(
      () => {
        this.#leases.renew(lease, this.#ttlMs).then(
          (ok) => {
            if (!ok) controller.abort(new Aborted('lease'));
          },
          () => controller.abort(new Aborted('lease')),
        );
      },
      Math.max(1, Math.floor(this.#ttlMs / 3)),
    );
  }

  /** Gives the slot back (nothing when none is held). */
  async release(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const held = this.#held;
    this.#held = undefined;
    this.#host = undefined;
    if (held) await this.#leases.release(held).catch(() => undefined);
  }
}
