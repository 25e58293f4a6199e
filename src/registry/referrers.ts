/**
 * Referrers (distribution-spec "Listing Referrers"): the `/v2/<name>/referrers/<digest>` API, and
 * for registries without it the tag schema fallback, an index tagged `<alg>-<hex>` that lists the
 * referrers. https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-referrers
 */
import {
  GantryError,
  MediaTypes,
  digestAlgorithm,
  digestHex,
  digestOf,
  isGantryError,
  type Digest,
} from '../core/index.js';
import { repositoryScope } from './auth/challenge.js';
import { parseManifest, type Descriptor, type ImageIndex } from './manifest.js';
import { manifestGet, manifestPut } from './manifests.js';
import type { Repository } from './reference.js';
import { Session } from './session.js';
import { nextLink } from './tags.js';
import { discardBody, readBody, MAX_MANIFEST_BYTES } from './transport/read-body.js';

/** How the referrers of a digest were found. */
export type ReferrersSource = 'api' | 'tag-schema';

/** Referrers of one subject. */
export interface ReferrersResult {
  readonly descriptors: readonly Descriptor[];
  readonly source: ReferrersSource;
}

/** The fallback tag for a subject digest: `sha256:abc…` → `sha256-abc…`. */
export function referrersTag(digest: Digest): string {
  return `${digestAlgorithm(digest)}-${digestHex(digest)}`;
}

/**
 * Lists referrers of `digest`, optionally only those of one artifact type. `knownTags`, when the
 * caller has just listed the repository's tags, saves asking for a fallback tag that is not there.
 */
