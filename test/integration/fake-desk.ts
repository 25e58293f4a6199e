/**
 * An in-memory promotion desk for route tests: it keeps promotions in a map, applies the desk's
 * own rules that the routes rely on (self-approval refused, ended promotions conflict, unknown
 * ids), records what it was asked, and lets a test drive state changes and progress that
 * `watch` listeners receive, as the runtime would.
 */
import {
  sameIdentity,
  type PromotionOutcome,
  type PromotionState,
  type RollbackOutcome,
} from '../../src/app.js';
import { GantryError } from '../../src/core/index.js';
import type {
  DeskCaller,
  PromoteBody,
  PromotionDesk,
  PromotionFilter,
  PromotionStreamEvent,
  PromotionView,
  ReleaseBody,
  RollbackBody,
} from '../../src/jobs/index.js';

const TERMINAL: readonly PromotionState[] = ['completed', 'rejected', 'failed', 'cancelled'];
const DIGEST = `sha256:${'a'.repeat(64)}`;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** One call the desk received. */
export interface DeskCall {
  readonly method: string;
  readonly caller?: DeskCaller;
  readonly args: readonly unknown[];
}

function outcome(app: string, from: string, to: string, reference?: string): PromotionOutcome {
  return {
    application: app,
    ...(reference !== undefined && !reference.includes(':') && { version: reference }),
    digest: (reference?.includes(':') ? reference : DIGEST) as PromotionOutcome['digest'],
    from: { environment: from, repository: `${from}.example/${app}` },
    to: { environment: to, repository: `${to}.example/${app}` },
    mode: 'copy',
    tags: { immutable: [], floating: [], changes: [] },
    gates: [],
    warnings: [],
    status: 'planned',
  };
}

/** The fake desk. */
export class FakeDesk implements PromotionDesk {
  readonly calls: DeskCall[] = [];
  readonly #promotions = new Map<string, Mutable<PromotionView>>();
  readonly #requesters = new Map<string, string>();
  readonly #listeners = new Map<string, Set<(event: PromotionStreamEvent) => void>>();
  #seq = 0;
  #clock = Date.UTC(2026, 5, 1, 12);

  /** Environments the fake knows, with the one each is promoted from. */
  constructor(readonly sources: Readonly<Record<string, string>> = { staging: 'dev', prod: 'staging' }) {}

  #time(): string {
    this.#clock += 1000;
    return new Date(this.#clock).toISOString();
  }

