/**
 * Bounded concurrency for copy work: a limit overall and a limit per registry host, shared by
 * every copy in the process (bulk copies included), so parallel images cannot overload a
 * registry. Work on the same key runs once and everyone waiting on it shares the result.
 */

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
  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

/** Runs tasks within the overall and per-host limits, deduplicating by key. */
export class Scheduler {
  readonly concurrency: number;
  readonly perHost: number;
  readonly #overall: Semaphore;
  readonly #hosts = new Map<string, Semaphore>();
  readonly #inflight = new Map<string, Promise<unknown>>();

  constructor(options: SchedulerOptions = {}) {
    this.concurrency = options.concurrency ?? 8;
    this.perHost = options.perHost ?? 6;
    this.#overall = new Semaphore(this.concurrency);
  }

  /** Runs `task` once per `key` at a time; callers with the same key share one run. */
  dedupe<T>(key: string, task: () => Promise<T>): Promise<T> {
    const existing = this.#inflight.get(key);
    if (existing) return existing as Promise<T>;
    const p = task().finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, p);
    return p;
  }

  /** Runs `task` holding a slot overall and one for each of `hosts` (e.g. source and destination). */
  async run<T>(hosts: readonly string[], task: () => Promise<T>): Promise<T> {
    const sems = [...new Set(hosts)].sort().map((h) => this.#host(h));
    await this.#overall.acquire();
    for (const s of sems) await s.acquire();
    try {
      return await task();
    } finally {
      for (const s of sems) s.release();
      this.#overall.release();
    }
  }

  #host(host: string): Semaphore {
    let s = this.#hosts.get(host);
    if (!s) {
      s = new Semaphore(this.perHost);
      this.#hosts.set(host, s);
    }
    return s;
  }
}
