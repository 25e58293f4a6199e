/**
 * Who watches which promotion, and the events they get: state changes and copy progress of the
 * jobs this process runs, plus a poll of the watched promotions' rows (every `pollMs` while
 * anyone watches) so state changes made by another replica reach them too. A state is delivered
 * once per watcher, whichever path saw it first; `end` follows a terminal state.
 *
 * Watchers of every promotion (`watchAll`, the dashboard's live matrix) get each promotion's view
 * when it is created or changes state: at once for this process's changes, and through one shared
 * poll of the rows changed since the last poll (every `allPollMs`, only while someone watches) for
 * other replicas'. A view is delivered once per change, whichever path saw it first.
 */
import { isTerminal, type PromotionState } from '../app.js';
import type { DeskEvent, PromotionStreamEvent, PromotionView } from './desk.js';

type Listener = (event: PromotionStreamEvent) => void;
type AllListener = (event: DeskEvent) => void;

/** Options of the watch-all side of an {@link EventBus}. */
export interface WatchAllOptions {
  /** Views of the promotions changed after `since`, oldest change first, at most `pageSize`. */
  readonly changed: (since: Date) => Promise<PromotionView[]>;
  /** The most views `changed` returns at once: a full page is followed by the next one. Default 500. */
  readonly pageSize?: number;
  /** How often the store is polled while anyone watches all, ms. Default 1000. */
  readonly pollMs?: number;
  /** The clock. Default `() => new Date()`. */
  readonly now?: () => Date;
}

/**
 * Rows changed this long before the newest change seen are read again, so that a replica whose
 * clock is behind, or a transaction that commits late, is not missed (the views are deduplicated).
 */
const POLL_OVERLAP_MS = 5_000;

interface Watcher {
  readonly listener: Listener;
  last?: PromotionState;
  ended: boolean;
}

/** The watchers of one process. */
export class EventBus {
  readonly #watchers = new Map<string, Set<Watcher>>();
  readonly #views: (ids: readonly string[]) => Promise<PromotionView[]>;
  readonly #pollMs: number;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  readonly #all = new Set<AllListener>();
  readonly #allOptions: WatchAllOptions | undefined;
  /** Per promotion: the last change delivered to watchers of all, and its applications' names. */
  readonly #delivered = new Map<
    string,
    { updatedAt: string; key: string; state: PromotionState; apps: readonly string[] }
  >();
  /** Promotions whose view is being read for watchers of all. */
  readonly #reading = new Set<string>();
  #allTimer: NodeJS.Timeout | undefined;
  #allPolling = false;
  #since = new Date(0);

  /**
   * @param views reads the current views of promotions (for the first event and the poll)
   * @param pollMs how often watched promotions are read again
   * @param all how watchers of all promotions are served; without it `watchAll` gets local changes only
   */
  constructor(
    views: (ids: readonly string[]) => Promise<PromotionView[]>,
    pollMs: number,
    all?: WatchAllOptions,
  ) {
    this.#views = views;
    this.#pollMs = pollMs;
    this.#allOptions = all;
  }

