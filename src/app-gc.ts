/**
 * `gantry gc`: promotion-aware retention (issue 14). Reads every application's repository in one
 * environment (tags, manifests, referrers, image ages) and what the other environments hold,
 * plans with {@link planRetention} (src/promotion/retention.ts, which says what is never deleted)
 * and, unless it is a dry run, deletes the planned manifests by digest in the planned order.
 *
 * Registry reads go through the raw registry port: a promotion record keeps its digest even when
 * it is unsigned or untrusted (when unsure, keep). A protected environment is refused before
 * anything is read (`GC_PROTECTED`); a registry that refuses a delete stops the run at that
 * first refusal (`REGISTRY_DELETE_REFUSED` in the report), with `items` saying how far it got.
 */
import type { RegistryClient } from './registry/index.js';
import { registryPort } from './app-registry.js';
import type { GcRunOptions, KeepReason, LifecycleItem, LifecycleReport } from './app-lifecycle.js';
import { repositoryOf, type ApplicationConfig, type Config, type EnvironmentConfig } from './config/index.js';
import {
  GantryError,
  isDigest,
  isGantryError,
  type Digest,
  type Manifest,
  type Repository,
} from './core/index.js';
import {
  PROMOTION_ARTIFACT_TYPE,
  environmentOf,
  isUnknown,
  planRetention,
  resolveIfPresent,
  type RegistryPort,
  type RetentionNode,
} from './promotion/index.js';

/**
 * What gc needs of the wired application (`App` from src/app.ts has it; named here so this
 * module does not import the composition root that re-exports it).
 */
export interface GcApp {
  readonly config: Config;
  readonly client: RegistryClient;
}

/** `retention.keep` when the environment sets none. */
export const DEFAULT_GC_KEEP = 20;
/** `retention.olderThan` when the environment sets none: 30 days. */
export const DEFAULT_GC_OLDER_THAN_MS = 30 * 86_400_000;

/** Registry reads in flight at once. */
const PARALLEL = 8;
/** `sha256-<hex>` (referrers tag schema) and cosign's `sha256-<hex>.sig|.att|.sbom`. */
const ATTACHED_TAG = /^sha256-([0-9a-f]{64})(?:\.[a-z]+)?$/;
const IMAGE_CONFIGS = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);
/** Statuses with which registries refuse deletes: 405 UNSUPPORTED (distribution), 401/403. */
const REFUSALS = ['REGISTRY_UNSUPPORTED', 'REGISTRY_DENIED', 'REGISTRY_UNAUTHORIZED'] as const;

/**
 * Runs gc in environment `env`: plans (a dry run stops there) and deletes what may go, reporting
 * each deletion through `options.onItem` as it happens. Throws `PROMOTION_UNKNOWN` for an unknown
 * environment, `GC_PROTECTED` for a protected one, `USAGE_INVALID` for bad limits, and registry
 * errors met while reading (nothing is deleted then); a failure while deleting ends the run with
 * the report's `error` set.
 */
export async function runGc(app: GcApp, env: string, options: GcRunOptions): Promise<LifecycleReport> {
  const now = options.now ?? (() => new Date());
  const startedAt = now().toISOString();
  const environment = environmentOf(app.config, env);
  if (environment.protected) {
    throw new GantryError(
      'GC_PROTECTED',
      `${environment.name} is protected: gc deletes nothing there (set protected: false on the environment to allow it)`,
    );
  }
  const keep = options.keep ?? environment.retention?.keep ?? DEFAULT_GC_KEEP;
  const olderThanMs = options.olderThanMs ?? environment.retention?.olderThanMs ?? DEFAULT_GC_OLDER_THAN_MS;
  if (!Number.isSafeInteger(keep) || keep < 0)
    throw new GantryError('USAGE_INVALID', `keep must be a whole number >= 0, got ${keep}`);
  if (!Number.isFinite(olderThanMs) || olderThanMs < 0)
    throw new GantryError('USAGE_INVALID', `older-than must be a duration >= 0`);
  const registry = registryPort(app.client);
  // A tag-mode environment shares its repository with the environment it is promoted from: what
  // is unpromoted there belongs to that source, so gc deletes nothing here (run it there).
  const shared = environment.mode === 'tag' && environment.from.length > 0;
  const items: LifecycleItem[] = [];
  /** For each item: its candidate and the application, re-checked before the candidate's first deletion. */
  const groups: { candidate: Digest; application: ApplicationConfig }[] = [];
  const kept: Partial<Record<KeepReason, number>> = {};
  const policy = {
    keep,
    olderThanMs,
    now: now(),
    immutable: environment.immutable,
    keepDigests: options.keepDigests ?? new Set<string>(),
  };
  for (const application of app.config.applications.values()) {
    abortIf(options.signal);
    const repo = repositoryOf(environment, application);
    const nodes = await readRepository(registry, app, environment, application, options.signal);
    if (shared) {
      // Its repository is the source's: every image of its own is there by promotion.
      const own = [...nodes.values()].filter((n) => n.recorded).length;
      if (own > 0) kept['rollback-window'] = (kept['rollback-window'] ?? 0) + own;
      continue;
    }
    const plan = planRetention(nodes, policy);
    for (const reason of plan.kept.values()) kept[reason] = (kept[reason] ?? 0) + 1;
    for (const d of plan.deletions) {
      const bytes = nodes.get(d.digest)?.bytes;
      items.push({
        action: 'delete',
        repository: `${repo.registry}/${repo.repository}`,
        digest: d.digest,
        ...(d.tags.length > 0 && { tags: d.tags }),
        ...(bytes !== undefined && { bytes }),
        reason: d.reason,
        done: false,
      });
      groups.push({ candidate: d.candidate, application });
    }
  }
  const planned = items.length;
  /** `done`, then (when stopped) the items not reached; items of candidates promoted meanwhile are left out. */
  const report = (
    done: readonly LifecycleItem[],
    error?: { code: string; message: string },
    rest: readonly LifecycleItem[] = [],
  ): LifecycleReport => ({
    kind: 'gc',
    name: environment.name,
    dryRun: options.dryRun,
    startedAt,
    finishedAt: now().toISOString(),
    items: options.dryRun ? items : [...done, ...rest],
    kept,
    totals: {
      planned,
      deleted: options.dryRun ? 0 : done.length,
      bytes: (options.dryRun ? items : done).reduce((sum, i) => sum + (i.bytes ?? 0), 0),
    },
    ...(error && { error }),
  });
  if (options.dryRun) return report([]);
  const done: LifecycleItem[] = [];
  const skipped = new Set<Digest>();
  let checked: Digest | undefined;
  options.onProgress?.({ done: 0, total: planned, message: `deleting ${planned} manifests` });
  for (const [n, item] of items.entries()) {
    const group = groups[n];
    if (!group || skipped.has(group.candidate)) continue;
    try {
      abortIf(options.signal);
      if (checked !== group.candidate) {
        checked = group.candidate;
        // The plan was read a while ago: a candidate promoted since then stays, with everything of it.
        if (!(await stillUnpromoted(registry, app, environment, group.application, group.candidate))) {
          skipped.add(group.candidate);
          kept.promoted = (kept.promoted ?? 0) + 1;
          continue;
        }
      }
      await deleteManifest(app, item);
    } catch (err) {
      if (!isGantryError(err)) throw err;
      return report(done, stopped(err, item, done.length, planned), items.slice(n));
    }
    const finished = { ...item, done: true };
    done.push(finished);
    options.onProgress?.({
      done: done.length,
      total: planned,
      message: `deleted ${item.repository}@${item.digest}`,
    });
    await options.onItem?.(finished);
  }
  return report(done);
}

