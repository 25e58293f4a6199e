/**
 * Image references, following the Docker reference grammar
 * (https://github.com/distribution/reference/blob/main/reference.go):
 *
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [domain "/"] path-component ["/" path-component]*
 *
 * A name without a domain is normalised to Docker Hub (`docker.io`), and a single-component Hub
 * name gets the `library/` namespace, exactly as `docker pull` does.
 */
import {
  GantryError,
  escapeControl,
  isDigest,
  isValidTag,
  parseDigest,
  type Digest,
  type Repository,
} from '../core/index.js';

/** Docker Hub's canonical name in references. */
export const DOCKER_HUB = 'docker.io';
/** The host that actually serves Docker Hub's registry API. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

export type { Repository } from '../core/index.js';

/** A fully parsed reference. At least one of `tag` and `digest` is set after parsing with a default tag. */
export interface Reference extends Repository {
  readonly tag?: string;
  readonly digest?: Digest;
}

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])`;
const DOMAIN_RE = new RegExp(`^${HOST}(?::[0-9]+)?$`);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const NAME_MAX = 255;

/** Options for {@link parseReference}. */
export interface ParseReferenceOptions {
  /** Tag to use when the reference has neither tag nor digest. Default `'latest'`; `null` leaves both unset. */
  readonly defaultTag?: string | null;
}

/**
 * Parses an image reference such as `nginx`, `host:5000/team/web:1.2`, `web@sha256:…` or
 * `host/web:1.2@sha256:…`. A `docker://` prefix (skopeo's transport) is accepted and dropped.
 * Throws `REFERENCE_INVALID` with a message saying precisely what is wrong.
 */
export function parseReference(input: string, options: ParseReferenceOptions = {}): Reference {
  const raw = input.startsWith('docker://') ? input.slice('docker://'.length) : input;
  const fail = (why: string): never => {
    throw new GantryError('REFERENCE_INVALID', `invalid reference "${shorten(input)}": ${why}`);
  };
  if (raw.length === 0) fail('empty');
  if (/\s/.test(raw)) fail('contains whitespace');

  let rest = raw;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    rest = rest.slice(0, at);
    try {
      digest = parseDigest(d);
    } catch (err) {
      fail(err instanceof Error ? err.message : 'invalid digest');
    }
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isValidTag(tag))
      fail(`invalid tag "${shorten(tag)}" (letters, digits, "_", "." and "-", at most 128)`);
  }

  const { registry, repository } = splitName(rest, fail);
  if (tag === undefined && digest === undefined) {
    const def = options.defaultTag === undefined ? 'latest' : options.defaultTag;
    if (def !== null) tag = def;
  }
  return Object.freeze({
    registry,
    repository,
    ...(tag !== undefined && { tag }),
    ...(digest && { digest }),
  });
}

/** Parses a repository without tag or digest (`host/team/web`); throws `REFERENCE_INVALID`. */
export function parseRepository(input: string): Repository {
  const raw = input.startsWith('docker://') ? input.slice('docker://'.length) : input;
  const fail = (why: string): never => {
    throw new GantryError('REFERENCE_INVALID', `invalid repository "${shorten(input)}": ${why}`);
  };
  if (raw.includes('@')) fail('a repository takes no digest');
  const lastSlash = raw.lastIndexOf('/');
  if (raw.lastIndexOf(':') > lastSlash) fail('a repository takes no tag');
  return Object.freeze(splitName(raw, fail));
}

function splitName(name: string, fail: (why: string) => never): Repository {
  if (name.length === 0) fail('missing repository name');
  const slash = name.indexOf('/');
  let registry = DOCKER_HUB;
  let path = name;
  if (slash >= 0) {
    const first = name.slice(0, slash);
    if (
      first.includes('.') ||
      first.includes(':') ||
      first === 'localhost' ||
      first !== first.toLowerCase()
    ) {
      if (!isValidRegistryHost(first)) fail(`invalid registry host "${shorten(first)}"`);
      registry = first;
      path = name.slice(slash + 1);
    }
  }
  if (registry === 'index.docker.io' || registry === DOCKER_HUB_API_HOST) registry = DOCKER_HUB;
  if (path.length === 0) fail('missing repository name');
  for (const component of path.split('/')) {
    if (component.length === 0) fail('empty path component');
    if (!PATH_COMPONENT_RE.test(component)) {
      fail(
        component !== component.toLowerCase()
          ? `repository name must be lowercase ("${shorten(component)}")`
          : `invalid path component "${shorten(component)}"`,
      );
    }
  }
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (registry.length + 1 + path.length > NAME_MAX) fail(`name longer than ${NAME_MAX} characters`);
  return { registry, repository: path };
}

