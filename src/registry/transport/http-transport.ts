/**
 * The HTTP layer under every registry call: undici keep-alive pools per host, TLS verified by
 * default, retries with backoff on connection errors and 408/429/5xx, `Retry-After` shared per host
 * (one 429 pauses every request to that host), manual redirects that never carry credentials to
 * another origin, and errors that only ever show redacted URLs.
 */
import { Readable } from 'node:stream';
import { Agent } from './undici-agent.js';
import { GantryError, silentLogger, systemClock, type Clock, type Logger } from '../../core/index.js';
import { redactUrl } from './redact.js';
import { discardBody } from './read-body.js';
import { RegistryError, isTemporary } from './registry-error.js';
import { connectionError, errorCode } from './classify.js';
import { RETRYABLE_STATUS, RetryPolicy, parseRetryAfter, type RetryOptions } from './retry-policy.js';

/** Connection settings for one registry host. */
export interface HostSettings {
  /** Verify the TLS certificate. When false, self-signed certificates and plain HTTP are allowed. Default true. */
  readonly tlsVerify?: boolean;
  /** Extra CA certificates (PEM) trusted for this host, added to Node's default roots. Default none. */
  readonly ca?: string;
  /** Force a scheme; `http` means plain HTTP. Default: https, falling back to http only when `tlsVerify` is false. */
  readonly scheme?: 'https' | 'http';
}

/** Options for {@link HttpTransport}. */
export interface TransportOptions {
  /** Per-host connection settings. Default: TLS verified with Node's root CAs. */
  readonly hostSettings?: (host: string) => HostSettings;
  /** Retry behaviour; see {@link RetryOptions} for defaults. */
  readonly retry?: RetryOptions;
  /** Logger for retries and redirects (URLs are redacted). Default silent. */
  readonly logger?: Logger;
  /** Clock used for backoff. Default the system clock. */
  readonly clock?: Clock;
  /** `User-Agent` header. Default `gantry`. */
  readonly userAgent?: string;
  /** TCP+TLS connect timeout in ms. Default 15 000. */
  readonly connectTimeoutMs?: number;
  /** Time to wait for response headers in ms. Default 60 000. */
  readonly headersTimeoutMs?: number;
  /** Longest silence while a body streams, in ms. Default 120 000. */
  readonly bodyTimeoutMs?: number;
  /**
   * Overall deadline for reading a response body, counted from its headers, in ms: a body still
   * streaming then is cut with `REGISTRY_TIMEOUT` however steadily it drips. Applies to every
   * response without its own {@link HttpRequest.deadlineMs} (manifests, tokens, tag lists, error
   * bodies). Default 60 000.
   */
  readonly responseDeadlineMs?: number;
  /**
   * Slowest blob download accepted, in bytes per second: a blob's deadline is its size at this
   * rate, and never less than {@link blobDeadlineMinMs} (see {@link HttpTransport.blobDeadlineMs}).
   * Default 65 536 (64 KiB/s).
   */
  readonly minThroughputBytesPerSec?: number;
  /** Shortest deadline of a blob download, in ms. Default 60 000. */
  readonly blobDeadlineMinMs?: number;
  /** Keep-alive connections per host. Default 16. */
  readonly connectionsPerHost?: number;
  /** Redirects followed per request. Default 5. */
  readonly maxRedirects?: number;
}

/** A request through the transport. */
export interface HttpRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  /** A buffer can be replayed on retry; a stream is sent once. */
  readonly body?: Buffer | Readable;
  /** Set false to disable retries (they are off anyway for streamed bodies). */
  readonly retry?: boolean;
  /**
   * Overall deadline for the response body in ms, counted from its headers. Default the
   * transport's `responseDeadlineMs`; blob downloads pass {@link HttpTransport.blobDeadlineMs}.
   */
  readonly deadlineMs?: number;
  /** Follow redirects. Default true for GET and HEAD. */
  readonly followRedirects?: boolean;
  readonly signal?: AbortSignal;
}

/** Response headers, looked up case-insensitively. */
export interface ResponseHeaders {
  get(name: string): string | undefined;
  getAll(name: string): string[];
}

/** A response whose body the caller must consume or discard. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: ResponseHeaders;
  readonly body: Readable;
  /** The final URL after redirects. */
  readonly url: URL;
}

interface HostState {
  pausedUntil: number;
  plainHttp: boolean;
}

const TLS_ERROR_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
]);
const NOT_TLS_CODES = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'EPROTO', 'ERR_SSL_PACKET_LENGTH_TOO_LONG']);

/** The shared HTTP transport. One instance per process is the intended use. */
export class HttpTransport {
  readonly #options: Required<Omit<TransportOptions, 'retry'>>;
  readonly #retry: RetryPolicy;
  readonly #agents = new Map<string, InstanceType<typeof Agent>>();
  readonly #hosts = new Map<string, HostState>();

