/**
 * Who watches which promotion, and the events they get: state changes and copy progress of the
 * jobs this process runs, plus a poll of the watched promotions' rows (every `pollMs` while
 * anyone watches) so state changes made by another replica reach them too. A state is delivered
 * once per watcher, whichever path saw it first; `end` follows a terminal state.
 */
import { isTerminal, type PromotionState } from '../app.js';
import type { PromotionStreamEvent, PromotionView } from './desk.js';

type Listener = (event: PromotionStreamEvent) => void;

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

  /**
   * @param views reads the current views of promotions (for the first event and the poll)
   * @param pollMs how often watched promotions are read again
   */
  constructor(views: (ids: readonly string[]) => Promise<PromotionView[]>, pollMs: number) {
    this.#views = views;
    this.#pollMs = pollMs;
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
  }

  /** Copy progress of a promotion run here. */
  progress(event: Extract<PromotionStreamEvent, { type: 'progress' }>): void {
    for (const w of this.#watchers.get(event.id) ?? []) if (!w.ended) safe(w.listener, event);
  }

  /** Stops polling (watchers stay subscribed but get nothing more). */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#watchers.clear();
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

function safe(listener: Listener, event: PromotionStreamEvent): void {
  try {
    listener(event);
  } catch {
    // a listener's failure (a closed stream) is its own business
  }
}
