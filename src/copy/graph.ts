/**
 * Resolving what a copy involves: the root manifest (narrowed to platforms when asked), every
 * child manifest and blob under it, and the artifacts that refer to it (referrers API or tag
 * schema, and cosign's `sha256-<hex>.sig|.att|.sbom` tags), recursively. This is the only part of
 * planning that reads from the source.
 */
import { GantryError, MediaTypes, digestHex, digestOf, isGantryError, type Digest } from '../core/index.js';
import { manifestChildren, parseManifest, type Descriptor, type Manifest } from '../registry/index.js';
import { onSide } from './copy-error.js';
import { formatPlatform, platformMatches, type PlatformSelector } from './platform.js';
import type { ReadTarget } from './target.js';

/** A manifest with the manifests beneath it (children of an index), children first. */
export interface ManifestTree {
  readonly manifest: Manifest;
  /** Child manifests in the order they must be written (deepest first). */
  readonly children: readonly Manifest[];
  /** Blobs of this manifest and its children. */
  readonly blobs: readonly Descriptor[];
}

/** An artifact that travels with the image: a referrer, or a cosign-style tag. */
export interface Attached {
  readonly tree: ManifestTree;
  /** The subject digest when it is a referrer (`subject` field). */
  readonly subject?: Digest;
  /** The tag it lives under when it is a cosign-style tagged artifact. */
  readonly tag?: string;
}

/** Everything a copy involves. */
export interface CopyGraph {
  readonly root: ManifestTree;
  /** The source manifest digest before any platform narrowing. */
  readonly sourceDigest: Digest;
  /** True when `--platform` produced a manifest other than the source's. */
  readonly narrowed: boolean;
  /** Referrers and tagged artifacts, subjects before the artifacts that refer to them. */
  readonly attached: readonly Attached[];
}

/** Options for {@link resolveGraph}. */
export interface ResolveOptions {
  /** Keep only these platforms of an index. Default: all. */
  readonly platforms?: readonly PlatformSelector[];
  /** Follow referrers and cosign tags. Default true. */
  readonly referrers?: boolean;
  /** Tags present in the source, when already known (saves lookups for cosign tags). */
  readonly sourceTags?: ReadonlySet<string>;
  /** The manifest `reference` names, when the caller already fetched it. */
  readonly root?: Manifest;
}

/** Levels of index nesting accepted (a root index is level 1; an image index of images uses 1). */
export const MAX_INDEX_DEPTH = 8;
/** Manifests one copy may involve: the image, its children, and its referrers with theirs. */
export const MAX_MANIFESTS_PER_COPY = 10_000;

/** Cosign's tag suffixes for signatures, attestations and SBOMs. */
export const COSIGN_SUFFIXES: readonly string[] = Object.freeze(['sig', 'att', 'sbom']);

/** Resolves the copy graph of `reference` in `source`. */
export async function resolveGraph(
  source: ReadTarget,
  reference: string,
  options: ResolveOptions = {},
): Promise<CopyGraph> {
  const fetched = new Map<string, Promise<Manifest>>();
  const budget = { visits: 0 };
  const fetchManifest = (ref: string): Promise<Manifest> => {
    let p = fetched.get(ref);
    if (!p) {
      if (fetched.size >= MAX_MANIFESTS_PER_COPY) return Promise.reject(tooManyManifests(source));
      p = onSide('source', `manifest ${source.name}${ref.includes(':') ? '@' : ':'}${ref}`, () =>
        source.fetchManifest(ref),
      );
      fetched.set(ref, p);
    }
    return p;
  };

  if (options.root) fetched.set(reference, Promise.resolve(options.root));
  const original = await fetchManifest(reference);
  let root = original;
  let narrowed = false;
  if (options.platforms && options.platforms.length > 0 && original.kind === 'index') {
    root = await narrow(original, options.platforms, fetchManifest);
    narrowed = root.digest !== original.digest;
  }
  const walkTree = (m: Manifest): Promise<ManifestTree> => walk(m, fetchManifest, budget, source);
  const tree = await walkTree(root);
  const attached: Attached[] = [];
  if (options.referrers !== false) {
    const seen = new Set<string>([root.digest, ...tree.children.map((m) => m.digest)]);
    const queue: Digest[] = [...seen] as Digest[];
    // Breadth first, one wave at a time: the referrers of every subject in a wave (and cosign's
    // tags of the root) are looked up together, so an index with many platforms costs one round
    // trip per level, not one per platform. Results are taken in queue order.
    while (queue.length > 0) {
      const wave = queue.splice(0);
      const lookups = await Promise.all(
        wave.map(async (subject) => {
          const tags = subject === root.digest ? cosignTags(subject, options.sourceTags) : [];
          const [found, tagged] = await Promise.all([
            onSide('source', `referrers of ${subject}`, () => source.referrers(subject, options.sourceTags)),
            Promise.all(tags.map((tag) => fetchIfPresent(fetchManifest, tag))),
          ]);
          return { subject, found, tagged: tagged.map((m, i) => ({ tag: tags[i] as string, m })) };
        }),
      );
      for (const { subject, found, tagged } of lookups) {
        for (const d of found) {
          if (seen.has(d.digest)) continue;
          seen.add(d.digest);
          const t = await walkTree(await fetchManifest(d.digest));
          attached.push({ tree: t, subject });
          queue.push(d.digest);
        }
        for (const { tag, m } of tagged) {
          if (!m || seen.has(`${tag}@${m.digest}`)) continue;
          seen.add(`${tag}@${m.digest}`);
          attached.push({ tree: await walkTree(m), tag });
        }
      }
    }
  }
  return { root: tree, sourceDigest: original.digest, narrowed, attached };
}

