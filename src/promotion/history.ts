/**
 * Reading promotion history back from the registries: every digest in an environment's
 * repository that carries promotion attestations, found through its tags and the referrers
 * tag-schema index tags, read from the attestation annotations (no envelope downloads).
 */
import { compareStrings, isDigest, type Digest } from '../core/index.js';
import type { Repository } from '../registry/index.js';
import { Annotations, PROMOTION_ARTIFACT_TYPE } from './attestation.js';
import type { RegistryPort } from './ports.js';

/** One recorded promotion or rollback. */
export interface HistoryEntry {
  readonly time: string;
  readonly kind: 'promotion' | 'rollback';
  readonly environment: string;
  readonly application: string;
  readonly version?: string;
  readonly revision?: string;
  readonly digest: Digest;
  readonly actor: string;
  /** Digest of the attestation artifact. */
  readonly attestation: Digest;
}

const FALLBACK_TAG = /^sha256-([0-9a-f]{64})$/;
/** HEAD requests in flight while resolving tags. */
const PARALLEL = 8;

/** Every digest the tags of `repo` point at, plus subjects of tag-schema referrer indexes. */
export async function digestsOf(registry: RegistryPort, repo: Repository): Promise<Map<Digest, string[]>> {
  const tags = await registry.tags(repo);
  const out = new Map<Digest, string[]>();
  const plain: string[] = [];
  for (const t of tags) {
    const m = FALLBACK_TAG.exec(t);
    if (m) {
      const d = `sha256:${m[1]}`;
      if (isDigest(d) && !out.has(d)) out.set(d, []);
    } else {
      plain.push(t);
    }
  }
  for (let i = 0; i < plain.length; i += PARALLEL) {
    const batch = plain.slice(i, i + PARALLEL);
    const resolved = await Promise.all(batch.map((t) => registry.resolve(repo, t).catch(() => undefined)));
    batch.forEach((t, j) => {
      const d = resolved[j];
      if (d) out.set(d, [...(out.get(d) ?? []), t]);
    });
  }
  return out;
}

/** Attestation entries of one digest for one environment and application, newest first. */
export async function entriesOf(
  registry: RegistryPort,
  repo: Repository,
  digest: Digest,
  environment: string,
  application: string,
): Promise<HistoryEntry[]> {
  const list = await registry.referrers(repo, digest, PROMOTION_ARTIFACT_TYPE);
  const entries: HistoryEntry[] = [];
  for (const d of list) {
    const a = d.annotations ?? {};
    if (a[Annotations.env] !== environment || a[Annotations.app] !== application) continue;
    const kind = a[Annotations.kind] === 'rollback' ? 'rollback' : 'promotion';
    entries.push({
      time: a[Annotations.created] ?? '',
      kind,
      environment,
      application,
      ...(a[Annotations.version] !== undefined && { version: a[Annotations.version] }),
      ...(a[Annotations.revision] !== undefined && { revision: a[Annotations.revision] }),
      digest,
      actor: a[Annotations.actor] ?? 'unknown',
      attestation: d.digest,
    });
  }
  return entries.sort((x, y) => compareStrings(y.time, x.time));
}

/** The whole history of `application` in `environment`, newest first. */
export async function historyOf(
  registry: RegistryPort,
  repo: Repository,
  environment: string,
  application: string,
): Promise<HistoryEntry[]> {
  const digests = [...(await digestsOf(registry, repo)).keys()];
  const all: HistoryEntry[] = [];
  for (let i = 0; i < digests.length; i += PARALLEL) {
    const batch = await Promise.all(
      digests.slice(i, i + PARALLEL).map((d) => entriesOf(registry, repo, d, environment, application)),
    );
    all.push(...batch.flat());
  }
  return all.sort((x, y) => compareStrings(y.time, x.time));
}
