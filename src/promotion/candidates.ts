/**
 * What can be promoted into an environment: for each environment it may be promoted from, the
 * images there, newest version first, each with its tags and whether the target already holds it
 * (with a promotion record) or runs it now. A source in copy mode holds whatever its repository
 * holds (seed 000); a source in tag mode shares its repository with earlier environments, so only
 * digests with a promotion record for it count. Registry reads run a few at a time.
 */
import type { Digest } from '../core/index.js';
import {
  repositoryOf,
  type ApplicationConfig,
  type Config,
  type EnvironmentConfig,
} from '../config/index.js';
import { currentTag } from './environment-state.js';
import { applicationOf, environmentOf } from './lookup.js';
import type { RegistryPort } from './ports.js';
import { hasPromotionRecord } from './promotion-record.js';
import { resolveIfPresent } from './resolve-if-present.js';
import { compareVersions, isVersionTag } from './tag-kinds.js';

/** One image that can be promoted into the environment. */
export interface PromotionCandidate {
  readonly digest: Digest;
  /** Its newest version tag in the source, when it has one. */
  readonly version?: string;
  /** Its tags in the source that were read: version tags, newest first, then floating tags. */
  readonly tags: readonly string[];
  /** The source environment. */
  readonly from: string;
  /** The target already holds this digest with a promotion record for it. */
  readonly inTarget: boolean;
  /** The target runs this digest now (its floating or environment tag points at it). */
  readonly current: boolean;
}

/** The candidates of one application for one environment. */
export interface CandidateList {
  readonly application: string;
  readonly environment: string;
  /** Newest first (by version; images without one last), at most {@link CandidateOptions.limit}. */
  readonly candidates: readonly PromotionCandidate[];
  /** True when more candidates exist than were listed. */
  readonly truncated: boolean;
}

/** Options of {@link candidatesFor}. */
export interface CandidateOptions {
  /** Most candidates listed. Default 50. */
  readonly limit?: number;
  /** Registry reads in flight at once. Default 8. */
  readonly concurrency?: number;
}

/** The candidates for promoting `appName` into `envName` (`PROMOTION_UNKNOWN` for unknown names). */
export async function candidatesFor(
  registry: RegistryPort,
  config: Config,
  appName: string,
  envName: string,
  options: CandidateOptions = {},
): Promise<CandidateList> {
  const app = applicationOf(config, appName);
  const to = environmentOf(config, envName);
  const limit = options.limit ?? 50;
  const concurrency = options.concurrency ?? 8;
  const target = repositoryOf(to, app);
  const tag = currentTag(to);
  const running = tag ? await resolveIfPresent(registry, target, tag) : undefined;
  const found: SourceImage[][] = [];
  for (const name of to.from)
    found.push(await sourceImages(registry, environmentOf(config, name), app, limit + 1, concurrency));
  // Newest first across sources; a digest found in two sources is listed under the first.
  const images: SourceImage[] = [];
  const seen = new Set<Digest>();
  for (const i of found.flat().sort((a, b) => newestFirst(a.version, b.version))) {
    if (seen.has(i.digest)) continue;
    seen.add(i.digest);
    images.push(i);
  }
  const listed = images.slice(0, limit);
  const inTarget = await mapBounded(listed, concurrency, (i) =>
    hasPromotionRecord(registry, target, i.digest, to.name, app.name),
  );
  return {
    application: app.name,
    environment: to.name,
    candidates: listed.map((i, n) => ({
      digest: i.digest,
      ...(i.version !== undefined && { version: i.version }),
      tags: i.tags,
      from: i.from,
      inTarget: inTarget[n] === true,
      current: i.digest === running,
    })),
    truncated: images.length > limit,
  };
}

interface SourceImage {
  readonly digest: Digest;
  readonly version?: string;
  readonly tags: string[];
  readonly from: string;
}

/** Up to `want` images of `app` in the source `env`, newest version first. */
async function sourceImages(
  registry: RegistryPort,
  env: EnvironmentConfig,
  app: ApplicationConfig,
  want: number,
  concurrency: number,
): Promise<SourceImage[]> {
  const repo = repositoryOf(env, app);
  const all = await registry.tags(repo);
  const versions = all.filter((t) => isVersionTag(env, t)).sort(newestFirst);
  const floating = [...new Set([...env.floating, ...(env.tag !== undefined ? [env.tag] : [])])].filter((t) =>
    all.includes(t),
  );
  // A source in tag mode shares its repository with the environments before it: an image there
  // reached it only when it carries its promotion record. Entry environments receive from CI.
  const needsRecord = env.mode === 'tag' && env.from.length > 0;
  const byDigest = new Map<Digest, SourceImage>();
  const rejected = new Set<Digest>();
  const accepted = async (digest: Digest): Promise<boolean> => {
    if (!needsRecord || byDigest.has(digest)) return true;
    if (rejected.has(digest)) return false;
    const ok = await hasPromotionRecord(registry, repo, digest, env.name, app.name);
    if (!ok) rejected.add(digest);
    return ok;
  };
  const add = (tag: string, digest: Digest | undefined): void => {
    if (!digest || rejected.has(digest)) return;
    const image = byDigest.get(digest);
    if (image) image.tags.push(tag);
    else
      byDigest.set(digest, {
        digest,
        ...(isVersionTag(env, tag) && { version: tag }),
        tags: [tag],
        from: env.name,
      });
  };
  // Newest versions first, a batch at a time, until enough images are found.
  for (let i = 0; i < versions.length && byDigest.size < want; i += concurrency) {
    const batch = versions.slice(i, i + concurrency);
    const digests = await Promise.all(batch.map((t) => resolveIfPresent(registry, repo, t)));
    const ok = await Promise.all(digests.map((d) => (d ? accepted(d) : Promise.resolve(false))));
    batch.forEach((t, j) => {
      if (ok[j]) add(t, digests[j]);
    });
  }
  // Floating tags name images already listed, or (without versions) images of their own.
  const pointed = await Promise.all(floating.map((t) => resolveIfPresent(registry, repo, t)));
  for (const [j, t] of floating.entries()) {
    const d = pointed[j];
    if (d && (byDigest.has(d) || (byDigest.size < want && (await accepted(d))))) add(t, d);
  }
  return [...byDigest.values()];
}

/** Orders versions newest first; images without a version last. */
function newestFirst(a: string | undefined, b: string | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
  return compareVersions(b, a) ?? (a < b ? 1 : a > b ? -1 : 0);
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