export async function referrersList(
  session: Session,
  repo: Repository,
  digest: Digest,
  artifactType?: string,
  knownTags?: ReadonlySet<string>,
): Promise<ReferrersResult> {
  const descriptors: Descriptor[] = [];
  const noFallbackTag = knownTags !== undefined && !knownTags.has(referrersTag(digest));
  if (session.lacksReferrersApi.has(repo.registry)) {
    const list = noFallbackTag ? [] : await fallbackList(session, repo, digest, artifactType);
    return { descriptors: list, source: 'tag-schema' };
  }
  // Until the registry has answered once, the fallback tag is fetched alongside the API call, so a
  // registry without the API costs no extra round trip.
  const probe =
    session.hasReferrersApi.has(repo.registry) || noFallbackTag
      ? undefined
      : settle(fallbackIndex(session, repo, digest));
  const query = artifactType ? `?${new URLSearchParams({ artifactType }).toString()}` : '';
  let path: string | undefined = `${Session.repoPath(repo)}/referrers/${digest}${query}`;
  for (let page = 0; path !== undefined && page < 1000; page++) {
    const res = await session
      .call({
        method: 'GET',
        registry: repo.registry,
        path,
        scopes: [repositoryScope(repo.repository, 'pull')],
        headers: { accept: MediaTypes.ociIndex },
        expect: [200, 404],
        what: `referrers of ${repo.registry}/${repo.repository}@${digest}`,
      })
      .catch(async (err: unknown) => {
        await probe;
        throw err;
      });
    if (res.status === 404) {
      await discardBody(res.body);
      if (page > 0) break;
      // A registry with the API answers 200 even for unknown subjects; remember that this one has none.
      session.lacksReferrersApi.add(repo.registry);
      const index = noFallbackTag
        ? undefined
        : probe
          ? unsettle(await probe)
          : await fallbackIndex(session, repo, digest);
      return { descriptors: filterType(index?.manifests ?? [], artifactType), source: 'tag-schema' };
    }
    session.hasReferrersApi.add(repo.registry);
    const bytes = await readBody(res.body, MAX_MANIFEST_BYTES, { what: 'referrers index' });
    const index = parseManifest(bytes, digestOf(bytes), MediaTypes.ociIndex);
    if (index.kind !== 'index') {
      throw new GantryError('REGISTRY_PROTOCOL', `referrers response for ${digest} is not an image index`);
    }
    descriptors.push(...index.body.manifests);
    path = nextLink(res.headers.get('link'));
  }
  await probe;
  return { descriptors: filterType(descriptors, artifactType), source: 'api' };
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** A promise that never rejects, so a speculative lookup nobody awaits cannot go unhandled. */
function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

function unsettle<T>(s: Settled<T>): T {
  if (s.ok) return s.value;
  throw s.error;
}

function filterType(list: readonly Descriptor[], artifactType: string | undefined): Descriptor[] {
  return artifactType ? list.filter((d) => d.artifactType === artifactType) : [...list];
}

async function fallbackIndex(
  session: Session,
  repo: Repository,
  digest: Digest,
): Promise<ImageIndex | undefined> {
  try {
    const m = await manifestGet(session, {
      registry: repo.registry,
      repository: repo.repository,
      tag: referrersTag(digest),
    });
    return m.kind === 'index' ? m.body : undefined;
  } catch (err) {
    if (isGantryError(err, 'REGISTRY_MANIFEST_UNKNOWN', 'REGISTRY_NAME_UNKNOWN', 'REGISTRY_NOT_FOUND'))
      return undefined;
    throw err;
  }
}

async function fallbackList(
  session: Session,
  repo: Repository,
  digest: Digest,
  artifactType?: string,
): Promise<Descriptor[]> {
  const index = await fallbackIndex(session, repo, digest);
  return filterType(index?.manifests ?? [], artifactType);
}

/**
 * Pushes a manifest that has a `subject` (a signature, SBOM, attestation…). When the registry does
 * not index the subject itself (no `OCI-Subject` header), the fallback tag index is updated.
 * Returns the pushed manifest's descriptor.
 */
export async function referrerPush(
  session: Session,
  repo: Repository,
  bytes: Buffer,
  mediaType: string,
): Promise<Descriptor> {
  const parsed = parseManifest(bytes, digestOf(bytes), mediaType);
  const subject = parsed.body.subject;
  if (!subject) {
    throw new GantryError(
      'REGISTRY_MANIFEST_INVALID',
      `manifest ${parsed.digest} has no subject, so it cannot be a referrer`,
    );
  }
  const result = await manifestPut(session, repo, parsed.digest, bytes, mediaType);
  const artifactType =
    parsed.body.artifactType ?? (parsed.kind === 'image' ? parsed.body.config.mediaType : undefined);
  const descriptor: Descriptor = {
    mediaType,
    digest: result.digest,
    size: bytes.byteLength,
    ...(artifactType !== undefined && { artifactType }),
    ...(parsed.body.annotations !== undefined && { annotations: parsed.body.annotations }),
  };
  if (!result.subjectIndexed) await addToFallback(session, repo, subject.digest, descriptor);
  return descriptor;
}

/** Rounds of read, merge and write before an attach gives up (each round is one GET, at most one PUT). */
const MAX_ROUNDS = 12;
/** After a write, the entry must still be there when read again this long (ms, plus jitter) later. */
const SETTLE_MS = 100;

/** Attaches in flight in this process, one chain per registry, repository and subject. */
const fallbackWriters = new Map<string, Promise<void>>();

/** Runs `task` after every earlier task of the same key in this process has finished. */
async function serialised(key: string, task: () => Promise<void>): Promise<void> {
  const before = fallbackWriters.get(key) ?? Promise.resolve();
  const run = before.then(task, task);
  const tail = run.catch(() => undefined);
  fallbackWriters.set(key, tail);
  try {
    await run;
  } finally {
    if (fallbackWriters.get(key) === tail) fallbackWriters.delete(key);
  }
}

function jitter(session: Session, ms: number): Promise<void> {
  return session.clock.sleep(ms + Math.floor(Math.random() * ms));
}

/**
 * Adds `descriptor` to the fallback tag index of `subject`. The index is read, extended and written
 * back, and distribution has no conditional PUT (it ignores `If-Match`), so a writer that read the
 * index before this one wrote can overwrite it. Hence: writers in this process take turns, and across
 * processes each writer reads the index again after writing, puts back its own entry and every entry
 * it has seen that went missing, and only returns once its entry has survived a settle period.
 * With the session's `referrerLock` (gantry serve) the update runs inside that lock and the first
 * write is confirmed by one re-read, with no settle period.
 * docs/decisions/0012-referrer-index-writes.md states what that guarantees and where it stops.
 */
async function addToFallback(
  session: Session,
  repo: Repository,
  subject: Digest,
  descriptor: Descriptor,
): Promise<void> {
  const key = `${repo.registry}/${repo.repository}@${subject}`;
  const lock = session.referrerLock;
  // Under a lock every writer of this index holds (gantry serve), no writer can slip in between
  // a read and the write: the entry is written once and confirmed by the next read, without a
  // settle wait. Should that read miss something (a writer that does not take the lock, such as
  // the CLI), the rounds go on as without a lock.
  const update = async (): Promise<void> => {
    const seen = new Map<string, Descriptor>();
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const current = (await fallbackIndex(session, repo, subject))?.manifests ?? [];
      for (const d of current) if (!seen.has(d.digest)) seen.set(d.digest, d);
      const present = new Set(current.map((d) => d.digest));
      const missing = [...seen.values()].filter((d) => !present.has(d.digest));
      if (!present.has(descriptor.digest)) missing.push(descriptor);
      // Either nothing was written (the entry was there already) or this read comes a settle
      // period after the last write and still holds everything.
      if (missing.length === 0) return;
      await putIndex(session, repo, subject, [...current, ...missing]);
      if (!(lock && round === 0)) await jitter(session, SETTLE_MS);
    }
    const final = (await fallbackIndex(session, repo, subject))?.manifests ?? [];
    if (final.some((d) => d.digest === descriptor.digest)) return;
    throw new GantryError(
      'REGISTRY_CONFLICT',
      `could not add ${descriptor.digest} to the referrers tag ${referrersTag(subject)} of ` +
        `${repo.registry}/${repo.repository}: other writers kept replacing it`,
      { details: { subject, referrer: descriptor.digest, rounds: MAX_ROUNDS } },
    );
  };
  await serialised(key, lock ? () => lock(key, update) : update);
}

async function putIndex(
  session: Session,
  repo: Repository,
  subject: Digest,
  manifests: Descriptor[],
): Promise<void> {
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests };
  await manifestPut(
    session,
    repo,
    referrersTag(subject),
    Buffer.from(JSON.stringify(index)),
    MediaTypes.ociIndex,
  );
}
