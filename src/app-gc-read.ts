/**
 * What `gantry gc` reads of one application's repository in one environment (src/app-gc.ts):
 * every manifest reachable from its tags — tagged images, index children, referrers (API and tag
 * schema) and cosign attachments — with ages, promotion records and whether another environment's
 * repository holds it. Unreadable registries throw (gc then deletes nothing); only the registry's
 * explicit "unknown" means absent.
 */
import { repositoryOf, type ApplicationConfig, type Config, type EnvironmentConfig } from './config/index.js';
import { GantryError, type Digest, type Manifest, type Repository } from './core/index.js';
import {
  PROMOTION_ARTIFACT_TYPE,
  isUnknown,
  resolveIfPresent,
  type RegistryPort,
  type RetentionNode,
} from './promotion/index.js';

/** Registry reads in flight at once. */
const PARALLEL = 8;
/** `sha256-<hex>` (referrers tag schema) and cosign's `sha256-<hex>.sig|.att|.sbom`. */
const ATTACHED_TAG = /^sha256-([0-9a-f]{64})(?:\.[a-z]+)?$/;
const IMAGE_CONFIGS = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);

/** Throws `OPERATION_ABORTED` once `signal` is aborted. */
export function abortIf(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  const why = signal.reason instanceof Error ? `: ${signal.reason.message}` : '';
  throw new GantryError('OPERATION_ABORTED', `gc aborted${why}`, { cause: signal.reason });
}

/** A node with the bytes its image references (for the report). */
export type ReadNode = RetentionNode & { readonly bytes?: number };

/**
 * Every manifest of `application` in `environment` reachable from its tags: tagged images, their
 * index children, referrers (API and tag schema) and cosign attachments, with ages, promotion
 * records and whether another environment's repository holds them.
 */
