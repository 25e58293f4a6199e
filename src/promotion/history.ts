/**
 * Reading promotion history back from the registries: every digest in an environment's
 * repository that carries promotion attestations, found through its tags and the referrers
 * tag-schema index tags.
 *
 * A record counts only when its DSSE envelope holds up: it is about this digest, this environment
 * and this application, and — when an attestation key is configured — it carries a signature that
 * verifies against one of the trusted keys ({@link trustedPromotionRecords}). The facts (time,
 * kind, version, actor) come from the signed statement, never from the artifact's annotations,
 * which anyone who can push to the repository can write.
 */
import {
  compareStrings,
  digestHex,
  isDigest,
  isGantryError,
  type Digest,
  type Descriptor,
  type Repository,
} from '../core/index.js';
import {
  Annotations,
  DSSE_MEDIA_TYPE,
  PROMOTION_ARTIFACT_TYPE,
  openEnvelope,
  type EnvelopeCheck,
} from './attestation.js';
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

/**
 * Which promotion records to believe.
 * - `required: true` (an attestation key is configured): a record counts only when its DSSE
 *   signature verifies against one of `publicKeys()`.
 * - `required: false` (no key configured): every intact record counts; the history is
 *   unauthenticated, and `gantry plan` says so.
 */
export interface PromotionTrust {
  readonly required: boolean;
  /**
   * The trusted public keys (PEM). Called only when a record has to be checked, so commands that
   * find nothing to check need no key; may throw `CONFIG_INVALID` when no key can be loaded.
   */
  publicKeys(): readonly string[];
}

/** No key configured: every intact record counts (unauthenticated history). */
export const UNAUTHENTICATED: PromotionTrust = Object.freeze({
  required: false,
  publicKeys: () => [],
});

/** A record that does not count, and why. */
export interface IgnoredRecord {
  /** Digest of the attestation artifact. */
  readonly attestation: Digest;
  readonly reason: string;
}

/** What {@link trustedPromotionRecords} found. */
export interface TrustedRecords {
  /** Records that count, newest first. */
  readonly entries: readonly HistoryEntry[];
  /** Records that look like ones for this environment and application but do not count. */
  readonly ignored: readonly IgnoredRecord[];
  /** False when no key is configured: the entries are believed without a signature. */
  readonly authenticated: boolean;
}

const FALLBACK_TAG = /^sha256-([0-9a-f]{64})$/;
/** HEAD requests in flight while resolving tags. */
const PARALLEL = 8;
/** Envelopes larger than this are not read (a Gantry envelope is a few KiB). */
const MAX_ENVELOPE = 1024 * 1024;

/** Only the registry's explicit "unknown" means absent; every other failure is the caller's error. */
function absent(err: unknown): boolean {
  return isGantryError(err, 'REGISTRY_MANIFEST_UNKNOWN', 'REGISTRY_NAME_UNKNOWN');
}

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
    // A tag deleted between the listing and the lookup is absent; a registry that fails to
    // answer (5xx, auth, TLS, unreachable) is an error, never a missing tag.
    const resolved = await Promise.all(
      batch.map((t) =>
        registry.resolve(repo, t).catch((err: unknown) => {
          if (absent(err)) return undefined;
          throw err;
        }),
      ),
    );
    batch.forEach((t, j) => {
      const d = resolved[j];
      if (d) out.set(d, [...(out.get(d) ?? []), t]);
    });
  }
  return out;
}

/**
 * The promotion records of `digest` into `environment` for `application` that count under
 * `trust`, newest first, with the ones that do not and why. Registry errors other than an
 * explicit "unknown" propagate: a record that cannot be read is never taken as absent, and a
 * record that cannot be verified never counts.
 *
 * Gates (previous-env, soak), history, rollback and the "already attested" check of a re-run all
 * read promotion records through this function.
 */
