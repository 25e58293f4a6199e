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
import { abortIf, readRepository } from './app-gc-read.js';
import type { GcRunOptions, KeepReason, LifecycleItem, LifecycleReport } from './app-lifecycle.js';
import { repositoryOf, type ApplicationConfig, type Config, type EnvironmentConfig } from './config/index.js';
import { GantryError, isDigest, isGantryError, type Digest } from './core/index.js';
import {
  PROMOTION_ARTIFACT_TYPE,
  environmentOf,
  planRetention,
  resolveIfPresent,
  type RegistryPort,
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