  /**
   * Subscribes to every promotion's creations, state changes and (this process's) copy progress,
   * from now on. Returns the unsubscribe function.
   */
  watchAll(listener: AllListener): () => void {
    if (this.#all.size === 0)
      this.#since = new Date((this.#allOptions?.now ?? (() => new Date()))().getTime());
    this.#all.add(listener);
    this.#scheduleAll();
    return () => {
      this.#all.delete(listener);
      if (this.#all.size > 0) return;
      if (this.#allTimer) clearTimeout(this.#allTimer);
      this.#allTimer = undefined;
      this.#delivered.clear();
    };
  }

  /** A promotion was created here (its view is read and delivered to watchers of all). */
  created(id: string): void {
    if (this.#all.size > 0) this.#readAndDeliver(id);
  }

  /** Subscribes; the first event is the promotion's state now. Returns the unsubscribe function. */
  watch(id: string, listener: Listener): () => void {
    const w: Watcher = { listener, ended: false };
    let set = this.#watchers.get(id);
    if (!set) this.#watchers.set(id, (set = new Set()));
    set.add(w);
    this.#schedule();
    void this.#views([id]).then(
      ([view]) => {
        if (view) this.#deliver(w, id, view.state, view);
      },
      () => undefined,
    );
    return () => {
      set.delete(w);
      if (set.size === 0) this.#watchers.delete(id);
    };
  }

  /** A promotion run here entered `state`; `view` is read when it is terminal. */
  entered(id: string, state: PromotionState, view?: PromotionView): void {
    for (const w of this.#watchers.get(id) ?? []) this.#deliver(w, id, state, view);
    if (this.#all.size === 0) return;
    if (view?.state === state) this.#deliverAll(view);
    else this.#readAndDeliver(id);
  }

  /** Copy progress of a promotion run here. */
  progress(event: Extract<PromotionStreamEvent, { type: 'progress' }>): void {
    for (const w of this.#watchers.get(event.id) ?? []) if (!w.ended) safe(w.listener, event);
    if (this.#all.size === 0) return;
    const delivered = this.#delivered.get(event.id);
    // A promotion that started before anyone watched: its view first (progress follows).
    if (!delivered) return this.#readAndDeliver(event.id);
    const name = delivered.apps[event.application];
    if (name === undefined) return;
    const out: DeskEvent = {
      type: 'progress',
      id: event.id,
      application: name,
      bytesTransferred: event.bytesTransferred,
      bytesTotal: event.bytesTotal,
      blobsDone: event.blobsDone,
      blobsTotal: event.blobsTotal,
    };
    for (const l of this.#all) safeAll(l, out);
  }

  /** Stops polling (watchers stay subscribed but get nothing more). */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#watchers.clear();
    if (this.#allTimer) clearTimeout(this.#allTimer);
    this.#allTimer = undefined;
    this.#all.clear();
    this.#delivered.clear();
  }

  #readAndDeliver(id: string): void {
    if (this.#reading.has(id)) return;
    this.#reading.add(id);
    void this.#views([id])
      .then(
        ([view]) => {
          if (view) this.#deliverAll(view);
        },
        () => undefined, // the poll delivers it
      )
      .finally(() => this.#reading.delete(id));
  }

  /**
   * Delivers `view` to watchers of all unless what it shows was delivered already, or a later
   * change was. `updatedAt` is not part of what it shows: the runner stores copy progress about
   * once a second, which moves it without changing the view.
   */
  #deliverAll(view: PromotionView): void {
    if (this.#all.size === 0) return;
    const key = shownOf(view);
    const last = this.#delivered.get(view.id);
    if (last && (last.key === key || last.updatedAt > view.updatedAt)) return;
    this.#delivered.set(view.id, {
      updatedAt: view.updatedAt,
      key,
      state: view.state,
      apps: view.applications.map((a) => a.application),
    });
    const event: DeskEvent = { type: 'promotion', promotion: view };
    for (const l of this.#all) safeAll(l, event);
  }

  #scheduleAll(): void {
    if (this.#allTimer || this.#all.size === 0 || !this.#allOptions) return;
    this.#allTimer = setTimeout(() => {
      this.#allTimer = undefined;
      void this.#pollAll().finally(() => this.#scheduleAll());
    }, this.#allOptions.pollMs ?? 1000);
    this.#allTimer.unref();
  }

  async #pollAll(): Promise<void> {
    const options = this.#allOptions;
    if (!options || this.#allPolling || this.#all.size === 0) return;
    this.#allPolling = true;
    try {
      const pageSize = options.pageSize ?? 500;
      let from = new Date(this.#since.getTime() - POLL_OVERLAP_MS);
      // A busy store changes more than a page within the overlap: page on (a bounded number of
      // times per poll), from the last change read (repeats are deduplicated).
      for (let page = 0; page < 20; page++) {
        const views = await options.changed(from);
        for (const view of views) {
          const at = new Date(view.updatedAt);
          if (at > this.#since) this.#since = at;
          this.#deliverAll(view);
        }
        const last = views.at(-1);
        if (views.length < pageSize || !last) break;
        const next = new Date(new Date(last.updatedAt).getTime() - 1);
        if (next <= from) break;
        from = next;
      }
      // Promotions not changed within the overlap are never read again: forget them, except
      // those whose progress may still be reported (they keep their application names).
      const horizon = new Date(this.#since.getTime() - 2 * POLL_OVERLAP_MS).toISOString();
      for (const [id, d] of this.#delivered)
        if (d.updatedAt < horizon && isTerminal(d.state)) this.#delivered.delete(id);
    } catch {
      // the store is briefly unreachable: the next poll tries again
    } finally {
      this.#allPolling = false;
    }
  }

  #deliver(w: Watcher, id: string, state: PromotionState, view?: PromotionView): void {
    if (w.ended || w.last === state) return;
    // A terminal state is delivered with its view (the poll reads it when the caller had none).
    if (isTerminal(state) && !view) {
      this.#schedule();
      return;
    }
    w.last = state;
    safe(w.listener, { type: 'state', id, state, time: new Date().toISOString() });
    if (view && isTerminal(state)) {
      w.ended = true;
      safe(w.listener, { type: 'end', id, promotion: view });
    }
  }

  #schedule(): void {
    if (this.#timer || this.#watchers.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#poll().finally(() => this.#schedule());
    }, this.#pollMs);
    this.#timer.unref();
  }

  async #poll(): Promise<void> {
    if (this.#polling || this.#watchers.size === 0) return;
    this.#polling = true;
    try {
      const views = await this.#views([...this.#watchers.keys()]);
      for (const view of views)
        for (const w of this.#watchers.get(view.id) ?? []) this.#deliver(w, view.id, view.state, view);
    } catch {
      // the store is briefly unreachable: the next poll tries again
    } finally {
      this.#polling = false;
    }
  }
}

/** What a view shows watchers, without the time it was stored. */
function shownOf(view: PromotionView): string {
  const { updatedAt: _stored, ...shown } = view;
  return JSON.stringify(shown);
}

function safeAll(listener: AllListener, event: DeskEvent): void {
  try {
    listener(event);
  } catch {
    // a listener's failure (a closed stream) is its own business
  }
}

function safe(listener: Listener, event: PromotionStreamEvent): void {
  try {
    listener(event);
  } catch {
    // a listener's failure (a closed stream) is its own business
  }
}
