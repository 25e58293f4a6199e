/**
 * A value read from the registries, kept for a short while and shared by every request: the
 * status matrix of 20 applications × 4 environments costs 80 registry round trips, and a
 * dashboard polling it from many browsers must not multiply them. One load runs at a time
 * (single flight). A value younger than `freshMs` is served as is; an older one is served at once
 * while a new load runs in the background (stale while revalidate), up to `maxStaleMs`; past that,
 * callers wait for the new value. `invalidate()` (a promotion completed here) makes the next
 * caller wait for a fresh load. Failures are not cached.
 */

/** A loaded value and when its load started. */
export interface Snapshot<T> {
  readonly value: T;
  /** When the load that produced it started: nothing older than this is in it. */
  readonly asOf: Date;
}

/** Options of {@link SnapshotCache}. */
export interface SnapshotOptions {
  /** Served without reloading while younger than this (ms). */
  readonly freshMs: number;
  /** Served while a reload runs, while younger than this (ms). */
  readonly maxStaleMs: number;
  /** The clock. Default `Date.now`. */
  readonly now?: () => number;
}

/** One cached value, loaded on demand. */
export class SnapshotCache<T> {
  readonly #load: () => Promise<T>;
  readonly #o: SnapshotOptions;
  readonly #now: () => number;
  #current: Snapshot<T> | undefined;
  #inflight: Promise<Snapshot<T>> | undefined;
  #generation = 0;

  constructor(load: () => Promise<T>, options: SnapshotOptions) {
    this.#load = load;
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** The current value, loading or refreshing it as the options say. */
  async get(): Promise<Snapshot<T>> {
    const current = this.#current;
    const age = current ? this.#now() - current.asOf.getTime() : Infinity;
    if (current && age < this.#o.freshMs) return current;
    const loading = this.#refresh();
    if (current && age < this.#o.maxStaleMs) {
      // Someone waiting on a fresh value sees the load's failure; this caller keeps the stale one.
      loading.catch(() => undefined);
      return current;
    }
    return loading;
  }

  /** Forgets the value: the next `get` waits for a new load. */
  invalidate(): void {
    this.#current = undefined;
    this.#inflight = undefined;
    this.#generation++;
  }

  #refresh(): Promise<Snapshot<T>> {
    if (this.#inflight) return this.#inflight;
    const generation = this.#generation;
    const asOf = new Date(this.#now());
    const run = this.#load()
      .then((value) => {
        const s = { value, asOf };
        // A load that began before an invalidation does not bring the old state back.
        if (generation === this.#generation) this.#current = s;
        return s;
      })
      .finally(() => {
        if (this.#inflight === run) this.#inflight = undefined;
      });
    this.#inflight = run;
    return run;
  }
}
