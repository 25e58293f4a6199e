/**
 * The durable promotion runtime behind `gantry serve`: the {@link PromotionDesk} the routes call,
 * over a store and the current app, and the runner that applies promotions as jobs
 * (docs/decisions/0013-durable-jobs.md). Every state change commits with its ledger entry in one
 * transaction; registry I/O (planning, rollback) happens outside transactions.
 */
import { randomUUID } from 'node:crypto';
import {
  isTerminal,
  initialProgress,
  sameIdentity,
  type App,
  type PromotionPlan,
  type PromotionProgress,
  type RollbackOutcome,
} from '../app.js';
import type { Transaction } from 'kysely';
import { GantryError, silentLogger, type Logger } from '../core/index.js';
import type { LeaseHolder } from '../store/index.js';
import {
  Candidates,
  JobQueue,
  Leases,
  MemoryLeases,
  Ledger,
  Promotions,
  type JsonObject,
  type PromotionRow,
  type Store,
  type StoreDatabase,
} from '../store/index.js';
import { BufferedLedger } from './buffered-ledger.js';
import type {
  DeskCaller,
  DeskEvent,
  PromoteBody,
  PromotionDesk,
  PromotionFilter,
  PromotionStreamEvent,
  PromotionView,
  ReleaseBody,
  RollbackBody,
  RuntimeObserver,
} from './desk.js';
import { EventBus } from './event-bus.js';
import { PROMOTION_JOB, PromotionRunner, storeProgress, type RunnerOptions } from './runner.js';
import { viewOf } from './views.js';

/** Options of {@link PromotionRuntime}. */
export interface PromotionRuntimeOptions extends RunnerOptions {
  /** The open store (the caller closes it, after `stop()`). */
  readonly store: Store;
  /** The app of the current configuration (called per request and per step: reloads take effect). */
  readonly app: () => App;
  /** Metrics. Default: none. */
  readonly observer?: RuntimeObserver;
  /** Logs (pino-compatible). Default: none. */
  readonly logger?: Logger;
  /** The clock. Default `() => new Date()`. */
  readonly now?: () => Date;
  /** How often watched promotions are read again (changes made by other replicas), ms. Default 500. */
  readonly watchPollMs?: number;
  /** How often the store is polled for changed promotions while anyone watches all of them, ms. Default 1000. */
  readonly watchAllPollMs?: number;
  /** Attempts of a promotion job before an infrastructure failure fails it. Default 5. */
  readonly maxAttempts?: number;
  /** The ledger to append to (e.g. one with an outbox hook). Default: a new one over the store. */
  readonly ledger?: Ledger;
}

const WAITING = new Set(['requested', 'gated', 'awaiting-approval']);
/** Changed promotions read per query of the watch-all poll. */
const WATCH_ALL_PAGE = 500;
const CANCELLABLE = new Set(['requested', 'gated', 'awaiting-approval', 'approved', 'copying']);

/** Who requests promotions Gantry makes on its own (auto-promotion of new candidates). */
export const AUTO_CALLER: DeskCaller = Object.freeze({
  actor: 'gantry auto',
  identity: 'gantry auto',
  groups: Object.freeze<string[]>([]),
});

/** A promotion planned outside any transaction (registry reads done), ready to be stored. */
export interface PlannedRequest {
  readonly plan: PromotionPlan;
  readonly caller: DeskCaller;
  /** When it was asked for. */
  readonly time: Date;
}

/** What {@link PromotionRuntime.within} offers inside its transaction. */
export interface RuntimeTransaction {
  readonly trx: Transaction<StoreDatabase>;
  /** Stores a planned promotion, its job and `promotion.requested`; returns its id. */
  request(planned: PlannedRequest): Promise<string>;
  /**
   * Cancels a promotion before its tags are written (at once, or by asking the runner that holds
   * its job); `PROMOTION_STATE_CONFLICT` once it can no longer be cancelled.
   */
  cancel(id: string, caller: DeskCaller, reason: string): Promise<void>;
}

