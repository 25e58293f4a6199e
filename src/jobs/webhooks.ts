/**
 * Delivering webhooks: its own claim loop over `webhook` jobs of the durable job table. Each
 * attempt POSTs the delivery's body, signed the Standard Webhooks way, to the endpoint configured
 * under the delivery's endpoint name (never to an address from anywhere else), and stores the
 * attempt with the job's outcome in one transaction: 2xx delivers; anything else is retried with
 * exponential backoff until the endpoint's attempts are used up, and the delivery is then dead.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { request } from 'undici';
import type { WebhookTarget } from '../config/index.js';
import { silentLogger, type Logger } from '../core/index.js';
import { canonicalJson, JobQueue, WebhookDeliveries, type ClaimedJob, type Store } from '../store/index.js';
import { WEBHOOK_JOB } from './webhook-outbox.js';
import { WorkerLoop } from './worker-loop.js';

/** How a delivery attempt ended, for metrics. */
export type WebhookOutcome = 'delivered' | 'retry' | 'dead';

/** Options of {@link WebhookWorker}. */
export interface WebhookWorkerOptions {
  readonly store: Store;
  /** The endpoints of the current configuration, with their keys. */
  readonly targets: () => readonly WebhookTarget[];
  /** `user-agent` of every request, e.g. `gantry/1.2.3`. */
  readonly userAgent: string;
  readonly logger?: Logger;
  /** How long an idle worker waits before looking for work again, ms. Default 1000. */
  readonly idleMs?: number;
  /**
   * Attempts in flight at once (claim loops), so that an endpoint that hangs until its timeout
   * does not hold back the deliveries to every other endpoint. Default 4.
   */
  readonly concurrency?: number;
  /** Called after every attempt. */
  readonly observe?: (endpoint: string, outcome: WebhookOutcome) => void;
  /** The clock (the `webhook-timestamp`). Default `() => new Date()`. */
  readonly now?: () => Date;
}

/** Bytes of an answer read (and thrown away) before the connection is closed. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * The `webhook-signature` of a request (Standard Webhooks): `v1,` and the base64 HMAC-SHA256
 * with `key` over `id.timestamp.body`.
 */
export function signWebhook(key: Uint8Array, id: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest('base64');
  return `v1,${mac}`;
}