  constructor(options: TransportOptions = {}) {
    this.#options = Object.freeze({
      hostSettings: options.hostSettings ?? (() => ({})),
      logger: options.logger ?? silentLogger,
      clock: options.clock ?? systemClock,
      userAgent: options.userAgent ?? 'gantry',
      connectTimeoutMs: options.connectTimeoutMs ?? 15_000,
      headersTimeoutMs: options.headersTimeoutMs ?? 60_000,
      bodyTimeoutMs: options.bodyTimeoutMs ?? 120_000,
      responseDeadlineMs: options.responseDeadlineMs ?? 60_000,
      minThroughputBytesPerSec: options.minThroughputBytesPerSec ?? 64 * 1024,
      blobDeadlineMinMs: options.blobDeadlineMinMs ?? 60_000,
      connectionsPerHost: options.connectionsPerHost ?? 16,
      maxRedirects: options.maxRedirects ?? 5,
    });
    this.#retry = new RetryPolicy(options.retry);
  }

  /** The base URL (`https://host` or `http://host`) for a registry host. */
  origin(host: string): string {
    const settings = this.#options.hostSettings(host);
    const plain = settings.scheme === 'http' || this.#host(host).plainHttp;
    return `${plain ? 'http' : 'https'}://${host}`;
  }

  /**
   * The deadline of a blob download of `bytes` bytes, in ms: the time it takes at the slowest
   * accepted throughput (`minThroughputBytesPerSec`), at least `blobDeadlineMinMs`.
   */
  blobDeadlineMs(bytes: number): number {
    const { minThroughputBytesPerSec: floor, blobDeadlineMinMs: min } = this.#options;
    return Math.max(min, Math.ceil((Math.max(0, bytes) / floor) * 1000));
  }

  /** Sends a request, retrying transient failures of replayable requests. */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const res = await this.#request(req);
    guardBody(res, req.deadlineMs ?? this.#options.responseDeadlineMs);
    return res;
  }

  async #request(req: HttpRequest): Promise<HttpResponse> {
    const streamed = req.body instanceof Readable;
    const retry = req.retry !== false && !streamed;
    const follow = req.followRedirects ?? (req.method === 'GET' || req.method === 'HEAD');
    let url = req.url;
    let headers: Record<string, string> = { 'user-agent': this.#options.userAgent, ...req.headers };
    let redirects = 0;
    for (let attempt = 1; ; attempt++) {
      const host = url.host;
      await this.#waitForHost(host, req.signal);
      let res: HttpResponse;
      try {
        res = await this.#send(req.method, url, headers, req.body, req.signal);
      } catch (err) {
        const code = errorCode(err);
        const settings = this.#options.hostSettings(host);
        if (
          url.protocol === 'https:' &&
          settings.tlsVerify === false &&
          settings.scheme === undefined &&
          code !== undefined &&
          NOT_TLS_CODES.has(code)
        ) {
          // An insecure registry that speaks plain HTTP: remember it and go again over http.
          this.#host(host).plainHttp = true;
          url = new URL(url.toString().replace(/^https:/, 'http:'));
          attempt--;
          continue;
        }
        if (url.protocol === 'https:' && code !== undefined && NOT_TLS_CODES.has(code)) {
          throw new GantryError(
            'REGISTRY_TLS',
            `${host} did not answer with TLS (${code}): if it serves plain HTTP, pass --tls-verify=false or configure an http:// URL`,
            { cause: err, details: { host, url: redactUrl(url) } },
          );
        }
        if (code !== undefined && TLS_ERROR_CODES.has(code)) {
          throw new GantryError(
            'REGISTRY_TLS',
            `TLS verification failed for ${host} (${code}): trust its CA or pass --tls-verify=false`,
            { cause: err, details: { host, url: redactUrl(url) } },
          );
        }
        const failure = connectionError(req.method, url, err, code);
        if (
          retry &&
          isTemporary(failure) &&
          req.signal?.aborted !== true &&
          attempt < this.#retry.maxAttempts &&
          this.#retry.trySpend(host)
        ) {
          const delay = this.#retry.backoff(attempt);
          this.#options.logger.warn(
            { url: redactUrl(url), code, attempt, delay },
            'retrying after connection error',
          );
          await this.#options.clock.sleep(delay, req.signal);
          continue;
        }
        throw failure;
      }

      if (follow && res.status >= 300 && res.status < 400 && res.headers.get('location')) {
        await discardBody(res.body);
        if (++redirects > this.#options.maxRedirects) {
          throw new GantryError(
            'REGISTRY_PROTOCOL',
            `${req.method} ${redactUrl(req.url)}: too many redirects`,
          );
        }
        const next = new URL(res.headers.get('location') ?? '', url);
        if (next.origin !== url.origin) {
          // Credentials are for the registry only, never for the host it redirects to.
          headers = Object.fromEntries(
            Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'),
          );
        }
        if (url.protocol === 'https:' && next.protocol === 'http:') {
          throw new GantryError(
            'REGISTRY_PROTOCOL',
            `refusing redirect from https to plain http (${redactUrl(next)})`,
          );
        }
        this.#options.logger.debug({ from: redactUrl(url), to: redactUrl(next) }, 'following redirect');
        url = next;
        attempt--;
        continue;
      }

      if (RETRYABLE_STATUS.has(res.status)) {
        const wait = parseRetryAfter(res.headers.get('retry-after'), this.#options.clock.now());
        if (wait !== undefined) this.#pauseHost(host, Math.min(wait, this.#retry.maxRetryAfterMs));
        const tooLong = wait !== undefined && wait > this.#retry.maxRetryAfterMs;
        if (retry && !tooLong && attempt < this.#retry.maxAttempts && this.#retry.trySpend(host)) {
          await discardBody(res.body);
          const delay = wait ?? this.#retry.backoff(attempt);
          this.#options.logger.warn(
            { url: redactUrl(url), status: res.status, attempt, delay },
            'retrying after transient status',
          );
          if (wait === undefined) await this.#options.clock.sleep(delay, req.signal);
          continue;
        }
        if (retry && attempt > 1 && !tooLong) {
          this.#options.logger.warn({ host }, 'retry budget or attempts exhausted');
        }
      } else {
        this.#retry.succeeded(host);
      }
      return res;
    }
  }

  /**
   * For a write the transport cannot replay in place (an upload session that failed, which the
   * caller starts again with a fresh session): whether attempt `attempt + 1` may be made after
   * attempt `attempt` failed with a temporary error, under the same policy as every retried
   * request — at most `maxAttempts` attempts, one token of the host's retry budget per retry, and
   * the backoff waited here. A `Retry-After` the failure carried already paused the host, so the
   * next request waits for it too. The caller logs the restart.
   */
  async mayRetry(host: string, attempt: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted === true || attempt >= this.#retry.maxAttempts || !this.#retry.trySpend(host))
      return false;
    await this.#options.clock.sleep(this.#retry.backoff(attempt), signal);
    return true;
  }

  /** Closes every pooled connection. */
  async close(): Promise<void> {
    await Promise.all([...this.#agents.values()].map((a) => a.close()));
    this.#agents.clear();
  }

  #host(host: string): HostState {
    let state = this.#hosts.get(host);
    if (!state) {
      state = { pausedUntil: 0, plainHttp: false };
      this.#hosts.set(host, state);
    }
    return state;
  }

  #pauseHost(host: string, ms: number): void {
    const state = this.#host(host);
    state.pausedUntil = Math.max(state.pausedUntil, this.#options.clock.now() + ms);
  }

  async #waitForHost(host: string, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const wait = this.#host(host).pausedUntil - this.#options.clock.now();
      if (wait <= 0) return;
      await this.#options.clock.sleep(wait, signal);
    }
  }

  #agent(host: string): InstanceType<typeof Agent> {
    const settings = this.#options.hostSettings(host);
    const key = `${host}|${settings.tlsVerify === false ? 'insecure' : 'verify'}|${settings.ca ?? ''}`;
    let agent = this.#agents.get(key);
    if (!agent) {
      agent = new Agent({
        connections: this.#options.connectionsPerHost,
        // Node's default, set here because the bundle does not load node:http (scripts/build.mjs).
        maxHeaderSize: 16 * 1024,
        keepAliveTimeout: 30_000,
        headersTimeout: this.#options.headersTimeoutMs,
        bodyTimeout: this.#options.bodyTimeoutMs,
        connect: {
          timeout: this.#options.connectTimeoutMs,
          rejectUnauthorized: settings.tlsVerify !== false,
          ...(settings.ca !== undefined && { ca: settings.ca }),
        },
      });
      this.#agents.set(key, agent);
    }
    return agent;
  }

  async #send(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body: Buffer | Readable | undefined,
    signal: AbortSignal | undefined,
  ): Promise<HttpResponse> {
    const agent = this.#agent(url.host);
    const res = await agent.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method,
      headers,
      body: body ?? null,
      signal: signal ?? null,
    });
    const raw = res.headers;
    return {
      status: res.statusCode,
      url,
      body: res.body,
      headers: {
        get: (name) => {
          const v = raw[name.toLowerCase()];
          return Array.isArray(v) ? v[0] : v;
        },
        getAll: (name) => {
          const v = raw[name.toLowerCase()];
          return v === undefined ? [] : Array.isArray(v) ? v : [v];
        },
      },
    };
  }
}

/**
 * Every response body gets an error listener (so an error after its consumer gave up, such as
 * undici's abort when a body is destroyed unread, can never become an uncaught exception) and an
 * overall deadline: a body still open `deadlineMs` after its headers is destroyed with a temporary
 * `REGISTRY_TIMEOUT`, however steadily it drips.
 */
function guardBody(res: HttpResponse, deadlineMs: number): void {
  const body = res.body;
  body.on('error', ignore);
  if (body.readableEnded || body.destroyed) return;
  const timer = setTimeout(() => {
    body.destroy(
      new RegistryError(
        'REGISTRY_TIMEOUT',
        `${redactUrl(res.url)}: the response did not complete within its ${deadlineMs} ms deadline`,
        { temporary: true, details: { url: redactUrl(res.url), deadlineMs } },
      ),
    );
  }, deadlineMs);
  timer.unref();
  body.once('close', () => clearTimeout(timer));
}

function ignore(): void {
  // see guardBody
}