/** What happens once a runtime transaction commits. */
interface AfterCommit {
  readonly requested: string[];
  readonly asked: string[];
  readonly entered: [string, PromotionProgress['state']][];
}

/** The promotion desk and its runner. */
export class PromotionRuntime implements PromotionDesk {
  readonly #o: PromotionRuntimeOptions;
  readonly #now: () => Date;
  readonly #queue: JobQueue;
  readonly #promotions: Promotions;
  readonly #ledger: Ledger;
  readonly #leases: LeaseHolder;
  readonly #bus: EventBus;
  readonly #runner: PromotionRunner;

  constructor(options: PromotionRuntimeOptions) {
    this.#o = Object.freeze({ ...options });
    this.#now = options.now ?? (() => new Date());
    const db = options.store.db;
    this.#queue = new JobQueue(db);
    this.#promotions = new Promotions(db);
    this.#ledger = options.ledger ?? new Ledger(db);
    this.#leases = leasesFor(options.store);
    this.#bus = new EventBus((ids) => this.#views(ids), options.watchPollMs ?? 500, {
      changed: async (since) =>
        this.#withDecisions(await this.#promotions.changedSince(since, WATCH_ALL_PAGE)),
      pageSize: WATCH_ALL_PAGE,
      pollMs: options.watchAllPollMs ?? 1000,
      now: this.#now,
    });
    this.#runner = new PromotionRunner(
      {
        store: options.store,
        app: options.app,
        queue: this.#queue,
        promotions: this.#promotions,
        ledger: this.#ledger,
        leases: this.#leases,
        bus: this.#bus,
        ...(options.observer && { observer: options.observer }),
        logger: options.logger ?? silentLogger,
        now: this.#now,
        view: (id) => this.get(id),
      },
      options,
    );
  }

  /** Starts running promotion jobs. */
  start(): void {
    this.#runner.start();
  }

  /** Stops running jobs (see `PromotionRunner.stop`) and watching. Call before closing the store. */
  async stop(): Promise<void> {
    await this.#runner.stop();
    this.#bus.close();
  }

  /**
   * Holds the lease `name` (across replicas) while `task` runs; `task`'s signal aborts when the
   * lease is lost. E.g. a lock around a registry's tag-schema referrer index.
   */
  withLease<T>(name: string, ttlMs: number, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.#leases.withLease(name, { owner: `lease:${randomUUID()}`, ttlMs }, (signal) => task(signal));
  }

  async promote(body: PromoteBody, caller: DeskCaller): Promise<PromotionView> {
    const planned = await this.plan(body, caller);
    return this.#request(planned.plan, caller, planned.time);
  }

  /**
   * Plans a promotion as {@link promote} does (registry reads, no transaction open) without
   * storing it: store it with {@link within}'s `request`.
   */
  async plan(body: PromoteBody, caller: DeskCaller): Promise<PlannedRequest> {
    if ((body.version === undefined) === (body.digest === undefined))
      throw new GantryError('API_REQUEST_INVALID', 'give exactly one of "version" and "digest"');
    const now = this.#now();
    const plan = await this.#o.app().promotions.plan({
      app: body.app,
      reference: (body.version ?? body.digest) as string,
      to: body.to,
      ...(body.from !== undefined && { from: body.from }),
      ...(body.override !== undefined && { override: body.override }),
      actor: caller.identity,
      now,
    });
    return { plan, caller, time: now };
  }

  /**
   * Runs `work` in one store transaction, where it may store planned promotions and cancel
   * waiting ones together with its own writes; once it commits, runners are woken and state
   * changes reported. No registry I/O inside `work`.
   */
  async within<T>(work: (tx: RuntimeTransaction) => Promise<T>): Promise<T> {
    const app = this.#o.app();
    return this.#transaction((trx, after) =>
      work({
        trx,
        request: (planned) => this.#insert(trx, planned, after),
        cancel: (id, caller, reason) => this.#stopIn(trx, app, id, caller, 'cancel', reason, after),
      }),
    );
  }

  /** One transaction; what it started or changed is reported once it commits. */
  async #transaction<T>(
    work: (trx: Transaction<StoreDatabase>, after: AfterCommit) => Promise<T>,
  ): Promise<T> {
    const after: AfterCommit = { requested: [], asked: [], entered: [] };
    const result = await this.#o.store.db.transaction().execute((trx) => work(trx, after));
    await this.#afterCommit(after);
    return result;
  }

  async release(body: ReleaseBody, caller: DeskCaller): Promise<PromotionView> {
    const applications = body.applications.map((a) => {
      if ((a.version === undefined) === (a.digest === undefined))
        throw new GantryError('API_REQUEST_INVALID', `${a.app}: give exactly one of "version" and "digest"`);
      return { app: a.app, reference: (a.version ?? a.digest) as string };
    });
    const now = this.#now();
    const plan = await this.#o.app().promotions.planRelease({
      applications,
      to: body.to,
      ...(body.from !== undefined && { from: body.from }),
      actor: caller.identity,
      now,
    });
    return this.#request(plan, caller, now);
  }

  /** Stores a planned promotion, its job and `promotion.requested` in one transaction. */
  async #request(plan: PromotionPlan, caller: DeskCaller, now: Date): Promise<PromotionView> {
    const id = await this.within((tx) => tx.request({ plan, caller, time: now }));
    return this.#required(id);
  }

  async #insert(
    trx: Transaction<StoreDatabase>,
    { plan, caller, time: now }: PlannedRequest,
    after: AfterCommit,
  ): Promise<string> {
    const id = randomUUID();
    const progress = initialProgress(plan);
    const first = plan.applications[0];
    await this.#promotions.insert(trx, {
      id,
      kind: plan.kind,
      apps: plan.applications.map((a) => a.application),
      subjects: plan.applications.map((a) => `${a.application}@${a.digest}`),
      ...(first?.version !== undefined && { version: first.version }),
      digest: first?.digest ?? '',
      from: plan.from,
      to: plan.environment,
      state: progress.state,
      requester: caller.actor,
      requesterIdentity: caller.identity,
      plan: plan as unknown as JsonObject,
      progress: progress as unknown as JsonObject,
      time: now,
    });
    await this.#queue.enqueue(
      {
        id,
        kind: PROMOTION_JOB,
        payload: { promotion: id },
        ...(this.#o.maxAttempts !== undefined && { maxAttempts: this.#o.maxAttempts }),
      },
      trx,
    );
    await this.#ledger.append(trx, {
      type: 'promotion.requested',
      subject: id,
      actor: caller.actor,
      time: now,
      payload: { environment: plan.environment, plan: plan as unknown as JsonObject },
    });
    after.requested.push(id);
    return id;
  }

  async #afterCommit(after: AfterCommit): Promise<void> {
    for (const id of after.requested) {
      this.#o.observer?.entered('requested');
      this.#bus.created(id);
    }
    if (after.requested.length > 0) this.#runner.kick();
    for (const id of after.asked) this.#runner.stopRequested(id);
    for (const [id, state] of after.entered) {
      const view = await this.get(id);
      this.#o.observer?.entered(state);
      this.#bus.entered(id, state, view);
    }
  }

  async get(id: string): Promise<PromotionView | undefined> {
    const [view] = await this.#views([id]);
    return view;
  }

  async list(filter: PromotionFilter): Promise<{ promotions: PromotionView[]; next?: string }> {
    const page = await this.#promotions.list({
      ...(filter.app !== undefined && { app: filter.app }),
      ...(filter.env !== undefined && { env: filter.env }),
      ...(filter.state !== undefined && { state: filter.state }),
      ...(filter.apps !== undefined && { apps: [...filter.apps] }),
      ...(filter.limit !== undefined && { limit: filter.limit }),
      ...(filter.before !== undefined && { before: filter.before }),
    });
    const promotions = await this.#withDecisions(page.rows);
    return page.next === undefined ? { promotions } : { promotions, next: page.next };
  }

  async approve(id: string, caller: DeskCaller, comment?: string): Promise<PromotionView> {
    await this.#o.store.db.transaction().execute(async (trx) => {
      const row = await this.#locked(trx, id);
      if (isTerminal(stateOf(row))) throw ended(row, 'approved');
      if (sameIdentity(caller.identity, row.requester_identity))
        throw new GantryError(
          'PROMOTION_SELF_APPROVAL',
          `${caller.identity} requested promotion ${id} and cannot approve it`,
          { details: { promotion: id } },
        );
      const added = await this.#promotions.decide(trx, {
        promotionId: id,
        approver: caller.identity,
        actor: caller.actor,
        decision: 'approved',
        groups: caller.groups,
        ...(comment !== undefined && { comment }),
      });
      if (!added) return;
      await this.#ledger.append(trx, {
        type: 'promotion.approval',
        subject: id,
        actor: caller.actor,
        time: this.#now(),
        payload: {
          environment: row.to_env,
          approver: caller.identity,
          groups: [...caller.groups],
          ...(comment !== undefined && { comment }),
        },
      });
      await this.#queue.wake(id, trx);
    });
    this.#runner.kick();
    return this.#required(id);
  }

  reject(id: string, caller: DeskCaller, reason: string): Promise<PromotionView> {
    return this.#stop(id, caller, 'reject', reason);
  }

  cancel(id: string, caller: DeskCaller, reason?: string): Promise<PromotionView> {
    return this.#stop(id, caller, 'cancel', reason ?? `cancelled by ${caller.identity}`);
  }

  /**
   * Rejects or cancels: at once when no worker runs the promotion's job (its state, ledger entry
   * and the job's end commit together), else by asking its runner, which stops at the next step.
   */
  async #stop(
    id: string,
    caller: DeskCaller,
    kind: 'reject' | 'cancel',
    reason: string,
  ): Promise<PromotionView> {
    const app = this.#o.app();
    await this.#transaction((trx, after) => this.#stopIn(trx, app, id, caller, kind, reason, after));
    return this.#required(id);
  }

  async #stopIn(
    trx: Transaction<StoreDatabase>,
    app: App,
    id: string,
    caller: DeskCaller,
    kind: 'reject' | 'cancel',
    reason: string,
    after: AfterCommit,
  ): Promise<void> {
    const row = await this.#locked(trx, id);
    const state = stateOf(row);
    const allowed = kind === 'reject' ? WAITING : CANCELLABLE;
    if (!allowed.has(state)) throw ended(row, kind === 'reject' ? 'rejected' : 'cancelled');
    if (kind === 'reject')
      await this.#promotions.decide(trx, {
        promotionId: id,
        approver: caller.identity,
        actor: caller.actor,
        decision: 'rejected',
        groups: caller.groups,
        comment: reason,
      });
    const job = await this.#queue.lock(trx, id);
    if (job?.state === 'running') {
      await this.#promotions.requestStop(trx, id, { kind, reason, actor: caller.actor });
      after.asked.push(id);
      return;
    }
    const buffer = new BufferedLedger();
    const applier = app.promotions.applier({ ledger: buffer });
    const plan = row.plan as unknown as PromotionPlan;
    const progress = row.progress as unknown as PromotionProgress;
    const options = { actor: caller.actor, subject: id };
    const next =
      kind === 'reject'
        ? await applier.reject(plan, progress, reason, options)
        : await applier.cancel(plan, progress, reason, options);
    await buffer.flush(trx, this.#ledger);
    await storeProgress(this.#promotions, trx, id, next, this.#now(), true);
    await this.#queue.settle(id, trx);
    after.entered.push([id, next.state]);
  }

  /**
   * Rolls back (a tag move; registry I/O before the transaction), then in one transaction records
   * `rollback.completed`, puts a hold on auto-promotion of the application into the environment
   * (`hold.created`, unless one is active) and cancels auto-promotions of it there that have not
   * written tags: automation never undoes a rollback.
   */
  async rollback(body: RollbackBody, caller: DeskCaller): Promise<RollbackOutcome> {
    const now = this.#now();
    const app = this.#o.app();
    const outcome = await app.promotions.rollback(body.app, body.env, body.to, {
      actor: caller.identity,
      now,
    });
    const candidates = new Candidates(this.#o.store.db);
    await this.#transaction(async (trx, after) => {
      await candidates.lockPair(trx, body.app, body.env);
      await this.#ledger.append(trx, {
        type: 'rollback.completed',
        subject: `${body.env}: ${body.app}@${outcome.digest}`,
        actor: caller.actor,
        time: now,
        payload: { environment: body.env, outcome: JSON.parse(JSON.stringify(outcome)) as JsonObject },
      });
      const to = outcome.version ?? outcome.digest;
      const hold = await candidates.hold(trx, {
        app: body.app,
        environment: body.env,
        reason: `rolled back to ${to} by ${caller.identity}`,
        actor: caller.actor,
        time: now,
      });
      if (hold)
        await this.#ledger.append(trx, {
          type: 'hold.created',
          subject: `${body.env}: ${body.app}`,
          actor: caller.actor,
          time: now,
          payload: {
            hold: hold.id,
            application: body.app,
            environment: body.env,
            reason: hold.reason,
            digest: outcome.digest,
          },
        });
      const pending = await candidates.promotionsBy(trx, {
        app: body.app,
        environment: body.env,
        requester: AUTO_CALLER.actor,
        states: [...CANCELLABLE],
      });
      for (const p of pending)
        await this.#stopIn(
          trx,
          app,
          p.id,
          caller,
          'cancel',
          `auto-promotion held: ${body.app} was rolled back in ${body.env}`,
          after,
        );
    });
    return outcome;
  }

  watch(id: string, listener: (event: PromotionStreamEvent) => void): () => void {
    return this.#bus.watch(id, listener);
  }

  watchAll(listener: (event: DeskEvent) => void): () => void {
    return this.#bus.watchAll(listener);
  }

  async #locked(trx: Parameters<Promotions['lock']>[0], id: string): Promise<PromotionRow> {
    const row = await this.#promotions.lock(trx, id);
    if (!row) throw notFound(id);
    return row;
  }

  async #required(id: string): Promise<PromotionView> {
    const view = await this.get(id);
    if (!view) throw notFound(id);
    return view;
  }

  async #views(ids: readonly string[]): Promise<PromotionView[]> {
    return this.#withDecisions(await this.#promotions.getMany(ids));
  }

  async #withDecisions(rows: readonly PromotionRow[]): Promise<PromotionView[]> {
    const decisions = await this.#promotions.decisions(rows.map((r) => r.id));
    return rows.map((r) =>
      viewOf(
        r,
        decisions.filter((d) => d.promotion_id === r.id),
      ),
    );
  }
}

function stateOf(row: PromotionRow): PromotionProgress['state'] {
  return (row.progress as unknown as PromotionProgress).state;
}

function notFound(id: string): GantryError {
  return new GantryError('API_NOT_FOUND', `no promotion ${id}`, { details: { promotion: id } });
}

function ended(row: PromotionRow, wanted: string): GantryError {
  const state = stateOf(row);
  return new GantryError(
    'PROMOTION_STATE_CONFLICT',
    `promotion ${row.id} is ${state}: it can no longer be ${wanted}`,
    { details: { promotion: row.id, state } },
  );
}

/** In-process leases of each embedded store (shared by every runtime on it). */
const memoryLeases = new WeakMap<Store, MemoryLeases>();

/**
 * The leases of `store`: in the database for PostgreSQL (replicas share them); in this process
 * for the embedded store, which one process holds (its data-dir lock), so no query is needed.
 */
function leasesFor(store: Store): LeaseHolder {
  if (store.kind !== 'pglite') return new Leases(store.db);
  let leases = memoryLeases.get(store);
  if (!leases) memoryLeases.set(store, (leases = new MemoryLeases()));
  return leases;
}
