/**
 * When and how long to wait before retrying a registry request: exponential backoff with full
 * jitter, `Retry-After` honoured (RFC 9110 §10.2.3: seconds or an HTTP date), and a retry budget
 * shared per host (a token bucket as in gRPC's retry throttling) so a failing registry is not
 * hammered by every parallel request at once.
 */

/** Retry settings. Every field is optional; defaults are documented per field. */
export interface RetryOptions {
  /** Attempts per request including the first. Default 5. */
  readonly maxAttempts?: number;
  /** First backoff step in ms. Default 200. */
  readonly baseDelayMs?: number;
  /** Largest backoff in ms. Default 10 000. */
  readonly maxDelayMs?: number;
  /** Longest `Retry-After` Gantry will wait in ms; longer waits fail instead. Default 120 000. */
  readonly maxRetryAfterMs?: number;
  /** Retry tokens per host; each retry spends 1, each success earns 0.1. Default 20. */
  readonly budget?: number;
  /** Source of randomness in [0, 1) for jitter. Default `Math.random`. */
  readonly random?: () => number;
}

/** Statuses worth retrying. */
export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** Connection-level error codes worth retrying. */
export const RETRYABLE_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** Parses `Retry-After` into milliseconds from `now`; `undefined` when absent or malformed. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Resolved retry settings with the shared per-host budget. */
export class RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxRetryAfterMs: number;
  readonly budget: number;
  readonly #random: () => number;
  readonly #tokens = new Map<string, number>();

  constructor(options: RetryOptions = {}) {
    this.maxAttempts = options.maxAttempts ?? 5;
    this.baseDelayMs = options.baseDelayMs ?? 200;
    this.maxDelayMs = options.maxDelayMs ?? 10_000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 120_000;
    this.budget = options.budget ?? 20;
    this.#random = options.random ?? Math.random;
  }

  /** Backoff before attempt `attempt + 1` (attempt counts from 1): full jitter over an exponential cap. */
  backoff(attempt: number): number {
    const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(cap / 2 + (this.#random() * cap) / 2);
  }

  /** Spends one retry token for `host`; false when the host's budget is exhausted. */
  trySpend(host: string): boolean {
    const tokens = this.#tokens.get(host) ?? this.budget;
    if (tokens < 1) return false;
    this.#tokens.set(host, tokens - 1);
    return true;
  }

  /** Records a success for `host`, slowly refilling its budget. */
  succeeded(host: string): void {
    const tokens = this.#tokens.get(host);
    if (tokens !== undefined) this.#tokens.set(host, Math.min(this.budget, tokens + 0.1));
  }
}
