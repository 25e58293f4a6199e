/**
 * `gantry sync`: mirrors repositories (for example golden base images, `base/*`) from one
 * registry into others, as the `sync:` jobs of gantry.yaml say. Only what changed moves: a tag
 * whose target already resolves to the source digest (and has its referrers) is left alone; any
 * other is copied byte-exact by digest with the copy engine (all platforms, referrers along,
 * blobs present skipped) and then tagged, so a failed copy writes no tag. A tag that moved in the
 * source moves in the target; nothing is ever deleted there.
 */
import type { LifecycleItem, LifecycleReport, SyncRunOptions } from './app-lifecycle.js';
import type { Config, SyncConfig } from './config/index.js';
import { GantryError, toGantryError, type Digest } from './core/index.js';
import { RegistryTarget, Scheduler, copyImage } from './copy/index.js';
import type { RegistryClient, Repository } from './registry/index.js';

/** What a sync run needs of the wired application (an `App` from createApp is one). */
export interface SyncApp {
  readonly config: Config;
  readonly client: RegistryClient;
}

/** Tags that are referrers or cosign artifacts of the tag schema: they travel with their subjects. */
const ARTIFACT_TAG = /^sha(256|512)-[0-9a-f]{64,128}(\.[a-z]+)?$/;

/** One source repository's tags to mirror, grouped by the digest they point at. */
interface SourceImages {
  readonly repository: string;
  readonly digests: ReadonlyMap<Digest, readonly string[]>;
}

/** The sync jobs named in gantry.yaml, in order; every name must exist (`USAGE_INVALID`). */
export function syncJobs(app: SyncApp, names: readonly string[] = []): SyncConfig[] {
  const configured = app.config.sync ?? new Map<string, SyncConfig>();
  const all = [...configured.values()];
  if (names.length === 0) {
    if (all.length === 0)
      throw new GantryError('USAGE_INVALID', `${app.config.file} has no sync jobs (the sync: section)`);
    return all;
  }
  return names.map((n) => {
    const job = configured.get(n);
    if (!job)
      throw new GantryError(
        'USAGE_INVALID',
        `no sync job "${n}" in ${app.config.file}${all.length > 0 ? ` (there are: ${all.map((j) => j.name).join(', ')})` : ''}`,
      );
    return job;
  });
}

/** True when `name` is selected by one of `patterns` (exact, or a prefix ending in `*`). */
export function matchesPattern(patterns: readonly string[], name: string): boolean {
  return patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
}

/** `prefix/repository`, or the repository when there is no prefix. */
export function targetRepository(prefix: string, repository: string): string {
  const p = prefix.replace(/^\/+|\/+$/g, '');
  return p === '' ? repository : `${p}/${repository}`;
}

/**
 * True when `repository` of the source registry is one of the job's own mirrors (a target in the
 * same registry under a prefix): a pattern never picks those up, or each run would mirror the
 * previous run's mirror again.
 */
export function isOwnMirror(job: SyncConfig, repository: string): boolean {
  return job.to.some((t) => {
    const prefix = t.prefix.replace(/^\/+|\/+$/g, '');
    return t.registry === job.from.registry && prefix !== '' && repository.startsWith(`${prefix}/`);
  });
}

/**
 * Runs one sync job (`name`, a key of `sync:`). Returns a report; a failure (a target that
 * refuses writes, a source that cannot be listed) stops the run and is set as `report.error`, with
 * `items` saying how far it got. Throws `USAGE_INVALID` for an unknown job.
 */
