/**
 * Raw, authenticated HTTP against a test registry with undici — deliberately independent of
 * Gantry's own registry client, so tests that seed or inspect a registry are not circular.
 */
import { Agent, request, type Dispatcher } from 'undici';
import type { RegistryProcess } from './registry.js';

/** A fully read registry response. */
export interface RegistryResponse {
  /** HTTP status code. */
  status: number;
  /** Response headers (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
  /** The whole body. */
  body: Buffer;
  /** The first value of a header, or undefined. */
  header(name: string): string | undefined;
}

/** Options of {@link registryRequest}. */
export interface RegistryRequestOptions {
  /** HTTP method (default GET). */
  method?: Dispatcher.HttpMethod;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Request body. */
  body?: Buffer | string;
  /** Repository the request is about, for the token scope (default: parsed from `/v2/<name>/…`). */
  repository?: string;
  /** Actions for the token scope (default `['pull']`). */
  actions?: readonly string[];
  /**
   * `Authorization` header to send; `null` sends none (anonymous). Default: computed for the
   * registry's auth variant (Basic for htpasswd, a fresh token for token auth).
   */
  authorization?: string | null;
  /** Dispatcher to use (default: one trusting the registry's test CA when it serves TLS). */
  dispatcher?: Dispatcher;
}

/** The first user's `Basic` credentials of an authenticated registry. */
function basicFor(registry: RegistryProcess): string | undefined {
  const user = registry.users[0];
  if (!user) return undefined;
  return `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
}

/**
 * Fetches a bearer token for `repository:<repository>:<actions>` from the registry's fake token
 * server as its first user (GET, Basic auth) — independent of the client under test.
 */
export async function fetchToken(
  registry: RegistryProcess,
  repository: string,
  actions: readonly string[] = ['pull'],
): Promise<string> {
  const server = registry.tokenServer;
  if (!server) throw new Error(`fetchToken: ${registry.url} does not use token auth`);
  const url = new URL(server.realm);
  url.searchParams.set('service', server.service);
  url.searchParams.append('scope', `repository:${repository}:${actions.join(',')}`);
  const basic = basicFor(registry);
  const res = await request(url, { headers: basic ? { authorization: basic } : {} });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`fetchToken: token server answered ${res.statusCode}: ${text}`);
  const body = JSON.parse(text) as { token?: string };
  if (!body.token) throw new Error(`fetchToken: no token in ${text}`);
  return body.token;
}

/**
 * The `Authorization` header value to use for `repository` on `registry`: none for anonymous
 * registries, Basic for htpasswd, `Bearer <token>` for token auth.
 */
export async function authorizationFor(
  registry: RegistryProcess,
  repository: string,
  actions: readonly string[] = ['pull'],
): Promise<string | undefined> {
  switch (registry.auth) {
    case 'none':
      return undefined;
    case 'htpasswd':
      return basicFor(registry);
    case 'token':
      return `Bearer ${await fetchToken(registry, repository, actions)}`;
  }
}

/**
 * An undici dispatcher that trusts the registry's test CA (`undefined` for plain HTTP registries,
 * meaning undici's global dispatcher). The caller closes it.
 */
export function dispatcherFor(registry: Pick<RegistryProcess, 'caPem'>): Agent | undefined {
  return registry.caPem === undefined ? undefined : new Agent({ connect: { ca: registry.caPem } });
}

/** The repository name in a `/v2/<name>/(blobs|manifests|tags|referrers)/…` path. */
function repositoryOf(path: string): string | undefined {
  return /^\/v2\/(.+?)\/(?:blobs|manifests|tags|referrers)\//.exec(new URL(path, 'http://x').pathname)?.[1];
}

/**
 * Sends one request to `registry` (`path` is relative to its URL, e.g. `/v2/a/b/tags/list`, or an
 * absolute URL such as an upload `Location`) and reads the whole response. Never throws on HTTP
 * errors: check `status`.
 */
export async function registryRequest(
  registry: RegistryProcess,
  path: string,
  options: RegistryRequestOptions = {},
): Promise<RegistryResponse> {
  const url = new URL(path, registry.url);
  const repository = options.repository ?? repositoryOf(path) ?? '';
  const authorization =
    options.authorization === null
      ? undefined
      : (options.authorization ?? (await authorizationFor(registry, repository, options.actions)));
  const ownDispatcher = options.dispatcher ? undefined : dispatcherFor(registry);
  const dispatcher = options.dispatcher ?? ownDispatcher;
  try {
    const res = await request(url, {
      method: options.method ?? 'GET',
      headers: { ...(authorization ? { authorization } : {}), ...options.headers },
      body: options.body,
      ...(dispatcher ? { dispatcher } : {}),
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    const headers = res.headers;
    return {
      status: res.statusCode,
      headers,
      body,
      header(name: string) {
        const value = headers[name.toLowerCase()];
        return Array.isArray(value) ? value[0] : value;
      },
    };
  } finally {
    await ownDispatcher?.close();
  }
}

/** Throws an error quoting method, URL, status and body unless `res.status` is one of `expected`. */
export function expectStatus(res: RegistryResponse, expected: readonly number[], what: string): void {
  if (!expected.includes(res.status)) {
    throw new Error(
      `${what}: expected HTTP ${expected.join('/')}, got ${res.status}: ${res.body.toString('utf8')}`,
    );
  }
}
