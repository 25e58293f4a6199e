/**
 * A worker's claim loops: call `work` until it finds nothing, then wait `idleMs` (or until
 * {@link WorkerLoop.kick}) and look again, until stopped. A failed `work` is logged and the loop
 * goes on: a store that is briefly unreachable does not end the worker.
 */
import type { Logger } from '../core/index.js';

/** How much longer than `idleMs` the loops other than the polling one wait without a kick. */
const SPARE_IDLE_FACTOR = 30;

export interface WorkerLoopOptions {
  /**
   * Claims and runs one job; false when there was none. `loop` numbers the loop, from 0. Calling
   * `claimed` once the job is claimed, before running it, hands the polling on at once rather
   * than when the job ends.
   */
  readonly work: (loop: number, claimed: () => void) => Promise<boolean>;
  readonly logger: Logger;
  /** The warning logged when `work` throws, e.g. "webhook worker: claiming failed". */
  readonly failure: string;
  /** How long to wait when there was no work, ms. Default 1000. */
  readonly idleMs?: number;
  /** Loops running at once (work in flight at once). Default 1. */
  readonly concurrency?: number;
}

export class WorkerLoop {
  readonly #o: WorkerLoopOptions;
  #running: Promise<void> | undefined;
  #stopping = false;
  readonly #wake = new Set<() => void>();
  /** True while one idle loop waits as the poller. */
  #polling = false;

  constructor(options: WorkerLoopOptions) {
    this.#o = options;
  }

  /** True from `stop()` until the next `start()`. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** True while the loop runs. */
  get running(): boolean {
    return this.#running !== undefined;
  }

  /** Starts the loops (once). */
  start(): void {
    this.#stopping = false;
    this.#running ??= Promise.all(
      Array.from({ length: Math.max(1, this.#o.concurrency ?? 1) }, (_, i) => this.#loop(i)),
    ).then(() => undefined);
  }

  /** Looks for work now rather than after the idle wait. */
  kick(): void {
    for (const wake of [...this.#wake]) wake();
  }

  /** Stops after the work in flight (if any) returns. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.kick();
    await this.#running;
    this.#running = undefined;
  }

  /**
   * While there is no work, one idle loop, the poller, looks for work every `idleMs`; the others
   * wait for a kick, so an idle server asks its store once per `idleMs`, not once per loop. A
   * poller that claims work kicks the others (there may be more), and the first of them to find
   * nothing polls in its place: a poller busy with a long job never leaves the rest deaf. Loops
   * that are not the poller also look on their own every {@link SPARE_IDLE_FACTOR} × `idleMs`,
   * in case a kick was missed.
   */
  async #loop(index: number): Promise<void> {
    const idleMs = this.#o.idleMs ?? 1000;
    let poller = false;
    const claimed = (): void => {
      if (!poller) return;
      poller = false;
      this.kick();
    };
    while (!this.#stopping) {
      let worked = false;
      try {
        worked = await this.#o.work(index, claimed);
      } catch (error) {
        const e = error as { code?: string; message?: string };
        this.#o.logger.warn({ code: e.code, message: e.message }, this.#o.failure);
      }
      if (worked) {
        claimed();
        continue;
      }
      if (this.#stopping) break;
      poller = !this.#polling;
      if (!poller) {
        await this.#idle(idleMs * SPARE_IDLE_FACTOR);
        continue;
      }
      this.#polling = true;
      await this.#idle(idleMs);
      this.#polling = false;
    }
  }

  #idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#wake.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wake.add(wake);
    });
  }
}