  #create(
    kind: 'promotion' | 'release',
    to: string,
    from: string | undefined,
    apps: PromotionOutcome[],
    caller: DeskCaller,
  ) {
    const source = from ?? this.sources[to];
    if (source === undefined)
      throw new GantryError('PROMOTION_NOT_ALLOWED', `environment "${to}" is not promoted from anywhere`);
    this.#seq += 1;
    const id = `prm_${String(this.#seq).padStart(6, '0')}`;
    const time = this.#time();
    const view: Mutable<PromotionView> = {
      id,
      kind,
      state: 'awaiting-approval',
      environment: to,
      from: source,
      requestedBy: caller.actor,
      requestedAt: time,
      updatedAt: time,
      applications: apps.map((a) => ({ ...a, from: { ...a.from, environment: source } })),
      decisions: [],
    };
    this.#promotions.set(id, view);
    this.#requesters.set(id, caller.identity);
    return { ...view };
  }

  #existing(id: string): Mutable<PromotionView> {
    const view = this.#promotions.get(id);
    if (!view) throw new GantryError('PROMOTION_UNKNOWN', `no promotion ${id}`);
    return view;
  }

  #waiting(id: string): Mutable<PromotionView> {
    const view = this.#existing(id);
    if (TERMINAL.includes(view.state))
      throw new GantryError('PROMOTION_STATE_CONFLICT', `promotion ${id} has ended (${view.state})`);
    return view;
  }

  promote(body: PromoteBody, caller: DeskCaller): Promise<PromotionView> {
    this.calls.push({ method: 'promote', caller, args: [body] });
    return Promise.resolve(
      this.#create(
        'promotion',
        body.to,
        body.from,
        [outcome(body.app, '', body.to, body.version ?? body.digest)],
        caller,
      ),
    );
  }

  release(body: ReleaseBody, caller: DeskCaller): Promise<PromotionView> {
    this.calls.push({ method: 'release', caller, args: [body] });
    const apps = body.applications.map((a) => outcome(a.app, '', body.to, a.version ?? a.digest));
    return Promise.resolve(this.#create('release', body.to, body.from, apps, caller));
  }

  get(id: string): Promise<PromotionView | undefined> {
    const view = this.#promotions.get(id);
    return Promise.resolve(view && { ...view });
  }

  list(filter: PromotionFilter): Promise<{ promotions: PromotionView[]; next?: string }> {
    this.calls.push({ method: 'list', args: [filter] });
    const limit = filter.limit ?? 50;
    const all = [...this.#promotions.values()]
      .reverse()
      .filter((p) => filter.before === undefined || p.id < filter.before)
      .filter((p) => filter.env === undefined || p.environment === filter.env)
      .filter((p) => filter.state === undefined || p.state === filter.state)
      .filter((p) => filter.app === undefined || p.applications.some((a) => a.application === filter.app))
      .filter((p) => !filter.apps || p.applications.some((a) => filter.apps?.has(a.application)));
    const promotions = all.slice(0, limit).map((p) => ({ ...p }));
    const last = promotions.at(-1);
    return Promise.resolve({ promotions, ...(all.length > limit && last && { next: last.id }) });
  }

  approve(id: string, caller: DeskCaller, comment?: string): Promise<PromotionView> {
    this.calls.push({ method: 'approve', caller, args: [id, comment] });
    const view = this.#waiting(id);
    if (sameIdentity(this.#requesters.get(id) ?? '', caller.identity))
      throw new GantryError(
        'PROMOTION_SELF_APPROVAL',
        `${caller.identity} requested promotion ${id} and cannot approve it`,
      );
    view.decisions = [
      ...view.decisions,
      {
        approver: caller.actor,
        decision: 'approved',
        ...(comment !== undefined && { comment }),
        time: this.#time(),
      },
    ];
    this.setState(id, 'approved');
    return Promise.resolve({ ...view });
  }

  reject(id: string, caller: DeskCaller, reason: string): Promise<PromotionView> {
    this.calls.push({ method: 'reject', caller, args: [id, reason] });
    const view = this.#waiting(id);
    view.decisions = [
      ...view.decisions,
      { approver: caller.actor, decision: 'rejected', comment: reason, time: this.#time() },
    ];
    view.reason = reason;
    this.setState(id, 'rejected');
    return Promise.resolve({ ...view });
  }

  cancel(id: string, caller: DeskCaller, reason?: string): Promise<PromotionView> {
    this.calls.push({ method: 'cancel', caller, args: [id, reason] });
    const view = this.#waiting(id);
    if (reason !== undefined) view.reason = reason;
    this.setState(id, 'cancelled');
    return Promise.resolve({ ...view });
  }

  rollback(body: RollbackBody, caller: DeskCaller): Promise<RollbackOutcome> {
    this.calls.push({ method: 'rollback', caller, args: [body] });
    return Promise.resolve({
      application: body.app,
      environment: body.env,
      repository: `${body.env}.example/${body.app}`,
      digest: DIGEST as RollbackOutcome['digest'],
      previousDigest: `sha256:${'b'.repeat(64)}` as RollbackOutcome['digest'],
      tags: ['latest'],
      attestation: `sha256:${'c'.repeat(64)}` as RollbackOutcome['digest'],
    });
  }

  watch(id: string, listener: (event: PromotionStreamEvent) => void): () => void {
    const set = this.#listeners.get(id) ?? new Set();
    this.#listeners.set(id, set);
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /** How many listeners watch `id`. */
  listeners(id: string): number {
    return this.#listeners.get(id)?.size ?? 0;
  }

  /** Delivers `event` to the listeners of its promotion. */
  emit(event: PromotionStreamEvent): void {
    for (const listener of [...(this.#listeners.get(event.id) ?? [])]) listener(event);
  }

  /** Moves promotion `id` to `state` and tells its listeners (`state`, then `end` when it ended). */
  setState(id: string, state: PromotionState): void {
    const view = this.#existing(id);
    view.state = state;
    view.updatedAt = this.#time();
    if (state === 'completed')
      view.applications = view.applications.map((a) => ({ ...a, status: 'completed' }));
    this.emit({ type: 'state', id, state, time: view.updatedAt });
    if (TERMINAL.includes(state)) this.emit({ type: 'end', id, promotion: { ...view } });
  }
}