/**
 * Re-reads, right before a candidate's deletions, what would keep it: a promotion record, another
 * environment's repository holding it, an environment's tag pointing at it.
 */
async function stillUnpromoted(
  registry: RegistryPort,
  app: GcApp,
  environment: EnvironmentConfig,
  application: ApplicationConfig,
  digest: Digest,
): Promise<boolean> {
  const repo = repositoryOf(environment, application);
  if ((await registry.referrers(repo, digest, PROMOTION_ARTIFACT_TYPE)).length > 0) return false;
  const envTags = [...app.config.environments.values()].flatMap((e) => [
    ...e.floating,
    ...(e.tag !== undefined ? [e.tag] : []),
  ]);
  for (const t of new Set(envTags)) if ((await resolveIfPresent(registry, repo, t)) === digest) return false;
  for (const e of app.config.environments.values()) {
    if (e.name === environment.name) continue;
    const other = repositoryOf(e, application);
    if (other.registry === repo.registry && other.repository === repo.repository) continue;
    if (await resolveIfPresent(registry, other, digest)) return false;
  }
  return true;
}

/** Throws `OPERATION_ABORTED` once `signal` is aborted. */
function abortIf(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  const why = signal.reason instanceof Error ? `: ${signal.reason.message}` : '';
  throw new GantryError('OPERATION_ABORTED', `gc aborted${why}`, { cause: signal.reason });
}

/** Deletes one manifest by digest; one already gone counts as deleted. */
async function deleteManifest(app: GcApp, item: LifecycleItem): Promise<void> {
  const slash = item.repository.indexOf('/');
  const digest = item.digest;
  if (!isDigest(digest)) throw new GantryError('DIGEST_INVALID', `not a digest: ${digest}`);
  try {
    await app.client.manifestDelete({
      registry: item.repository.slice(0, slash),
      repository: item.repository.slice(slash + 1),
      digest,
    });
  } catch (err) {
    if (isGantryError(err, 'REGISTRY_MANIFEST_UNKNOWN')) return;
    throw err;
  }
}

/** Why a run stopped at `item`, and how far it got. */
function stopped(
  err: GantryError,
  item: LifecycleItem,
  done: number,
  total: number,
): { code: string; message: string } {
  const progress = `stopped after ${done} of ${total} deletions${done === 0 ? ': nothing was deleted' : ''}`;
  if ((REFUSALS as readonly string[]).includes(err.code)) {
    const host = item.repository.slice(0, item.repository.indexOf('/'));
    const hint =
      err.code === 'REGISTRY_UNSUPPORTED'
        ? ': deletes are disabled; distribution needs storage.delete.enabled'
        : '';
    return {
      code: 'REGISTRY_DELETE_REFUSED',
      message: `${host} refused to delete ${item.repository}@${item.digest} (${err.code}${hint}); ${progress}`,
    };
  }
  return { code: err.code, message: `${err.message}; ${progress}` };
}

/** A node with the bytes its image references (for the report). */
type ReadNode = RetentionNode & { readonly bytes?: number };

/**
 * Every manifest of `application` in `environment` reachable from its tags: tagged images, their
 * index children, referrers (API and tag schema) and cosign attachments, with ages, promotion
 * records and whether another environment's repository holds them.
 */
async function readRepository(
  registry: RegistryPort,
  app: GcApp,
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
