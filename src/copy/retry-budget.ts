/**
 * How long a copy keeps restarting blobs whose transfer failed with a temporary error
 * (docs/decisions/0008-retry-model.md). A blob is restarted while its attempts make progress —
 * each moves more bytes than any earlier one of that blob — and after at most `maxStalls`
 * attempts in a row that do not; all blobs of one copy share a budget of restarts and of time.
 */

/** Retry settings of one copy. Every field is optional; defaults are documented per field. */
export interface CopyRetryOptions {
  /** Failed attempts without progress after which a blob fails. Default 8. */
  readonly maxStalls?: number;
  /** Blob restarts per copy, over all its blobs. Default: 4 per blob, at least 20. */
  readonly restarts?: number;
  /** Time from the start of the copy after which no blob is restarted, in ms. Default 3 600 000 (1 h). */
  readonly timeMs?: number;
  /** Pause before a restart that follows an attempt without progress, in ms; doubles per stall, at most 5 s. Default 250. */
  readonly backoffMs?: number;
}

/** The shared restart budget of one copy. */
export class RetryBudget {
  readonly maxStalls: number;
  readonly backoffMs: number;
  readonly #deadline: number;
  readonly #now: () => number;
  #restarts: number;

  constructor(options: CopyRetryOptions, blobs: number, now: () => number = Date.now) {
    this.maxStalls = Math.max(1, options.maxStalls ?? 8);
    this.backoffMs = Math.max(0, options.backoffMs ?? 250);
    this.#restarts = options.restarts ?? Math.max(20, 4 * blobs);
    this.#now = now;
    this.#deadline = now() + (options.timeMs ?? 3_600_000);
  }

  /** Restarts still allowed. */
  get remaining(): number {
    return this.#restarts;
  }

  /** Takes one restart from the budget; false when none is left or the time is up. */
  spend(): boolean {
    if (this.#restarts <= 0 || this.#now() >= this.#deadline) return false;
    this.#restarts--;
    return true;
  }

  /** The pause before a restart after `stalls` attempts in a row without progress (0: none). */
  pause(stalls: number): number {
    if (stalls <= 0) return 0;
    return Math.min(5_000, this.backoffMs * 2 ** (stalls - 1));
  }
}