export async function runSync(app: SyncApp, name: string, options: SyncRunOptions): Promise<LifecycleReport> {
  const [job] = syncJobs(app, [name]) as [SyncConfig];
  const now = options.now ?? (() => new Date());
  const startedAt = now().toISOString();
  const signal = options.signal;
  const client = signal ? app.client.withSignal(signal) : app.client;
  const items: LifecycleItem[] = [];
  const totals = { copied: 0, tagged: 0, skipped: 0, bytes: 0 };
  let unchanged = 0;
  let error: LifecycleReport['error'];
  const record = async (item: LifecycleItem): Promise<void> => {
    items.push(item);
    if (item.action === 'copy') {
      totals.copied++;
      totals.bytes += item.bytes ?? 0;
    } else totals.tagged++;
    if (!options.dryRun) await options.onItem?.(item);
  };
  try {
    const source = hostOf(app, job.from.registry);
    const repositories = (await expandRepositories(client, source, job.from.repositories)).filter(
      (r) => job.from.repositories.includes(r) || !isOwnMirror(job, r),
    );
    const images: SourceImages[] = [];
    for (const repository of repositories) {
      images.push(await sourceImages(client, { registry: source, repository }, job.from.tags));
    }
    const total = images.reduce((n, i) => n + i.digests.size, 0) * job.to.length;
    let done = 0;
    options.onProgress?.({
      done,
      total,
      message: `${repositories.length} ${repositories.length === 1 ? 'repository' : 'repositories'} listed`,
    });
    const scheduler = new Scheduler();
    for (const image of images) {
      const from = new RegistryTarget(
        app.client,
        { registry: source, repository: image.repository },
        {
          ...(signal && { signal }),
        },
      );
      for (const to of job.to) {
        const repo: Repository = {
          registry: hostOf(app, to.registry),
          repository: targetRepository(to.prefix, image.repository),
        };
        const dest = new RegistryTarget(app.client, repo, { ...(signal && { signal }) });
        // Tags the target has; grows as this run writes (a repository is new only until then).
        const existing = new Set(await dest.existingTags());
        for (const [digest, tags] of image.digests) {
          const where = `${repo.registry}/${repo.repository}`;
          const before = new Map<string, Digest | undefined>();
          for (const tag of tags) {
            before.set(
              tag,
              existing.has(tag) ? (await client.manifestHead({ ...repo, tag }))?.digest : undefined,
            );
          }
          const moved = tags.filter((t) => before.get(t) !== digest);
          const present =
            moved.length === 0 ? true : (await client.manifestHead({ ...repo, digest })) !== undefined;
          let copied: { bytes: number } | undefined;
          if (options.dryRun) {
            if (!present || (await referrersMissing(from, dest, digest))) {
              const plan = await copyImage(from, digest, dest, { dryRun: true, scheduler });
              copied = { bytes: plan.bytesPlanned };
            }
          } else {
            const r = await copyImage(from, digest, dest, {
              tags: moved,
              scheduler,
              destinationTags: existing,
              ...(signal && { signal }),
            });
            for (const t of moved) existing.add(t);
            if (!r.alreadyComplete && (!present || r.referrers.copied > 0 || r.bytesTransferred > 0))
              copied = { bytes: r.bytesTransferred };
          }
          if (copied) {
            await record({
              action: 'copy',
              repository: where,
              digest,
              bytes: copied.bytes,
              reason: present ? 'referrers added' : 'new digest',
              done: !options.dryRun,
            });
          }
          for (const tag of moved) {
            const old = before.get(tag);
            await record({
              action: 'tag',
              repository: where,
              digest,
              tags: [tag],
              reason: old ? `moved from ${old}` : 'new tag',
              done: !options.dryRun,
            });
          }
          unchanged += tags.length - moved.length;
          totals.skipped += tags.length - moved.length;
          const outcome =
            moved.length === 0
              ? copied
                ? 'referrers copied'
                : 'unchanged'
              : `${copied ? 'copied, ' : ''}${options.dryRun ? 'would tag' : 'tagged'} ${moved.join(', ')}`;
          options.onProgress?.({ done: ++done, total, message: `${where}@${digest}: ${outcome}` });
        }
      }
    }
  } catch (err) {
    const e = toGantryError(err);
    error = { code: e.code, message: e.message.split('\n')[0] ?? e.message };
  }
  return Object.freeze({
    kind: 'sync',
    name: job.name,
    dryRun: options.dryRun,
    startedAt,
    finishedAt: now().toISOString(),
    items,
    kept: unchanged > 0 ? { unchanged } : {},
    totals,
    ...(error && { error }),
  });
}

/** True when `digest` has referrers in the source that the target lacks (they would be copied). */
async function referrersMissing(from: RegistryTarget, to: RegistryTarget, digest: Digest): Promise<boolean> {
  const want = await from.referrers(digest);
  if (want.length === 0) return false;
  const have = new Set((await to.referrers(digest)).map((d) => d.digest));
  return want.some((d) => !have.has(d.digest));
}

function hostOf(app: SyncApp, registry: string): string {
  const r = app.config.registries.get(registry);
  if (!r) throw new GantryError('CONFIG_INVALID', `${app.config.file}: unknown registry "${registry}"`);
  return r.host;
}

/** Exact repositories as they are; patterns (`base/*`, `base*`) through the registry's catalog. */
async function expandRepositories(
  client: RegistryClient,
  registry: string,
  patterns: readonly string[],
): Promise<string[]> {
  const out = new Set<string>();
  let catalog: string[] | undefined;
  for (const p of patterns) {
    if (!p.endsWith('*')) {
      out.add(p);
      continue;
    }
    if (!catalog) {
      try {
        catalog = (await client.catalogList(registry)).repositories;
      } catch (err) {
        const e = toGantryError(err);
        throw new GantryError(e.code, `cannot expand "${p}": ${e.message}`, {
          cause: err,
          details: e.details,
        });
      }
    }
    for (const r of catalog) if (matchesPattern([p], r)) out.add(r);
  }
  return [...out].sort();
}

/** The tags of a source repository that the job mirrors, by digest. */
async function sourceImages(
  client: RegistryClient,
  repo: Repository,
  patterns: readonly string[] | undefined,
): Promise<SourceImages> {
  const tags = (await client.tagList(repo))
    .filter((t) => !ARTIFACT_TAG.test(t) && (patterns === undefined || matchesPattern(patterns, t)))
    .sort();
  const digests = new Map<Digest, string[]>();
  for (const tag of tags) {
    const head = await client.manifestHead({ ...repo, tag });
    if (!head) continue; // removed while listing
    digests.set(head.digest, [...(digests.get(head.digest) ?? []), tag]);
  }
  return { repository: repo.repository, digests };
}