/**
 * True when `host` is a registry host as references spell it: a domain name, an IPv4 address
 * (each part 0-255) or a valid bracketed IPv6 address, with an optional port from 1 to 65535.
 */
export function isValidRegistryHost(host: string): boolean {
  if (!DOMAIN_RE.test(host)) return false;
  const port = /:(\d+)$/.exec(host)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return false;
  const name = port !== undefined ? host.slice(0, -port.length - 1) : host;
  if (name.startsWith('[')) return URL.canParse(`http://${name}/`);
  if (/^[\d.]+$/.test(name)) {
    const parts = name.split('.');
    return parts.length === 4 && parts.every((p) => Number(p) <= 255);
  }
  return true;
}

/** Formats a reference back to its canonical string (`host/repo:tag@digest`). */
export function formatReference(ref: Reference): string {
  let s = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** The same repository with a digest (and no tag): the pinned form. */
export function withDigest(repo: Repository, digest: Digest): Reference {
  return Object.freeze({ registry: repo.registry, repository: repo.repository, digest });
}

/** The manifest reference to send to the API: the digest when known, otherwise the tag. */
export function manifestReference(ref: Reference): string {
  const r = ref.digest ?? ref.tag;
  if (r === undefined) {
    throw new GantryError(
      'REFERENCE_INVALID',
      `reference "${formatReference(ref)}" has neither tag nor digest`,
    );
  }
  return r;
}

/** The host to connect to for a registry name (`docker.io` → `registry-1.docker.io`). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
}

/**
 * True when a blob of `from` can be mounted into `to`: two different repositories of one
 * registry (cross-repository mount, distribution-spec "Mounting a blob from another repository").
 */
export function canMount(from: Repository | undefined, to: Repository | undefined): boolean {
  return (
    from !== undefined &&
    to !== undefined &&
    apiHost(from.registry) === apiHost(to.registry) &&
    from.repository !== to.repository
  );
}

/** True when `tag` is a valid tag (the grammar lives in core: {@link isValidTag}). */
export { isValidTag };

/** True when `path` is a valid repository path (`team/web`): lowercase components joined by `/`. */
export function isValidRepositoryPath(path: string): boolean {
  if (path.length === 0 || path.length > NAME_MAX) return false;
  return path.split('/').every((c) => PATH_COMPONENT_RE.test(c));
}

/**
 * Checks a manifest reference (a tag or a digest) before it becomes part of a request path.
 * Throws `REFERENCE_INVALID` naming the repository and the (escaped) reference.
 */
export function assertManifestReference(repo: Repository, reference: string): void {
  if (isValidTag(reference) || isDigest(reference)) return;
  throw new GantryError(
    'REFERENCE_INVALID',
    `invalid tag or digest "${shorten(escapeControl(reference))}" for ${repo.registry}/${shorten(escapeControl(repo.repository))}: a tag is letters, digits, "_", "." and "-" (at most 128, not starting with "." or "-")`,
  );
}

/** Checks a repository path before it becomes part of a request path; throws `REFERENCE_INVALID`. */
export function assertRepositoryPath(repo: Repository): void {
  if (isValidRepositoryPath(repo.repository)) return;
  throw new GantryError(
    'REFERENCE_INVALID',
    `invalid repository name "${shorten(escapeControl(repo.repository))}" in ${escapeControl(repo.registry)}: lowercase letters, digits and separators, components joined by "/"`,
  );
}

function shorten(s: string): string {
  return s.length > 100 ? `${s.slice(0, 97)}...` : s;
}
