/**
 * One worker's claim loop: call `work` until it finds nothing, then wait `idleMs` (or until
 * {@link WorkerLoop.kick}) and look again, until stopped. A failed `work` is logged and the loop
 * goes on: a store that is briefly unreachable does not end the worker.
 */
import type { Logger } from '../core/index.js';

export interface WorkerLoopOptions {
  /** Claims and runs one job; false when there was none. */
  readonly work: () => Promise<boolean>;
  readonly logger: Logger;
  /** The warning logged when `work` throws, e.g. "webhook worker: claiming failed". */
  readonly failure: string;
  /** How long to wait when there was no work, ms. Default 1000. */
  readonly idleMs?: number;
}

export class WorkerLoop {
  readonly #o: WorkerLoopOptions;
  #running: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;

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

  /** Starts the loop (once). */
  start(): void {
    this.#stopping = false;
    this.#running ??= this.#loop();
  }

  /** Looks for work now rather than after the idle wait. */
  kick(): void {
    this.#wake?.();
  }

  /** Stops after the work in flight (if any) returns. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.kick();
    await this.#running;
    this.#running = undefined;
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      let worked = false;
      try {
        worked = await this.#o.work();
      } catch (error) {
        const e = error as { code?: string; message?: string };
        this.#o.logger.warn({ code: e.code, message: e.message }, this.#o.failure);
      }
      if (!worked && !this.#stopping) await this.#idle();
    }
  }

  #idle(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.#o.idleMs ?? 1000);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }
}