export async function readRepository(
  registry: RegistryPort,
  app: { readonly config: Config },
  environment: EnvironmentConfig,
  application: ApplicationConfig,
  signal: AbortSignal | undefined,
): Promise<Map<Digest, ReadNode>> {
  const repo = repositoryOf(environment, application);
  const tags = await registry.tags(repo);
  const tagsOf = new Map<Digest, string[]>();
  const attachedTo = new Map<Digest, Digest[]>();
  const resolved = await bounded(tags, async (t) => [t, await resolveIfPresent(registry, repo, t)] as const);
  for (const [t, d] of resolved) {
    if (!d) continue;
    const m = ATTACHED_TAG.exec(t);
    if (m) {
      const subject = `sha256:${m[1]}` as Digest;
      attachedTo.set(subject, [...(attachedTo.get(subject) ?? []), d]);
      tagsOf.set(d, tagsOf.get(d) ?? []);
    } else tagsOf.set(d, [...(tagsOf.get(d) ?? []), t]);
  }
  const own = new Set([...environment.floating, ...(environment.tag !== undefined ? [environment.tag] : [])]);
  const others = [...app.config.environments.values()].filter((e) => e.name !== environment.name);
  const otherTags = new Set(others.flatMap((e) => [...e.floating, ...(e.tag !== undefined ? [e.tag] : [])]));
  const otherRepos = others
    .map((e) => repositoryOf(e, application))
    .filter((r) => r.registry !== repo.registry || r.repository !== repo.repository);

  interface Raw {
    manifest: Manifest;
    referrers: Digest[];
    recorded: boolean;
    configCreated?: number;
    bytes?: number;
    isReferrer: boolean;
  }
  const raw = new Map<Digest, Raw>();
  // Manifests reached only through `sha256-…` tags are referrers indexes and attachments.
  let wave = [...tagsOf].map(([d, t]) => ({ digest: d, isReferrer: t.length === 0 }));
  const seen = new Set(wave.map((w) => w.digest));
  while (wave.length > 0) {
    abortIf(signal);
    const read = await bounded(wave, async (w) => {
      const manifest = await manifestIfPresent(registry, repo, w.digest);
      if (!manifest) return undefined;
      const list = await registry.referrers(repo, w.digest);
      let configCreated: number | undefined;
      let bytes: number | undefined;
      if (manifest.kind === 'image') {
        const body = manifest.body;
        bytes = body.config.size + body.layers.reduce((s, l) => s + l.size, 0);
        if (IMAGE_CONFIGS.has(body.config.mediaType) && body.config.size <= 1024 * 1024)
          configCreated = createdOf(await registry.blob(repo, body.config));
      }
      const entry: Raw = {
        manifest,
        // Attachments by tag first: the referrers index goes before the referrers it lists.
        referrers: [...(attachedTo.get(w.digest) ?? []), ...list.map((r) => r.digest)],
        recorded: list.some((r) => r.artifactType === PROMOTION_ARTIFACT_TYPE),
        ...(configCreated !== undefined && { configCreated }),
        ...(bytes !== undefined && { bytes }),
        isReferrer: w.isReferrer,
      };
      return [w.digest, entry] as const;
    });
    const next: { digest: Digest; isReferrer: boolean }[] = [];
    for (const r of read) {
      if (!r) continue;
      const [digest, entry] = r;
      raw.set(digest, entry);
      const children =
        entry.manifest.kind === 'index' ? entry.manifest.body.manifests.map((m) => m.digest) : [];
      const more = [
        ...children.map((c) => ({ digest: c, isReferrer: entry.isReferrer })),
        ...entry.referrers.map((c) => ({ digest: c, isReferrer: true })),
      ];
      for (const m of more) {
        if (seen.has(m.digest)) continue;
        seen.add(m.digest);
        next.push(m);
      }
    }
    wave = next;
  }
  // Is it in another environment's repository? Images and their children only (not referrers).
  const held = await bounded(
    [...raw.entries()].filter(([, r]) => !r.isReferrer && !r.recorded),
    async ([digest]) => {
      for (const other of otherRepos) if (await resolveIfPresent(registry, other, digest)) return digest;
      return undefined;
    },
  );
  const promoted = new Set(held.filter((d): d is Digest => d !== undefined));
  const created = new Map<Digest, number | undefined>();
  const ageOf = (d: Digest, depth = 0): number | undefined => {
    if (created.has(d)) return created.get(d);
    const r = raw.get(d);
    let age: number | undefined;
    if (r) {
      const annotated = parseTime(r.manifest.body.annotations?.['org.opencontainers.image.created']);
      if (r.manifest.kind === 'image') age = r.configCreated ?? annotated;
      else if (annotated !== undefined) age = annotated;
      else if (depth < 4 && r.manifest.body.manifests.length > 0) {
        // An index is as young as its youngest child; one child of unknown age makes it unknown.
        const ages = r.manifest.body.manifests.map((m) => ageOf(m.digest, depth + 1));
        age = ages.some((a) => a === undefined) ? undefined : Math.max(...(ages as number[]));
      }
    }
    created.set(d, age);
    return age;
  };
  const nodes = new Map<Digest, ReadNode>();
  for (const [digest, r] of raw) {
    const tagList = tagsOf.get(digest) ?? [];
    const age = ageOf(digest);
    const subject = r.manifest.body.subject?.digest;
    nodes.set(digest, {
      digest,
      tags: tagList,
      ...(age !== undefined && { createdMs: age }),
      children: r.manifest.kind === 'index' ? r.manifest.body.manifests.map((m) => m.digest) : [],
      referrers: r.referrers,
      ...(subject !== undefined && { subject }),
      promoted: promoted.has(digest) || tagList.some((t) => otherTags.has(t)),
      recorded: r.recorded,
      current: tagList.some((t) => own.has(t)),
      ...(r.bytes !== undefined && { bytes: r.bytes }),
    });
  }
  return nodes;
}

/** The image config's `created`, in ms; undefined when absent or unreadable. */
function createdOf(config: Buffer): number | undefined {
  try {
    const parsed = JSON.parse(config.toString('utf8')) as { created?: unknown };
    return typeof parsed.created === 'string' ? parseTime(parsed.created) : undefined;
  } catch {
    return undefined;
  }
}

function parseTime(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

async function manifestIfPresent(
  registry: RegistryPort,
  repo: Repository,
  d: Digest,
): Promise<Manifest | undefined> {
  try {
    return await registry.manifest(repo, d);
  } catch (err) {
    if (isUnknown(err)) return undefined;
    throw err;
  }
}

/** `fn` over `items`, {@link PARALLEL} at a time, results in order. */
async function bounded<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += PARALLEL)
    out.push(...(await Promise.all(items.slice(i, i + PARALLEL).map(fn))));
  return out;
}
