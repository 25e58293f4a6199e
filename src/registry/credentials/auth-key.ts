/**
 * Registry host and auth-file key normalisation shared by every credential source.
 *
 * Docker, podman and older tools write the same registry under several spellings
 * (`https://index.docker.io/v1/`, `http://host:5000`, `host:5000/v2/`, podman's repository-scoped
 * `host/namespace`). Every spelling is reduced to a canonical lowercase host plus an optional
 * repository path, so lookups never depend on how a key was written.
 */

/** The canonical host of Docker Hub; `index.docker.io` and `registry-1.docker.io` are aliases. */
export const DOCKER_HUB_HOST = 'docker.io';

/** The server URL docker uses for Docker Hub as an `auths` key and towards credential helpers. */
export const DOCKER_HUB_SERVER_URL = 'https://index.docker.io/v1/';

const DOCKER_HUB_ALIASES: ReadonlySet<string> = new Set([
  DOCKER_HUB_HOST,
  'index.docker.io',
  'registry-1.docker.io',
]);

/** A normalised auth key: a registry host and, for repository-scoped keys, a repository path. */
export interface AuthKey {
  /** Lowercase registry host with optional port, Docker Hub aliases folded to `docker.io`. */
  readonly host: string;
  /** Repository path prefix such as `team/app` (podman's scoped keys), or `''` for the whole host. */
  readonly path: string;
}

/**
 * Normalises an `auths` / `credHelpers` key or a user-typed registry.
 *
 * - a scheme (`https://`, `http://`) is dropped together with everything after the host, as
 *   docker and podman do (`https://index.docker.io/v1/` → `docker.io`);
 * - an API path `/v1` or `/v2` (with or without trailing slash) is dropped (`host:5000/v2/` → `host:5000`);
 * - any other path is kept as a repository scope (`quay.io/team/` → host `quay.io`, path `team`).
 */
export function parseAuthKey(key: string): AuthKey {
  let rest = key.trim();
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(rest);
  if (scheme) rest = rest.slice(scheme[0].length);
  const slash = rest.indexOf('/');
  const rawHost = slash === -1 ? rest : rest.slice(0, slash);
  let path = slash === -1 || scheme ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
  if (/^v[12]$/.test(path)) path = '';
  const lower = rawHost.toLowerCase();
  return { host: DOCKER_HUB_ALIASES.has(lower) ? DOCKER_HUB_HOST : lower, path };
}

/** The canonical host of a registry spelled in any of the ways {@link parseAuthKey} accepts. */
export function normalizeRegistryHost(registry: string): string {
  return parseAuthKey(registry).host;
}

/**
 * The server URL docker uses for `host` as an `auths` key and on a credential helper's stdin:
 * {@link DOCKER_HUB_SERVER_URL} for Docker Hub, the bare host otherwise.
 */
export function serverUrlForHost(host: string): string {
  const normalized = normalizeRegistryHost(host);
  return normalized === DOCKER_HUB_HOST ? DOCKER_HUB_SERVER_URL : normalized;
}

/** The string form of an {@link AuthKey}: `host` or `host/path`. */
export function formatAuthKey(key: AuthKey): string {
  return key.path === '' ? key.host : `${key.host}/${key.path}`;
}

/**
 * An index of values keyed by auth keys in any spelling. Several raw keys may normalise to the
 * same key; their values are kept in preference order: the canonical spelling (the one docker
 * itself writes, see {@link serverUrlForHost}) first, then the others in insertion order.
 */
export class AuthKeyIndex<T> {
  readonly #byKey = new Map<string, { readonly canonical: boolean; readonly value: T }[]>();

  /** Builds the index from `[rawKey, value]` pairs (for example `Object.entries(auths)`). */
  constructor(entries: Iterable<readonly [string, T]>) {
    for (const [rawKey, value] of entries) {
      const key = parseAuthKey(rawKey);
      if (key.host === '') continue;
      const formatted = formatAuthKey(key);
      const canonical = rawKey === (key.path === '' ? serverUrlForHost(key.host) : formatted);
      const list = this.#byKey.get(formatted) ?? [];
      if (canonical) list.unshift({ canonical, value });
      else list.push({ canonical, value });
      this.#byKey.set(formatted, list);
    }
  }

  /**
   * Values that apply to `host` (and optionally `repository`, a path such as `team/app` without
   * the host), most specific first: `host/team/app`, `host/team`, then `host`.
   */
  *candidates(host: string, repository?: string): Generator<T> {
    const normalized = normalizeRegistryHost(host);
    if (normalized === '') return;
    const segments = (repository ?? '').split('/').filter((s) => s !== '');
    for (let n = segments.length; n >= 0; n--) {
      const key = formatAuthKey({ host: normalized, path: segments.slice(0, n).join('/') });
      for (const item of this.#byKey.get(key) ?? []) yield item.value;
    }
  }
}
