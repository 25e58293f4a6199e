/**
 * The CLI's client of a Gantry server's HTTP API (`/api/v1`, docs/server.md): JSON requests with
 * the API token, the API's error bodies turned back into Gantry errors (so they get the same exit
 * codes as the local commands), and the server-sent events of a promotion.
 *
 * The server is `--server URL` or `GANTRY_SERVER`; the token is `GANTRY_TOKEN` only (never a flag,
 * which would end up in shell history and process lists), sent only in the `Authorization` header
 * and never printed: no message made here contains it. TLS certificates are verified (extra CAs:
 * `NODE_EXTRA_CA_CERTS`); plain `http://` is accepted for loopback addresses only, so a token never
 * crosses a network in clear. Redirects are not followed (the token would go with them).
 */
import { request, type Dispatcher } from 'undici';
import { ErrorCodes, GantryError, type ErrorCode } from '../core/index.js';
import { SseParser, type SseEvent } from './sse.js';

export { serverUrlOf } from './cli-options.js';

/** Settings of a {@link ServerClient}. */
export interface ServerClientOptions {
  /** The server's base URL (`https://gantry.example.com`, optionally with a path prefix). */
  readonly server: string;
  /** The API token (`GANTRY_TOKEN`). */
  readonly token: string;
  /** How long a request may wait for the answer's headers, and between chunks of its body. Default 30 s. */
  readonly timeoutMs?: number;
  /** The largest JSON answer accepted, in bytes. Default 16 MiB. */
  readonly maxBytes?: number;
  /** How long an event stream may stay silent before it counts as broken. Default 60 s. */
  readonly streamIdleMs?: number;
}

/** A check that an answer has the shape a route promises; returns it typed or throws. */
export type Shape<T> = (value: unknown) => T;

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

/** Checks a server URL (`--server`, `GANTRY_SERVER`). */
export function parseServerUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new GantryError('USAGE_INVALID', `the server URL is not a URL (--server/GANTRY_SERVER): ${text}`);
  }
  const shown = `${url.protocol}//${url.host}${url.pathname}`;
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new GantryError(
      'USAGE_INVALID',
      `the server URL must be https:// (--server/GANTRY_SERVER): ${shown}`,
    );
  if (url.username || url.password)
    throw new GantryError(
      'USAGE_INVALID',
      'the server URL must not contain credentials; put the API token in GANTRY_TOKEN',
    );
  if (url.search || url.hash)
    throw new GantryError('USAGE_INVALID', `the server URL must have no query or fragment: ${shown}`);
  if (url.protocol === 'http:' && !LOOPBACK.test(url.hostname))
    throw new GantryError(
      'USAGE_INVALID',
      `the server URL must be https:// for ${url.hostname} (plain http is allowed on loopback only: the token would travel in clear)`,
    );
  return url;
}

/** A client of one Gantry server. */
export class ServerClient {
  /** Origin and path prefix, without a trailing slash. */
  readonly #base: string;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #streamIdleMs: number;

  constructor(options: ServerClientOptions) {
    const url = parseServerUrl(options.server);
    this.#base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    if (options.token.trim() === '')
      throw new GantryError(
        'API_UNAUTHENTICATED',
        `GANTRY_TOKEN is not set: the server ${this.server} needs an API token`,
      );
    if (/[\r\n]/.test(options.token))
      throw new GantryError('API_UNAUTHENTICATED', 'GANTRY_TOKEN is malformed (it contains a line break)');
    this.#token = options.token.trim();
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#maxBytes = options.maxBytes ?? 16 << 20;
    this.#streamIdleMs = options.streamIdleMs ?? 60_000;
  }

  /** A client for `--server`/`GANTRY_SERVER` with the token in `GANTRY_TOKEN`. */
  static fromEnvironment(server: string, env: NodeJS.ProcessEnv = process.env): ServerClient {
    return new ServerClient({ server, token: env.GANTRY_TOKEN ?? '' });
  }

  /** The server's base URL as shown in messages. */
  get server(): string {
    return this.#base;
  }

