/**
 * Copying one image (or index) from a source to a destination, byte-exact: blobs first, then
 * child manifests, then the root by digest, then the artifacts that travel with it, and the tags
 * last, so a failed copy never leaves a tag behind.
 */
import { setMaxListeners } from 'node:events';
import { GantryError, throwIfAborted, unlessAborted, type Digest } from '../core/index.js';
import type { Manifest } from '../registry/index.js';
import { onSide } from './copy-error.js';
import type { BlobAction, CopyListener } from './events.js';
import { resolveGraph, type Attached } from './graph.js';
import { planCopy, type CopyPlan } from './plan.js';
import type { PlatformSelector } from './platform.js';
import { RetryBudget, type CopyRetryOptions } from './retry-budget.js';
import { Scheduler } from './scheduler.js';
import type { ReadTarget, WriteTarget } from './target.js';
import { mountable, transferBlob, type TransferContext } from './transfer.js';

/** Options for {@link copyImage}. */
export interface CopyImageOptions {
  /** Tags to write at the destination. Default: none (the copy is addressed by digest). */
  readonly tags?: readonly string[];
  /** Keep only these platforms of an index (the result is then a new digest). Default: all. */
  readonly platforms?: readonly PlatformSelector[];
  /** Copy referrers and cosign tags too. Default true. */
  readonly referrers?: boolean;
  /** Copy non-distributable layers. Default false. */
  readonly includeForeign?: boolean;
  /**
   * When a blob whose transfer failed with a temporary error is restarted: while its attempts make
   * progress, within a budget of restarts and time per copy (see {@link CopyRetryOptions}).
   */
  readonly retry?: CopyRetryOptions;
  /** Shared limits; pass one scheduler to many copies to bound them together. Default: a new one (8 overall, 6 per host). */
  readonly scheduler?: Scheduler;
  /** Plan only: report what would happen, write nothing. Default false. */
  readonly dryRun?: boolean;
  /** Tags known to exist in the source (saves lookups in bulk copies). */
  readonly sourceTags?: ReadonlySet<string>;
  /**
   * Tags the destination had when a bulk copy began: a tag not among them is not looked up, and
   * when there are none the destination counts as new (see `needsExistenceCheck`).
   */
  readonly destinationTags?: ReadonlySet<string>;
  readonly onEvent?: CopyListener;
  /** Clock for the duration. Default `Date.now`. */
  readonly now?: () => number;
  /**
   * Stops the copy promptly: no blob or manifest transfer starts once it fired, waits for a
   * scheduler slot end, and the copy throws `OPERATION_ABORTED` after the transfers in flight
   * have stopped. Build registry targets with the same signal (`new RegistryTarget(client, repo,
   * { signal })`) so that requests in flight are cut off too. Default: none.
   */
  readonly signal?: AbortSignal;
}

/** Counts of what happened to blobs. */
export interface BlobCounts {
  copied: number;
  mounted: number;
  skipped: number;
  /** Foreign layers left out. */
  foreign: number;
}

/** The outcome of one image copy (stable `--json` contract). */
export interface CopyResult {
  readonly source: string;
  readonly destination: string;
  /** Digest written at the destination. */
  readonly digest: Digest;
  readonly mediaType: string;
  /** The source digest; differs from `digest` only when `--platform` narrowed an index. */
  readonly sourceDigest: Digest;
  readonly platformNarrowed: boolean;
  /** True when the destination already had everything. */
  readonly alreadyComplete: boolean;
  readonly dryRun: boolean;
  readonly bytesTransferred: number;
  /** Bytes the plan would move (dry run) or that the copy needed to be present. */
  readonly bytesPlanned: number;
  readonly blobs: BlobCounts;
  readonly manifests: { copied: number; skipped: number };
  readonly referrers: { copied: number; skipped: number };
  readonly tags: readonly string[];
  readonly durationMs: number;
  /** Dry run only: what would happen to each blob. */
  readonly plan?: readonly {
    digest: Digest;
    size: number;
    mediaType: string;
    action: 'copy' | 'mount' | 'skip';
  }[];
}

/** Copies `reference` (tag or digest) from `source` to `destination`. */
export async function copyImage(
  source: ReadTarget,
  reference: string,
  destination: WriteTarget,
  options: CopyImageOptions = {},
): Promise<CopyResult> {
  const signal = options.signal;
  const what = `copy of ${source.name}:${reference} to ${destination.name}`;
  throwIfAborted(signal, what);
  try {
    return await copyWith(source, reference, destination, options);
  } catch (err) {
    throw unlessAborted(err, signal, what);
  }
}

