/**
 * The authenticated request path shared by every registry resource: builds `/v2/` URLs (the one
 * place request paths are made, so no repository name, tag or digest can change their structure), attaches
 * the right `Authorization` for the request's scopes, answers 401 challenges once (and 403
 * `insufficient_scope`), and turns unexpected statuses into errors that keep the registry's codes.
 */
import type { Readable } from 'node:stream';
import {
  GantryError,
  escapeControl,
  silentLogger,
  systemClock,
  type Clock,
  type Logger,
} from '../core/index.js';
import type { Authenticator } from './auth/authenticator.js';
import { parseChallenges } from './auth/challenge.js';
import { apiHost, assertManifestReference, assertRepositoryPath, type Repository } from './reference.js';
import type { HttpResponse, HttpTransport } from './transport/http-transport.js';
import { discardBody, readBody, MAX_ERROR_BODY_BYTES } from './transport/read-body.js';
import { responseError } from './transport/registry-error.js';

/** One call to a registry. */
export interface CallOptions {
  readonly method: string;
  /** Registry host (`docker.io` is mapped to its API host). */
  readonly registry: string;
  /** Path under the registry origin, e.g. `/v2/team/web/manifests/1.0`, or an absolute URL (upload locations). */
  readonly path: string;
  /** Token scopes this request needs, e.g. `repository:team/web:pull`. */
  readonly scopes: readonly string[];
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer | Readable;
  /** Statuses the caller handles itself; anything else becomes an error. */
  readonly expect: readonly number[];
  /** What is being done, for error messages (`manifest team/web:1.0`). */
  readonly what: string;
  readonly followRedirects?: boolean;
  /** Set false where a retry of the same request cannot help (default: the transport decides). */
  readonly retry?: boolean;
  /** Overall deadline of the response body in ms (default: the transport's fixed response deadline). */
  readonly deadlineMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Runs `task` holding an exclusive lock on `key` (for `gantry serve`, one held across replicas),
 * resolving when the task has finished and the lock is released.
 */
export type ReferrerLock = (key: string, task: () => Promise<void>) => Promise<void>;

/** Options of a {@link Session}. */
export interface SessionOptions {
  /** Aborts every call that does not bring a signal of its own. Default: none. */
  readonly signal?: AbortSignal;
  /** Serialises referrers fallback updates per key. Default: none (in-process serialisation and a settle wait). */
  readonly referrerLock?: ReferrerLock;
  /** Clock of waits the registry resources make themselves. Default: the system clock. */
  readonly clock?: Clock;
  /** A session whose knowledge of registries (referrers API or not) this one shares. */
  readonly shareWith?: Pick<Session, 'lacksReferrersApi' | 'hasReferrersApi'>;
}

/** The shared request machinery. Library-internal: use {@link RegistryClient}. */
export class Session {
  readonly transport: HttpTransport;
  readonly auth: Authenticator;
  readonly logger: Logger;
  /** Registries that answered 404 on the referrers API: the tag schema is used directly. */
  readonly lacksReferrersApi: Set<string>;
  /** Registries that answered the referrers API: the tag schema is not asked. */
  readonly hasReferrersApi: Set<string>;
  /** Aborts every call of this session that does not bring a signal of its own. Default: none. */
  readonly signal: AbortSignal | undefined;
  /** Runs each referrers fallback update of one key exclusively (see {@link ReferrerLock}). Default: none. */
  readonly referrerLock: ReferrerLock | undefined;
  /** Clock of waits the registry resources make themselves (the referrers settle period). */
  readonly clock: Clock;

  constructor(
    transport: HttpTransport,
    auth: Authenticator,
    logger: Logger = silentLogger,
    options: SessionOptions = {},
  ) {
    this.transport = transport;
    this.auth = auth;
    this.logger = logger;
    this.signal = options.signal;
    this.referrerLock = options.referrerLock;
    this.clock = options.clock ?? systemClock;
    this.lacksReferrersApi = options.shareWith?.lacksReferrersApi ?? new Set();
    this.hasReferrersApi = options.shareWith?.hasReferrersApi ?? new Set();
  }

  /** The same session (transport, tokens, what it learnt of registries) with every call aborted by `signal`. */
  withSignal(signal: AbortSignal): Session {
    return new Session(this.transport, this.auth, this.logger, {
      signal,
      clock: this.clock,
      ...(this.referrerLock !== undefined && { referrerLock: this.referrerLock }),
      shareWith: this,
    });
  }