/** Delay before attempt `attempt + 1` after `attempt` failed: backoff doubled, capped, ±10 % jitter. */
export function retryDelayMs(
  target: Pick<WebhookTarget, 'backoffMs' | 'maxBackoffMs'>,
  attempt: number,
): number {
  const base = Math.min(target.maxBackoffMs, target.backoffMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.max(0, Math.round(base * (0.9 + Math.random() * 0.2)));
}

/** Claims and delivers `webhook` jobs until stopped. */
export class WebhookWorker {
  readonly #o: WebhookWorkerOptions;
  readonly #queue: JobQueue;
  readonly #deliveries: WebhookDeliveries;
  readonly #owner = `webhooks:${randomUUID()}`;
  readonly #log: Logger;
  readonly #loop: WorkerLoop;

  constructor(options: WebhookWorkerOptions) {
    this.#o = Object.freeze({ ...options });
    this.#queue = new JobQueue(options.store.db);
    this.#deliveries = new WebhookDeliveries(options.store.db);
    this.#log = options.logger ?? silentLogger;
    this.#loop = new WorkerLoop({
      work: (_loop, claimed) => this.#once(claimed),
      logger: this.#log,
      failure: 'webhook worker: claiming failed',
      ...(options.idleMs !== undefined && { idleMs: options.idleMs }),
      concurrency: options.concurrency ?? 4,
    });
  }

  /** Starts the claim loop. */
  start(): void {
    this.#loop.start();
  }

  /** Looks for work now rather than after the idle wait. */
  kick(): void {
    this.#loop.kick();
  }

  /** Stops after the attempt in flight (if any) is stored. */
  async stop(): Promise<void> {
    await this.#loop.stop();
  }

  /** Claims one job and attempts its delivery; false when there was none. */
  async #once(claimed: () => void): Promise<boolean> {
    const targets = this.#o.targets();
    const longest = Math.max(10_000, ...targets.map((t) => t.timeoutMs));
    const job = await this.#queue.claim(this.#owner, longest + 30_000, { kinds: [WEBHOOK_JOB] });
    if (!job) return false;
    claimed();
    await this.#attempt(job, targets);
    return true;
  }

  async #attempt(job: ClaimedJob, targets: readonly WebhookTarget[]): Promise<void> {
    const id = typeof job.payload.delivery === 'string' ? job.payload.delivery : '';
    const delivery = await this.#deliveries.get(id);
    if (!delivery) {
      await this.#queue.fail(job.id, job.fence, { code: 'INTERNAL', message: `no delivery ${id}` });
      return;
    }
    const target = targets.find((t) => t.name === delivery.endpoint);
    if (!target) {
      const why = `endpoint "${delivery.endpoint}" is no longer configured`;
      await this.#o.store.db.transaction().execute(async (trx) => {
        if (!(await this.#queue.lock(trx, job.id, job.fence))) return;
        await this.#deliveries.abandon(trx, id, why);
        await this.#queue.fail(
          job.id,
          job.fence,
          { code: 'WEBHOOK_ENDPOINT_UNKNOWN', message: why },
          {},
          trx,
        );
      });
      this.#o.observe?.(delivery.endpoint, 'dead');
      return;
    }
    const body = canonicalJson(delivery.body);
    const started = new Date();
    const t0 = performance.now();
    const answer = await this.#post(target, id, body);
    const durationMs = performance.now() - t0;
    const ok = answer.status !== undefined && answer.status >= 200 && answer.status < 300;
    const last = job.attempts >= job.maxAttempts;
    const outcome: WebhookOutcome = ok ? 'delivered' : last ? 'dead' : 'retry';
    const error = ok ? undefined : (answer.error ?? `HTTP ${answer.status ?? '?'}`);
    await this.#o.store.db.transaction().execute(async (trx) => {
      if (!(await this.#queue.lock(trx, job.id, job.fence))) return;
      await this.#deliveries.attempted(trx, {
        deliveryId: id,
        startedAt: started,
        durationMs,
        ...(answer.status !== undefined && { status: answer.status }),
        ...(error !== undefined && { error }),
        outcome,
      });
      if (ok) await this.#queue.complete(job.id, job.fence, trx);
      else
        await this.#queue.fail(
          job.id,
          job.fence,
          { code: 'WEBHOOK_DELIVERY_FAILED', message: error ?? 'failed' },
          last ? {} : { retryInMs: retryDelayMs(target, job.attempts) },
          trx,
        );
    });
    this.#log.info(
      { delivery: id, endpoint: target.name, attempt: job.attempts, status: answer.status, outcome },
      'webhook attempt',
    );
    this.#o.observe?.(target.name, outcome);
  }

  /** POSTs once; never throws. The error never holds the secret (it is only in the signature). */
  async #post(target: WebhookTarget, id: string, body: string): Promise<{ status?: number; error?: string }> {
    const timestamp = Math.floor((this.#o.now?.() ?? new Date()).getTime() / 1000);
    const signal = AbortSignal.timeout(target.timeoutMs);
    try {
      const res = await request(target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': this.#o.userAgent,
          'webhook-id': id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(target.key, id, timestamp, body),
        },
        body,
        signal,
        headersTimeout: target.timeoutMs,
        bodyTimeout: target.timeoutMs,
      });
      let read = 0;
      try {
        for await (const chunk of res.body) {
          read += (chunk as Buffer).length;
          if (read > MAX_ANSWER_BYTES) break;
        }
      } catch {
        // The status decides; an answer cut short is not the receiver's refusal.
      } finally {
        res.body.destroy();
      }
      return { status: res.statusCode };
    } catch (error) {
      if (signal.aborted) return { error: `no answer within ${target.timeoutMs} ms` };
      const e = error as { code?: string; message?: string };
      return { error: e.code ?? e.message ?? 'request failed' };
    }
  }
}