async function copyWith(
  source: ReadTarget,
  reference: string,
  destination: WriteTarget,
  options: CopyImageOptions,
): Promise<CopyResult> {
  const signal = options.signal;
  const stopIfAborted = (object: string): void => throwIfAborted(signal, object);
  const now = options.now ?? Date.now;
  const started = now();
  const tags = [...(options.tags ?? [])];
  const image = `${destination.name}${tags[0] ? `:${tags[0]}` : ''}`;
  const withReferrers = options.referrers !== false;

  const check = options.dryRun
    ? undefined
    : await alreadyThere(source, reference, destination, tags, options);
  if (check?.complete) {
    return { ...emptyResult(source, destination, check.root, tags), durationMs: now() - started };
  }

  const graph = await resolveGraph(source, reference, {
    ...(check && { root: check.root }),
    ...(options.platforms && { platforms: options.platforms }),
    referrers: withReferrers,
    ...(options.sourceTags && { sourceTags: options.sourceTags }),
  });
  const plan = planCopy(graph, { includeForeign: options.includeForeign === true });
  options.onEvent?.({ type: 'plan', image, blobs: plan.blobs.length, bytes: plan.totalBytes });
  const base = {
    source: source.name,
    destination: destination.name,
    digest: plan.root.digest,
    mediaType: plan.root.mediaType,
    sourceDigest: graph.sourceDigest,
    platformNarrowed: graph.narrowed,
    alreadyComplete: false,
    bytesPlanned: plan.totalBytes,
    tags,
  };

  if (options.dryRun) {
    const steps = await dryRunBlobs(source, destination, plan);
    const blobs: BlobCounts = { copied: 0, mounted: 0, skipped: 0, foreign: plan.foreign.length };
    for (const s of steps) {
      if (s.action === 'copy') blobs.copied++;
      else if (s.action === 'mount') blobs.mounted++;
      else blobs.skipped++;
    }
    return {
      ...base,
      dryRun: true,
      bytesTransferred: 0,
      bytesPlanned: steps.filter((s) => s.action === 'copy').reduce((n, s) => n + s.size, 0),
      blobs,
      manifests: { copied: 0, skipped: 0 },
      referrers: { copied: 0, skipped: 0 },
      plan: steps,
      durationMs: now() - started,
    };
  }

  // The first blob that fails stops the others (queued ones do not start, retries end), and the
  // copy fails once every transfer it started has stopped: nothing goes on in the background.
  const failed = new AbortController();
  const stop = signal ? AbortSignal.any([signal, failed.signal]) : failed.signal;
  // Every transfer listens to this one signal while it waits or runs, however many blobs there are.
  setMaxListeners(0, stop);
  const ctx: TransferContext = {
    source,
    destination,
    scheduler: options.scheduler ?? new Scheduler(),
    image,
    budget: new RetryBudget(options.retry ?? {}, plan.blobs.length, now),
    newDestination: options.destinationTags?.size === 0,
    ...(options.onEvent && { onEvent: options.onEvent }),
    signal: stop,
  };
  const blobs: BlobCounts = { copied: 0, mounted: 0, skipped: 0, foreign: plan.foreign.length };
  let bytesTransferred = 0;
  const count = (action: BlobAction, size: number): void => {
    blobs[action]++;
    if (action === 'copied') bytesTransferred += size;
  };
  const transfers = plan.blobs.map(async (b) => count(await transferBlob(ctx, b), b.size));
  try {
    await Promise.all(transfers);
  } catch (err) {
    failed.abort(err);
    await Promise.allSettled(transfers);
    throw err;
  }

  const manifests = { copied: 0, skipped: 0 };
  const put = async (m: Manifest, reference: string): Promise<boolean> => {
    const object = `manifest ${destination.name}${reference.includes(':') ? '@' : ':'}${reference}`;
    stopIfAborted(object);
    const confirmed = await onSide('destination', object, () =>
      destination.pushManifest(m.bytes, m.mediaType, reference),
    );
    options.onEvent?.({ type: 'manifest-done', image, digest: m.digest, reference });
    return confirmed;
  };
  const putIfMissing = async (m: Manifest): Promise<void> => {
    const have = await onSide('destination', `manifest ${destination.name}@${m.digest}`, () =>
      destination.resolve(m.digest),
    );
    if (have?.digest === m.digest) {
      manifests.skipped++;
      return;
    }
    await put(m, m.digest);
    manifests.copied++;
  };
  for (const child of plan.children) await putIfMissing(child);
  // With nothing to attach, the first tag can carry the root itself: content is all present, and
  // one PUT by tag makes manifest and tag appear together. Otherwise the root goes in by digest
  // first so that its referrers can follow before any tag.
  const direct = plan.attached.length === 0 && tags.length > 0;
  if (!direct) await putIfMissing(plan.root);

  const referrers = withReferrers
    ? await copyAttached(destination, plan.attached, putIfMissing, put, options.destinationTags, signal)
    : { copied: 0, skipped: 0 };

  const confirmed: boolean[] = [];
  for (const tag of tags) confirmed.push(await put(plan.root, tag));
  if (direct) manifests.copied++;
  // The first tag is read back unless the registry already answered its PUT with the digest.
  const verified =
    tags[0] && confirmed[0] === true
      ? { digest: plan.root.digest }
      : await destination.resolve(tags[0] ?? plan.root.digest);
  if (verified?.digest !== plan.root.digest) {
    throw new GantryError(
      'REGISTRY_DIGEST_MISMATCH',
      `destination ${destination.name} resolves to ${verified?.digest ?? 'nothing'} after the copy, expected ${plan.root.digest}`,
      { details: { side: 'destination', expected: plan.root.digest, actual: verified?.digest ?? '' } },
    );
  }
  options.onEvent?.({ type: 'image-done', image, digest: plan.root.digest });
  return {
    ...base,
    dryRun: false,
    bytesTransferred,
    blobs,
    manifests,
    referrers,
    durationMs: now() - started,
  };
}