export async function trustedPromotionRecords(
  registry: RegistryPort,
  repo: Repository,
  digest: Digest,
  environment: string,
  application: string,
  trust: PromotionTrust,
): Promise<TrustedRecords> {
  const list = await registry.referrers(repo, digest, PROMOTION_ARTIFACT_TYPE);
  const entries: HistoryEntry[] = [];
  const ignored: IgnoredRecord[] = [];
  for (const d of list) {
    // The annotations only pre-select (they are not signed); the statement decides.
    const a = d.annotations ?? {};
    if (a[Annotations.env] !== environment || a[Annotations.app] !== application) continue;
    const checked = await checkPromotionRecord(registry, repo, d, digest, trust);
    if ('reason' in checked) {
      ignored.push({ attestation: d.digest, reason: checked.reason });
      continue;
    }
    const p = checked.statement.predicate;
    if (p.to.environment !== environment || p.application !== application) {
      ignored.push({
        attestation: d.digest,
        reason: `its signed statement is about ${p.application} in ${p.to.environment}`,
      });
      continue;
    }
    entries.push({
      time: p.time,
      kind: p.kind === 'rollback' ? 'rollback' : 'promotion',
      environment,
      application,
      ...(p.version !== undefined && { version: p.version }),
      ...(p.revision !== undefined && { revision: p.revision }),
      digest,
      actor: p.actor,
      attestation: d.digest,
    });
  }
  return {
    entries: entries.sort((x, y) => compareStrings(y.time, x.time)),
    ignored,
    authenticated: trust.required,
  };
}

/**
 * Reads and checks one promotion record `d` of `digest`: its artifact (subject, DSSE layer), its
 * envelope, the digest its statement names, and — when `trust.required` — its signature. Returns
 * the opened envelope, or why the record does not count. Registry errors other than "unknown"
 * propagate.
 */
export async function checkPromotionRecord(
  registry: RegistryPort,
  repo: Repository,
  d: Descriptor,
  digest: Digest,
  trust: PromotionTrust,
): Promise<EnvelopeCheck | { reason: string }> {
  let bytes: Buffer;
  try {
    const m = await registry.manifest(repo, d.digest);
    if (m.kind !== 'image') return { reason: 'not an artifact manifest' };
    if (m.body.subject?.digest !== digest) return { reason: `its subject is not ${digest}` };
    const layer = m.body.layers.find((l) => l.mediaType === DSSE_MEDIA_TYPE);
    if (!layer) return { reason: 'it has no DSSE envelope' };
    if (layer.size > MAX_ENVELOPE) return { reason: 'its envelope is larger than 1 MiB' };
    bytes = await registry.blob(repo, layer);
  } catch (err) {
    if (isGantryError(err, 'REGISTRY_MANIFEST_UNKNOWN', 'REGISTRY_BLOB_UNKNOWN'))
      return { reason: 'it is listed but cannot be found' };
    throw err;
  }
  let check: EnvelopeCheck;
  try {
    check = openEnvelope(bytes, trust.required ? trust.publicKeys() : []);
  } catch (err) {
    if (isGantryError(err, 'ATTESTATION_INVALID')) return { reason: err.message };
    throw err;
  }
  const st = check.statement;
  // The statement came off the wire: check its shape, not only its types.
  const subjects: readonly unknown[] = Array.isArray(st.subject) ? (st.subject as unknown[]) : [];
  const names = (s: unknown): boolean =>
    (s as { digest?: { sha256?: unknown } } | null)?.digest?.sha256 === digestHex(digest);
  if (
    st.predicate.digest !== digest ||
    !subjects.some(names) ||
    typeof st.predicate.to?.environment !== 'string' ||
    typeof st.predicate.time !== 'string'
  ) {
    return { reason: 'its statement is about another digest or is incomplete' };
  }
  if (trust.required && check.signature !== 'verified') {
    const why: Record<EnvelopeCheck['signature'], string> = {
      verified: '',
      unsigned: 'it is not signed',
      invalid: 'its signature does not verify',
      'unknown-key': 'it is signed by a key that is not trusted',
    };
    return { reason: why[check.signature] };
  }
  return check;
}

/** Attestation entries of one digest for one environment and application that count under `trust`, newest first. */
export async function entriesOf(
  registry: RegistryPort,
  repo: Repository,
  digest: Digest,
  environment: string,
  application: string,
  trust: PromotionTrust = UNAUTHENTICATED,
): Promise<HistoryEntry[]> {
  return [
    ...(await trustedPromotionRecords(registry, repo, digest, environment, application, trust)).entries,
  ];
}

/** The whole history of `application` in `environment` that counts under `trust`, newest first. */
export async function historyOf(
  registry: RegistryPort,
  repo: Repository,
  environment: string,
  application: string,
  trust: PromotionTrust = UNAUTHENTICATED,
): Promise<HistoryEntry[]> {
  const digests = [...(await digestsOf(registry, repo)).keys()];
  const all: HistoryEntry[] = [];
  for (let i = 0; i < digests.length; i += PARALLEL) {
    const batch = await Promise.all(
      digests
        .slice(i, i + PARALLEL)
        .map((d) => entriesOf(registry, repo, d, environment, application, trust)),
    );
    all.push(...batch.flat());
  }
  return all.sort((x, y) => compareStrings(y.time, x.time));
}