/** The manifest under `tag`, or undefined when there is none. */
async function fetchIfPresent(
  fetchManifest: (ref: string) => Promise<Manifest>,
  tag: string,
): Promise<Manifest | undefined> {
  try {
    return await fetchManifest(tag);
  } catch (err) {
    if (isGantryError(err, 'REGISTRY_MANIFEST_UNKNOWN', 'REGISTRY_NOT_FOUND')) return undefined;
    throw err;
  }
}

function cosignTags(subject: Digest, known: ReadonlySet<string> | undefined): string[] {
  const base = `sha256-${digestHex(subject)}`;
  const candidates = COSIGN_SUFFIXES.map((s) => `${base}.${s}`);
  if (known) return candidates.filter((t) => known.has(t));
  return candidates;
}

/**
 * The tree under `manifest`: each child manifest once (children before their parent), fetched
 * through the shared memo, and at most {@link MAX_INDEX_DEPTH} levels of indexes.
 */
async function walk(
  manifest: Manifest,
  fetchManifest: (ref: string) => Promise<Manifest>,
  budget: { visits: number },
  source: ReadTarget,
): Promise<ManifestTree> {
  const children: Manifest[] = [];
  const blobs: Descriptor[] = [];
  const visited = new Set<string>([manifest.digest]);
  const visit = async (m: Manifest, level: number): Promise<void> => {
    if (++budget.visits > MAX_MANIFESTS_PER_COPY) throw tooManyManifests(source);
    if (m.kind !== 'index') {
      blobs.push(...manifestChildren(m));
      return;
    }
    if (level > MAX_INDEX_DEPTH) {
      throw new GantryError(
        'COPY_LIMIT_EXCEEDED',
        `${source.name}: ${manifest.digest} nests indexes more than ${MAX_INDEX_DEPTH} levels deep (at ${m.digest}); refusing to copy it`,
        { details: { limit: MAX_INDEX_DEPTH, digest: m.digest } },
      );
    }
    // Fetched together (memoised), entered one by one: a digest reached twice is visited once,
    // and every child is pushed before any parent that lists it.
    const fresh = [...new Set(m.body.manifests.map((d) => d.digest))].filter((d) => !visited.has(d));
    const subs = await Promise.all(fresh.map((d) => fetchManifest(d)));
    for (const sub of subs) {
      if (visited.has(sub.digest)) continue;
      visited.add(sub.digest);
      await visit(sub, level + 1);
      children.push(sub);
    }
  };
  await visit(manifest, 1);
  return { manifest, children, blobs };
}

function tooManyManifests(source: ReadTarget): GantryError {
  return new GantryError(
    'COPY_LIMIT_EXCEEDED',
    `${source.name}: the copy involves more than ${MAX_MANIFESTS_PER_COPY} manifests; refusing to copy it`,
    { details: { limit: MAX_MANIFESTS_PER_COPY } },
  );
}

async function narrow(
  index: Manifest & { kind: 'index' },
  platforms: readonly PlatformSelector[],
  fetchManifest: (ref: string) => Promise<Manifest>,
): Promise<Manifest> {
  const kept = index.body.manifests.filter((d) => platforms.some((p) => platformMatches(p, d.platform)));
  if (kept.length === 0) {
    const available = index.body.manifests.map((d) => formatPlatform(d.platform)).join(', ');
    throw new GantryError(
      'USAGE_INVALID',
      `no manifest for ${platforms.map(formatPlatform).join(', ')} in ${index.digest} (available: ${available})`,
    );
  }
  const only = kept[0];
  if (kept.length === 1 && platforms.length === 1 && only) return fetchManifest(only.digest);
  if (kept.length === index.body.manifests.length) return index;
  const raw = JSON.parse(index.bytes.toString('utf8')) as Record<string, unknown>;
  const bytes = Buffer.from(JSON.stringify({ ...raw, manifests: kept }));
  return parseManifest(bytes, digestOf(bytes), index.mediaType || MediaTypes.ociIndex);
}
