/**
 * A worker's claim loops: call `work` until it finds nothing, then wait `idleMs` (or until
 * {@link WorkerLoop.kick}) and look again, until stopped. A failed `work` is logged and the loop
 * goes on: a store that is briefly unreachable does not end the worker.
 */
import type { Logger } from '../core/index.js';

/** How much longer than `idleMs` the loops other than the polling one wait without a kick. */
const SPARE_IDLE_FACTOR = 30;

export interface WorkerLoopOptions {
  /** Claims and runs one job; false when there was none. */
  readonly work: () => Promise<boolean>;
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
      Array.from({ length: Math.max(1, this.#o.concurrency ?? 1) }, (_, i) => this.#loop(i === 0)),
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
   * One loop (the `polling` one) looks for work every `idleMs` while there is none; the others
   * wait for a kick, which that loop gives whenever it finds work (there may be more), so an idle
   * server asks its store once per `idleMs`, not once per loop. They look on their own too, every
   * {@link SPARE_IDLE_FACTOR} × `idleMs`, in case a kick was missed.
   */
  async #loop(polling: boolean): Promise<void> {
    const idleMs = this.#o.idleMs ?? 1000;
    while (!this.#stopping) {
      let worked = false;
      try {
        worked = await this.#o.work();
      } catch (error) {
        const e = error as { code?: string; message?: string };
        this.#o.logger.warn({ code: e.code, message: e.message }, this.#o.failure);
      }
      if (worked && polling) this.kick();
      if (!worked && !this.#stopping) await this.#idle(polling ? idleMs : idleMs * SPARE_IDLE_FACTOR);
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
