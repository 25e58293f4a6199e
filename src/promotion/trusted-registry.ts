/**
 * A view of the registries in which only promotion records that count exist. Every reader of
 * promotion records (the previous-env and soak gates, history, rollback, status, the "already
 * attested" check of a re-run, the "was it promoted to the source environment" check) lists them
 * with `referrers(…)`; through this view that list holds only records whose envelope is intact,
 * about the listed digest, signed by a trusted key when one is configured, and whose annotations
 * say what the signed statement says. A record forged with `gantry attach … --annotation …`, or a
 * genuine envelope re-packed with other annotations, is simply not there.
 */
import type { Digest, Descriptor, Repository } from '../core/index.js';
import { Annotations, PROMOTION_ARTIFACT_TYPE, type PromotionPredicate } from './attestation.js';
import { checkPromotionRecord, type PromotionTrust } from './history.js';
import type { RegistryPort } from './ports.js';

/** Wraps `registry` so that `referrers` lists only the promotion records that count under `trust`. */
export function trustedRegistry(raw: RegistryPort, trust: PromotionTrust): RegistryPort {
  const registry = contentCache(raw);
  // Artifacts are content-addressed: a verdict on one never changes.
  const verdicts = new Map<string, Promise<boolean>>();
  const counts = (repo: Repository, subject: Digest, d: Descriptor): Promise<boolean> => {
    if (d.artifactType !== PROMOTION_ARTIFACT_TYPE) return Promise.resolve(true);
    const key = `${repo.registry}/${repo.repository}@${d.digest}>${subject}`;
    let verdict = verdicts.get(key);
    if (!verdict) {
      verdict = checkPromotionRecord(registry, repo, d, subject, trust).then((checked) =>
        'reason' in checked ? false : agrees(d.annotations ?? {}, checked.statement.predicate),
      );
      // A failed read is not a verdict: the next reader asks again.
      verdict.catch(() => verdicts.delete(key));
      verdicts.set(key, verdict);
    }
    return verdict;
  };
  return {
    ...registry,
    referrers: async (repo, digest, artifactType) => {
      const list = await registry.referrers(repo, digest, artifactType);
      const keep = await Promise.all(list.map((d) => counts(repo, digest, d)));
      return list.filter((_, i) => keep[i]);
    },
  };
}

/** True when every promotion annotation present says what the signed predicate says. */
function agrees(a: Readonly<Record<string, string>>, p: PromotionPredicate): boolean {
  const signed: Record<string, string | undefined> = {
    [Annotations.env]: p.to.environment,
    [Annotations.app]: p.application,
    [Annotations.kind]: p.kind,
    [Annotations.actor]: p.actor,
    [Annotations.created]: p.time,
    [Annotations.version]: p.version,
    [Annotations.revision]: p.revision,
  };
  return Object.entries(signed).every(([k, v]) => a[k] === undefined || a[k] === v);
}

/** Envelopes and other small blobs kept once read (records are read again by history and gates). */
const CACHED_BLOB = 1024 * 1024;
/**
 * Entries the content cache keeps. A server's app lives for months: without a bound every
 * manifest and record it ever read would stay in memory. Oldest first out.
 */
export const CONTENT_CACHE_ENTRIES = 2000;

/**
 * Remembers manifests fetched by digest and small blobs: both are content-addressed, so a second
 * reader of the same record costs no request. A failed read is forgotten; past `maxEntries` the
 * least recently used entry is.
 */
export function contentCache(registry: RegistryPort, maxEntries = CONTENT_CACHE_ENTRIES): RegistryPort {
  const cache = new Map<string, Promise<unknown>>();
  const remember = <T>(key: string, read: () => Promise<T>): Promise<T> => {
    let p = cache.get(key) as Promise<T> | undefined;
    if (p) {
      // Most recently used last (a Map keeps insertion order).
      cache.delete(key);
      cache.set(key, p);
      return p;
    }
    const fresh = read();
    p = fresh;
    fresh.catch(() => {
      if (cache.get(key) === fresh) cache.delete(key);
    });
    cache.set(key, fresh);
    while (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
    return p;
  };
  const where = (repo: Repository) => `${repo.registry}/${repo.repository}`;
  return {
    ...registry,
    manifest: (repo, reference) =>
      reference.includes(':')
        ? remember(`m ${where(repo)}@${reference}`, () => registry.manifest(repo, reference))
        : registry.manifest(repo, reference),
    blob: (repo, descriptor) =>
      descriptor.size <= CACHED_BLOB
        ? remember(`b ${where(repo)}@${descriptor.digest}`, () => registry.blob(repo, descriptor))
        : registry.blob(repo, descriptor),
  };
}