async function copyAttached(
  destination: WriteTarget,
  attached: readonly Attached[],
  putIfMissing: (m: Manifest) => Promise<void>,
  put: (m: Manifest, reference: string) => Promise<boolean>,
  destinationTags: ReadonlySet<string> | undefined,
  signal: AbortSignal | undefined,
): Promise<{ copied: number; skipped: number }> {
  const counts = { copied: 0, skipped: 0 };
  const present = new Map<Digest, Set<string>>();
  for (const a of attached) {
    for (const child of a.tree.children) await putIfMissing(child);
    const m = a.tree.manifest;
    if (a.subject) {
      let have = present.get(a.subject);
      if (!have) {
        const list = await onSide('destination', `referrers of ${a.subject}`, () =>
          destination.referrers(a.subject as Digest, destinationTags),
        );
        have = new Set(list.map((d) => d.digest));
        present.set(a.subject, have);
      }
      if (have.has(m.digest)) {
        counts.skipped++;
        continue;
      }
      throwIfAborted(signal, `referrer ${m.digest}`);
      await onSide('destination', `referrer ${m.digest}`, () =>
        destination.pushReferrer(m.bytes, m.mediaType),
      );
      have.add(m.digest);
      counts.copied++;
    } else if (a.tag) {
      const current = await onSide('destination', `tag ${a.tag}`, () => destination.resolve(a.tag as string));
      if (current?.digest === m.digest) {
        counts.skipped++;
        continue;
      }
      await put(m, a.tag);
      counts.copied++;
    }
  }
  return counts;
}

/** The no-op fast path: the destination already has the root (under the tag) and its referrers. */
async function alreadyThere(
  source: ReadTarget,
  reference: string,
  destination: WriteTarget,
  tags: readonly string[],
  options: CopyImageOptions,
): Promise<{ root: Manifest; complete: boolean } | undefined> {
  if (options.platforms && options.platforms.length > 0) return undefined;
  const known = options.destinationTags;
  const lookup = (t: string) =>
    known !== undefined && !t.includes(':') && !known.has(t)
      ? Promise.resolve(undefined)
      : onSide('destination', `manifest ${destination.name}:${t}`, () => destination.resolve(t));
  // Tags can be looked up while the source manifest is fetched; a digest-only copy needs it first.
  const [root, tagged] = await Promise.all([
    onSide('source', `manifest ${source.name}:${reference}`, () => source.fetchManifest(reference)),
    Promise.all(tags.map(lookup)),
  ]);
  const checks = tags.length > 0 ? tagged : [await lookup(root.digest)];
  if (!checks.every((c) => c?.digest === root.digest)) return { root, complete: false };
  if (options.referrers === false) return { root, complete: true };
  // The destination is asked only when there is something to find: most images have no referrers.
  const want = await onSide('source', `referrers of ${root.digest}`, () =>
    source.referrers(root.digest, options.sourceTags),
  );
  if (want.length === 0) return { root, complete: true };
  const have = await onSide('destination', `referrers of ${root.digest}`, () =>
    destination.referrers(root.digest, options.destinationTags),
  );
  const present = new Set(have.map((d) => d.digest));
  return { root, complete: want.every((d) => present.has(d.digest)) };
}

function emptyResult(source: ReadTarget, destination: WriteTarget, root: Manifest, tags: string[]) {
  return {
    source: source.name,
    destination: destination.name,
    digest: root.digest,
    mediaType: root.mediaType,
    sourceDigest: root.digest,
    platformNarrowed: false,
    alreadyComplete: true,
    dryRun: false,
    bytesTransferred: 0,
    bytesPlanned: 0,
    blobs: { copied: 0, mounted: 0, skipped: 0, foreign: 0 },
    manifests: { copied: 0, skipped: 0 },
    referrers: { copied: 0, skipped: 0 },
    tags,
  };
}

async function dryRunBlobs(source: ReadTarget, destination: WriteTarget, plan: CopyPlan) {
  const sameRegistry = mountable({ source, destination });
  return Promise.all(
    plan.blobs.map(async (b) => {
      const exists = await onSide('destination', `blob ${b.digest}`, () => destination.hasBlob(b));
      const action: 'copy' | 'mount' | 'skip' = exists ? 'skip' : sameRegistry ? 'mount' : 'copy';
      return { digest: b.digest, size: b.size, mediaType: b.mediaType, action };
    }),
  );
}
