/**
 * Copying every tag of a repository (`gantry copy --all-tags`): many images in parallel under one
 * shared {@link Scheduler}, skipping what the destination already has, and with `keepGoing`
 * finishing what it can and reporting what failed.
 *
 * The source's tag list is untrusted (a registry's `/tags/list`, a layout's `ref.name`
 * annotations): an entry that is not a valid tag (`../../prod/web/manifests/latest`, `a/b`,
 * `%2e%2e`, a name with a newline) is skipped and reported in `skipped`, never requested nor
 * written, and the valid tags are still copied.
 */
import { compareStrings, escapeControl, toGantryError } from '../core/index.js';
import { isValidTag } from '../registry/index.js';
import { copyImage, type CopyImageOptions, type CopyResult } from './copy-image.js';
import { Scheduler } from './scheduler.js';
import type { ReadTarget, WriteTarget } from './target.js';

/** Options for {@link copyRepository}. */
export interface CopyRepositoryOptions extends Omit<
  CopyImageOptions,
  'tags' | 'sourceTags' | 'destinationTags'
> {
  /** Images copied at the same time. Default 8. */
  readonly imageConcurrency?: number;
  /** Go on after a failed tag and report it. Default false (stop at the first failure). */
  readonly keepGoing?: boolean;
}

/** One failed tag. */
export interface TagFailure {
  readonly tag: string;
  readonly code: string;
  readonly message: string;
}

/** A source tag-list entry that was not copied because it is not a valid tag name. */
export interface SkippedTag {
  /** The entry with control characters escaped (safe to print). */
  readonly tag: string;
  readonly reason: string;
}

/** The outcome of a repository copy (stable `--json` contract). */
export interface CopyRepositoryResult {
  readonly source: string;
  readonly destination: string;
  readonly tags: number;
  readonly copied: readonly CopyResult[];
  readonly failed: readonly TagFailure[];
  /** Source tag-list entries that are not valid tag names (never requested). */
  readonly skipped: readonly SkippedTag[];
  readonly bytesTransferred: number;
  readonly durationMs: number;
}

/** Tags that are referrers indexes of the tag schema: they travel with their subjects. */
const REFERRERS_TAG = /^sha(256|512)-[0-9a-f]{64,128}$/;

/** Copies every tag of `source` to `destination`. */
export async function copyRepository(
  source: ReadTarget,
  destination: WriteTarget,
  options: CopyRepositoryOptions = {},
): Promise<CopyRepositoryResult> {
  const now = options.now ?? Date.now;
  const started = now();
  // One tag list per side instead of a lookup per tag (and per referrers fallback tag).
  const [listed, destinationTags] = await Promise.all([source.tags(), destination.existingTags()]);
  const all = listed.filter(isValidTag);
  const skipped: SkippedTag[] = listed
    .filter((t) => !isValidTag(t))
    .map((t) => ({
      tag: escapeControl(t.length > 200 ? `${t.slice(0, 197)}...` : t),
      reason: 'not a valid tag name',
    }));
  const tags = all.filter((t) => !REFERRERS_TAG.test(t)).sort();
  const scheduler = options.scheduler ?? new Scheduler();
  const sourceTags = new Set(all);
  const copied: CopyResult[] = [];
  const failed: TagFailure[] = [];
  let next = 0;
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop && next < tags.length) {
      const tag = tags[next++] as string;
      try {
        copied.push(
          await copyImage(source, tag, destination, {
            ...options,
            tags: [tag],
            scheduler,
            sourceTags,
            destinationTags,
          }),
        );
      } catch (err) {
        const e = toGantryError(err);
        failed.push({ tag, code: e.code, message: e.message });
        if (!options.keepGoing) {
          stop = true;
          throw e;
        }
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, options.imageConcurrency ?? 8) }, () => worker());
  const settled = await Promise.allSettled(workers);
  const firstError = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (firstError) throw firstError.reason;
  return {
    source: source.name,
    destination: destination.name,
    tags: tags.length,
    copied: copied.sort((a, b) => compareStrings(a.tags[0] ?? '', b.tags[0] ?? '')),
    failed,
    skipped,
    bytesTransferred: copied.reduce((n, r) => n + r.bytesTransferred, 0),
    durationMs: now() - started,
  };
}
