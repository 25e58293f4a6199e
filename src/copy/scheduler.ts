/**
 * Bounded concurrency for copy work: a limit overall and a limit per registry host, shared by
 * every copy in the process (bulk copies included), so parallel images cannot overload a
 * registry. Work on the same key runs once and everyone waiting on it shares the result.
 *
 * Light work (a mount, a blob small enough to travel as one buffer) moves no bulk data, and a
 * bulk copy of small images is made of little else; it draws on a second pool of slots,
 * {@link LIGHT_FACTOR} times as large, instead of waiting behind the limits meant for layers.
 */

/** How much larger the pool for light work is than the pool for transfers. */
export const LIGHT_FACTOR = 4;

/** Options for {@link Scheduler}. */
export interface SchedulerOptions {
  /** Transfers in flight overall. Default 8. */
  readonly concurrency?: number;
  /** Transfers in flight per registry host. Default 6. */
  readonly perHost?: number;
}

class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(size: number) {
    this.#free = Math.max(1, size);
  }
  /** Takes a slot; a wait cut short by `signal` rejects with its reason and takes none. */
  async acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const i = this.#waiting.indexOf(grant);
        if (i !== -1) this.#waiting.splice(i, 1);
        reject(signal?.reason as Error);
      };
      this.#waiting.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

/** Slots overall and per host. */
class Pool {
  readonly #overall: Semaphore;
  readonly #perHost: number;
  readonly #hosts = new Map<string, Semaphore>();

  constructor(overall: number, perHost: number) {
    this.#overall = new Semaphore(overall);
    this.#perHost = perHost;
  }

  async run<T>(hosts: readonly string[], task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const sems = [...new Set(hosts)].sort().map((h) => this.#host(h));
    const held: Semaphore[] = [];
    try {
      for (const s of [this.#overall, ...sems]) {
        await s.acquire(signal);
        held.push(s);
      }
    } catch (err) {
      for (const s of held.reverse()) s.release();
      throw err;
    }
    try {
      return await task();
    } finally {
      for (const s of held.reverse()) s.release();
    }
  }

  #host(host: string): Semaphore {
    let s = this.#hosts.get(host);
    if (!s) {
      s = new Semaphore(this.#perHost);
      this.#hosts.set(host, s);
    }
    return s;
  }
}

/** Runs tasks within the overall and per-host limits, deduplicating by key. */
export class Scheduler {
  readonly concurrency: number;
  readonly perHost: number;
  readonly #transfers: Pool;
  readonly #light: Pool;
  readonly #inflight = new Map<string, Promise<unknown>>();

  constructor(options: SchedulerOptions = {}) {
    this.concurrency = options.concurrency ?? 8;
    this.perHost = options.perHost ?? 6;
    this.#transfers = new Pool(this.concurrency, this.perHost);
    this.#light = new Pool(this.concurrency * LIGHT_FACTOR, this.perHost * LIGHT_FACTOR);
  }

  /** Runs `task` once per `key` at a time; callers with the same key share one run. */
  dedupe<T>(key: string, task: () => Promise<T>): Promise<T> {
    const existing = this.#inflight.get(key);
    if (existing) return existing as Promise<T>;
    const p = task().finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, p);
    return p;
  }

  /**
   * Runs `task` holding a slot overall and one for each of `hosts` (e.g. source and destination),
   * from the light pool when `light` (see the module comment). A wait for slots cut short by
   * `signal` rejects with the signal's reason, holding none.
   */
  run<T>(hosts: readonly string[], task: () => Promise<T>, light = false, signal?: AbortSignal): Promise<T> {
    return (light ? this.#light : this.#transfers).run(hosts, task, signal);
  }
}