  /** `GET /api/v1{path}` with a query; the answer checked by `shape`. */
  get<T>(
    path: string,
    shape: Shape<T>,
    query: Readonly<Record<string, string | undefined>> = {},
  ): Promise<T> {
    return this.#json('GET', path, shape, undefined, query);
  }

  /** `POST /api/v1{path}` with a JSON body; the answer checked by `shape`. */
  post<T>(path: string, body: unknown, shape: Shape<T>): Promise<T> {
    return this.#json('POST', path, shape, body);
  }

  /**
   * The server-sent events at `GET /api/v1{path}`, as they arrive. Ends when the server closes
   * the stream; throws `SERVER_UNREACHABLE` when it breaks or stays silent for the idle time.
   */
  async *events(path: string, signal?: AbortSignal): AsyncGenerator<SseEvent> {
    const response = await this.#send('GET', path, undefined, {}, 'text/event-stream', {
      bodyTimeout: this.#streamIdleMs,
      ...(signal && { signal }),
    });
    if (response.statusCode !== 200) {
      throw await this.#failure(response, path);
    }
    const type = String(response.headers['content-type'] ?? '');
    if (!type.startsWith('text/event-stream')) {
      discard(response.body);
      throw new GantryError(
        'SERVER_PROTOCOL',
        `${this.server} answered GET ${path} with ${type || 'no content type'}, not an event stream`,
      );
    }
    const parser = new SseParser();
    const decoder = new TextDecoder('utf-8');
    try {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        for (const event of parser.push(decoder.decode(chunk, { stream: true }))) yield event;
      }
    } catch (error) {
      if (signal?.aborted || error instanceof GantryError || !isTransportError(error)) throw error;
      throw this.#transportError(error, `GET ${path}`);
    } finally {
      discard(response.body);
    }
  }

  async #json<T>(
    method: 'GET' | 'POST',
    path: string,
    shape: Shape<T>,
    body: unknown,
    query: Readonly<Record<string, string | undefined>> = {},
  ): Promise<T> {
    const response = await this.#send(method, path, body, query, 'application/json', {});
    if (response.statusCode < 200 || response.statusCode >= 300) throw await this.#failure(response, path);
    const value = await this.#readJson(response, `${method} ${path}`);
    if (value === undefined)
      throw new GantryError(
        'SERVER_PROTOCOL',
        `${this.server} answered ${method} ${path} without a JSON body`,
      );
    try {
      return shape(value);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new GantryError(
        'SERVER_PROTOCOL',
        `${this.server} answered ${method} ${path} with JSON of an unexpected shape (${why}); is it a Gantry server of this version?`,
      );
    }
  }

  async #send(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    query: Readonly<Record<string, string | undefined>>,
    accept: string,
    extra: { bodyTimeout?: number; signal?: AbortSignal },
  ): Promise<Dispatcher.ResponseData> {
    const url = new URL(`${this.#base}/api/v1${path}`);
    for (const [key, value] of Object.entries(query))
      if (value !== undefined) url.searchParams.set(key, value);
    try {
      return await request(url, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          accept,
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        headersTimeout: this.#timeoutMs,
        bodyTimeout: extra.bodyTimeout ?? this.#timeoutMs,
        ...(extra.signal && { signal: extra.signal }),
      });
    } catch (error) {
      if (extra.signal?.aborted) throw error;
      throw this.#transportError(error, `${method} ${path}`);
    }
  }

  /** Reads a JSON body within the size limit; undefined for an empty body. */
  async #readJson(response: Dispatcher.ResponseData, what: string): Promise<unknown> {
    const type = String(response.headers['content-type'] ?? '');
    let size = 0;
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > this.#maxBytes) {
          discard(response.body);
          throw new GantryError(
            'SERVER_PROTOCOL',
            `${this.server} answered ${what} with more than ${this.#maxBytes} bytes`,
          );
        }
        chunks.push(chunk);
      }
    } catch (error) {
      if (error instanceof GantryError || !isTransportError(error)) throw error;
      throw this.#transportError(error, what);
    }
    if (size === 0) return undefined;
    if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type))
      throw new GantryError(
        'SERVER_PROTOCOL',
        `${this.server} answered ${what} with ${type || 'no content type'}, not JSON; is ${this.server} a Gantry server?`,
      );
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    } catch {
      throw new GantryError('SERVER_PROTOCOL', `${this.server} answered ${what} with malformed JSON`);
    }
  }

  /** The Gantry error for an answer that is not a success. */
  async #failure(response: Dispatcher.ResponseData, path: string): Promise<GantryError> {
    const status = response.statusCode;
    if (status >= 300 && status < 400) {
      discard(response.body);
      return new GantryError(
        'SERVER_PROTOCOL',
        `${this.server} redirects ${path} (HTTP ${status}); give the URL it redirects to as --server`,
      );
    }
    let body: unknown;
    try {
      body = await this.#readJson(response, `${path} (HTTP ${status})`);
    } catch {
      body = undefined;
    }
    const error = isRecord(body) && isRecord(body.error) ? body.error : undefined;
    const code = typeof error?.code === 'string' ? error.code : undefined;
    const message = typeof error?.message === 'string' ? error.message : undefined;
    const requestId = typeof error?.requestId === 'string' ? error.requestId : undefined;
    const details = { status, ...(requestId !== undefined && { requestId }) };
    if (code !== undefined && message !== undefined && (ErrorCodes as readonly string[]).includes(code))
      return new GantryError(code as ErrorCode, `${this.server}: ${message}`, { details });
    const fallback: ErrorCode | undefined =
      status === 401 ? 'API_UNAUTHENTICATED' : status === 403 ? 'API_FORBIDDEN' : undefined;
    if (fallback)
      return new GantryError(fallback, `${this.server} refused the API token (HTTP ${status})`, { details });
    return new GantryError(
      'SERVER_PROTOCOL',
      code !== undefined && message !== undefined
        ? `${this.server}: ${message} (code ${code}, unknown to this gantry)`
        : `${this.server} answered ${path} with HTTP ${status} and no Gantry error; is it a Gantry server?`,
      { details },
    );
  }

  #transportError(error: unknown, what: string): GantryError {
    const code = (error as { code?: unknown }).code;
    const codeText = typeof code === 'string' ? code : '';
    const cause = (error as { cause?: { code?: unknown } }).cause;
    const causeCode = typeof cause?.code === 'string' ? cause.code : '';
    if (TLS_CODES.has(codeText) || TLS_CODES.has(causeCode))
      return new GantryError(
        'SERVER_TLS',
        `cannot reach ${this.server} over TLS (${codeText || causeCode}); trust its CA with NODE_EXTRA_CA_CERTS`,
        { cause: error },
      );
    const why =
      codeText.startsWith('UND_ERR_') && codeText.includes('TIMEOUT')
        ? 'timed out'
        : codeText || causeCode || (error instanceof Error ? error.message.split('\n')[0] : 'failed');
    return new GantryError('SERVER_UNREACHABLE', `cannot reach ${this.server} (${what}: ${why})`, {
      cause: error,
    });
  }
}

/** Drops a body not read to its end (undici reports that as an error nobody listens to otherwise). */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** True for an error of the network or of undici (it has a string `code`), not a bug. */
function isTransportError(error: unknown): boolean {
  return typeof (error as { code?: unknown } | undefined)?.code === 'string';
}

/** True for a plain JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A shape check for an object whose named fields have the given JSON types. */
export function objectWith<T>(
  fields: Readonly<Record<string, 'string' | 'number' | 'boolean' | 'array' | 'object'>>,
): Shape<T> {
  return (value) => {
    if (!isRecord(value)) throw new Error('not an object');
    for (const [key, type] of Object.entries(fields)) {
      const v = value[key];
      const ok = type === 'array' ? Array.isArray(v) : type === 'object' ? isRecord(v) : typeof v === type;
      if (!ok)
        throw new Error(
          `${key} is not ${type === 'array' || type === 'object' ? `an ${type}` : `a ${type}`}`,
        );
    }
    return value as T;
  };
}