  /**
   * The `/v2/<name>` base path of a repository. Throws `REFERENCE_INVALID` when the name is not a
   * valid repository path (so `..`, `%2e`, empty components or control characters never reach a URL).
   */
  static repoPath(repo: Repository): string {
    assertRepositoryPath(repo);
    return `/v2/${repo.repository}`;
  }

  /**
   * The `/v2/<name>/manifests/<reference>` path. `reference` must be a valid tag or digest:
   * anything else throws `REFERENCE_INVALID` before a request is made.
   */
  static manifestPath(repo: Repository, reference: string): string {
    const base = Session.repoPath(repo);
    assertManifestReference(repo, reference);
    return `${base}/manifests/${reference}`;
  }

  /** Sends a call and returns the response when its status is expected; throws otherwise. */
  async call(options: CallOptions): Promise<HttpResponse> {
    const host = apiHost(options.registry);
    const origin = this.transport.origin(host);
    const url = /^https?:\/\//.test(options.path)
      ? new URL(options.path)
      : relativeUrl(options.path, origin, host);
    // An absolute URL comes from the registry (an upload `Location`). Credentials belong to the
    // registry's own origin: another origin (another host, port or scheme) gets none, and its 401
    // is not answered with a token, so a registry cannot make Gantry send them elsewhere.
    const foreign = url.origin !== new URL(origin).origin;
    const signal = options.signal ?? this.signal;
    const send = async (authorization: string | undefined): Promise<HttpResponse> =>
      this.transport.request({
        method: options.method,
        url,
        headers: { ...options.headers, ...(authorization !== undefined && { authorization }) },
        ...(options.body !== undefined && { body: options.body }),
        ...(options.followRedirects !== undefined && { followRedirects: options.followRedirects }),
        ...(options.retry !== undefined && { retry: options.retry }),
        ...(options.deadlineMs !== undefined && { deadlineMs: options.deadlineMs }),
        ...(signal !== undefined && { signal }),
      });

    let res = await send(foreign ? undefined : await this.auth.header(host, options.scopes));
    const challenges = parseChallenges(res.headers.getAll('www-authenticate'));
    const insufficient =
      res.status === 403 && challenges.some((c) => c.params.error === 'insufficient_scope');
    const streamed = options.body !== undefined && !Buffer.isBuffer(options.body);
    if (
      (res.status === 401 || insufficient) &&
      !foreign &&
      !streamed &&
      !options.expect.includes(res.status)
    ) {
      await discardBody(res.body);
      const header = await this.auth.challenge(host, options.scopes, challenges);
      res = await send(header);
    }
    if (options.expect.includes(res.status)) return res;
    const body = await readBody(res.body, MAX_ERROR_BODY_BYTES, { truncate: true }).catch(() =>
      Buffer.alloc(0),
    );
    const err = responseError(
      options.method,
      res.url, // the URL actually used: after the plain-HTTP fallback it is http://
      res.status,
      options.method === 'HEAD' ? '' : body,
      options.what,
    );
    if (err.code === 'REGISTRY_UNAUTHORIZED' && res.status === 401) {
      throw new GantryError(
        'REGISTRY_UNAUTHORIZED',
        `${err.message} (check your credentials for ${options.registry})`,
        {
          details: err.details,
        },
      );
    }
    throw err;
  }
}

/** Characters that are never part of a path Gantry builds (they could end, escape or re-route it). */
// eslint-disable-next-line no-control-regex
const UNSAFE_PATH_CHARS = /[\u0000-\u0020\u007f-\uffff%\\#]/;

/**
 * Resolves a path Gantry built against the registry origin, refusing any path whose structure
 * `new URL` would change: dot segments (`/v2/a/../../b`), encoded or odd characters, or a host
 * other than the registry's. Paths come from {@link Session.repoPath} and friends, so this is a
 * second line of defence: it throws `REFERENCE_INVALID` rather than send a request elsewhere.
 */
function relativeUrl(path: string, origin: string, host: string): URL {
  const q = path.indexOf('?');
  const pathname = q === -1 ? path : path.slice(0, q);
  const segments = pathname.split('/');
  const url = new URL(path, origin);
  if (
    !pathname.startsWith('/v2/') ||
    UNSAFE_PATH_CHARS.test(pathname) ||
    segments.some((s) => s === '.' || s === '..') ||
    url.pathname !== pathname ||
    url.origin !== new URL(origin).origin
  ) {
    throw new GantryError(
      'REFERENCE_INVALID',
      `refusing to send a request to an unsafe path "${escapeControl(pathname.slice(0, 200))}" on ${host}`,
    );
  }
  return url;
}
