/**
 * The one rule of pinning, independent of file formats: a reference to an application's
 * repository is pinned to the digest its environment runs, keeping its tag for readers unless the
 * tag names something else.
 */
import type { Digest } from '../core/index.js';
import { isValidTag, parseRepository, type Repository } from '../registry/index.js';
import type { PinTarget, PinTargets } from './model.js';

/** What to do with one reference. */
export type PinDecision =
  /** Not an application's repository: leave it alone. */
  | { readonly kind: 'other' }
  /** Already pinned to the digest the environment runs. */
  | { readonly kind: 'pinned'; readonly key: string; readonly target: PinTarget }
  /** The environment runs nothing of the application: cannot be pinned. */
  | { readonly kind: 'unpinned'; readonly key: string; readonly target: PinTarget }
  /** Pin to `digest`; `tag` is the tag to write (undefined when the reference has none). */
  | {
      readonly kind: 'repin';
      readonly key: string;
      readonly target: PinTarget;
      readonly digest: Digest;
      readonly tag: string | undefined;
    };

/** The key of a repository in {@link PinTargets}. */
export function repositoryKey(repo: Repository): string {
  return `${repo.registry}/${repo.repository}`;
}

/** Re-keys targets by normalised repository; throws `REFERENCE_INVALID` for a malformed key. */
export function normalizeTargets(targets: PinTargets): PinTargets {
  const out = new Map<string, PinTarget>();
  for (const [key, target] of targets) out.set(repositoryKey(parseRepository(key)), target);
  return out;
}

/** Decides what to do with a reference to `repo` carrying `tag` and `digest` (both optional). */
export function decide(
  targets: PinTargets,
  repo: Repository,
  tag: string | undefined,
  digest: string | undefined,
): PinDecision {
  const key = repositoryKey(repo);
  const target = targets.get(key);
  if (!target) return { kind: 'other' };
  if (target.digest === undefined) return { kind: 'unpinned', key, target };
  if (digest === target.digest) return { kind: 'pinned', key, target };
  const known = (target.tags ?? []).filter(isValidTag);
  const keep = tag === undefined || known.length === 0 || known.includes(tag);
  return { kind: 'repin', key, target, digest: target.digest, tag: keep ? tag : known[0] };
}

/** `name[:tag][@digest]`. */
export function composeReference(name: string, tag: string | undefined, digest: string | undefined): string {
  return `${name}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
}
