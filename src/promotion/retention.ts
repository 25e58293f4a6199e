/**
 * Promotion-aware retention (`gantry gc`, issue 14): which of an application's images in one
 * environment's repository may be deleted, as a pure function of what was read from the
 * registries. Registry-native cleanup knows nothing about promotion; this never selects:
 * - a digest promoted anywhere (another environment's repository holds it),
 * - a digest in a rollback window (it carries a promotion or rollback record, or the environment's
 *   own floating tags point at it),
 * - anything behind an immutable tag, or a digest the caller names (what targets run),
 * - the newest `keep` images (by age; images of unknown age are kept and take no place), or one
 *   younger than `olderThanMs` (or of unknown age),
 * - a manifest a kept index references, a referrer whose subject is kept, or the subject of a
 *   referrer kept for its own reason.
 *
 * A deleted candidate takes its referrers and (for an index) its children that nothing kept
 * references with it, ordered so that a run stopped half-way leaves nothing kept broken: a
 * candidate's referrers first, then the candidate, then its children (an index never points at
 * a deleted child while it still exists).
 */
import type { Digest } from '../core/index.js';

/** Why a manifest stays (the same names as the lifecycle report's `kept` counts). */
export type RetentionKeepReason =
  | 'promoted'
  | 'rollback-window'
  | 'newest'
  | 'too-young'
  | 'index-child'
  | 'referrer'
  | 'immutable-tag'
  | 'deployed';
type KeepReason = RetentionKeepReason;

/** One manifest of the repository, as read. */
export interface RetentionNode {
  readonly digest: Digest;
  /** Its plain tags (not `sha256-…` referrer tags). Tagged nodes without a subject are candidates. */
  readonly tags: readonly string[];
  /** When it was built (ms since the epoch); undefined: unknown (never deleted for age). */
  readonly createdMs?: number;
  /** Manifests an index references. */
  readonly children: readonly Digest[];
  /** Its referrers, and manifests attached to it by tag (referrers index, cosign `.sig`). */
  readonly referrers: readonly Digest[];
  /** The manifest it refers to, when it is a referrer. */
  readonly subject?: Digest;
  /** Another environment's repository holds it. */
  readonly promoted: boolean;
  /** It carries a promotion or rollback record (for any environment): a rollback target. */
  readonly recorded: boolean;
  /** The environment's own floating (or environment) tag points at it. */
  readonly current: boolean;
}

/** The limits of one run. */
export interface RetentionPolicy {
  /** The newest this many candidates (by age) are kept. */
  readonly keep: number;
  /** Candidates younger than this are kept. */
  readonly olderThanMs: number;
  readonly now: Date;
  /** The environment's immutable tag patterns. */
  readonly immutable: readonly RegExp[];
  /** Never deleted (what targets report as deployed). */
  readonly keepDigests: ReadonlySet<string>;
}

/** One manifest to delete, in order. */
export interface RetentionDeletion {
  readonly digest: Digest;
  readonly tags: readonly string[];
  readonly reason: string;
  /** The candidate whose deletion this belongs to (itself for the candidate). */
  readonly candidate: Digest;
}

/** What a run keeps and deletes. */
export interface RetentionPlan {
  /** Deletions in the order they must happen. */
  readonly deletions: readonly RetentionDeletion[];
  /** Every node kept, with the first reason that kept it. */
  readonly kept: ReadonlyMap<Digest, KeepReason>;
}

const DAY = 86_400_000;

/** Which nodes of one application's repository to delete, and why the rest stay. */
export function planRetention(
  nodes: ReadonlyMap<Digest, RetentionNode>,
  policy: RetentionPolicy,
): RetentionPlan {
  const now = policy.now.getTime();
  const candidates = [...nodes.values()]
    .filter((n) => n.tags.length > 0 && n.subject === undefined)
    .sort(newestFirst);
  const kept = new Map<Digest, KeepReason>();
  const doomed = new Set<Digest>();
  const why = new Map<Digest, string>();
  candidates.forEach((n, rank) => {
    const reason = ownReason(n, policy);
    if (reason) kept.set(n.digest, reason);
    else if (rank < policy.keep) kept.set(n.digest, 'newest');
    else if (n.createdMs === undefined || now - n.createdMs < policy.olderThanMs)
      kept.set(n.digest, 'too-young');
    else {
      doomed.add(n.digest);
      why.set(
        n.digest,
        `never promoted, ${Math.floor((now - n.createdMs) / DAY)}d old, beyond the newest ${policy.keep}`,
      );
    }
  });
  // Anything else that protects itself (a deployed platform image, a promoted child, an
  // immutable-tagged signature) stays too, whatever refers to it.
  for (const n of nodes.values()) {
    if (kept.has(n.digest) || doomed.has(n.digest)) continue;
    const reason = ownReason(n, policy);
    if (reason) kept.set(n.digest, reason);
  }
  // Protection spreads down to children and referrers, and up from a kept referrer to its subject,
  // until nothing changes; a doomed candidate reached this way is kept after all.
  const protect = (d: Digest, reason: KeepReason, queue: Digest[]): void => {
    if (kept.has(d)) return;
    doomed.delete(d);
    kept.set(d, reason);
    queue.push(d);
  };
  const queue = [...kept.keys()];
  for (let d = queue.pop(); d !== undefined; d = queue.pop()) {
    const n = nodes.get(d);
    if (!n) continue;
    for (const c of n.children) protect(c, 'index-child', queue);
    for (const r of n.referrers) protect(r, 'referrer', queue);
    if (n.subject !== undefined) protect(n.subject, 'referrer', queue);
  }
  // Tagged referrers whose subject is not deleted stay with it.
  for (const n of nodes.values()) {
    if (n.tags.length > 0 && n.subject !== undefined && !doomed.has(n.subject) && !kept.has(n.digest))
      kept.set(n.digest, 'referrer');
  }
  // A referrer names its subject even when the subject's referrer list missed it.
  const referrersOf = new Map<Digest, Digest[]>();
  for (const n of nodes.values()) {
    const list = [...n.referrers];
    for (const m of nodes.values())
      if (m.subject === n.digest && !list.includes(m.digest)) list.push(m.digest);
    referrersOf.set(n.digest, list);
  }
  const deletions: RetentionDeletion[] = [];
  const planned = new Set<Digest>();
  const visit = (d: Digest, reason: string, candidate: Digest): void => {
    const n = nodes.get(d);
    // Only what was read is deleted: a child or referrer the registry no longer has is left out.
    if (!n || planned.has(d) || kept.has(d)) return;
    planned.add(d);
    for (const r of referrersOf.get(d) ?? []) visit(r, `referrer of ${d}`, candidate);
    deletions.push({ digest: d, tags: n.tags, reason, candidate });
    for (const c of n.children) visit(c, `child of index ${d}`, candidate);
  };
  for (const n of candidates)
    if (doomed.has(n.digest)) visit(n.digest, why.get(n.digest) ?? 'unpromoted', n.digest);
  return { deletions, kept };
}

/** The reason a node protects itself, whatever its age or rank. */
function ownReason(n: RetentionNode, policy: RetentionPolicy): KeepReason | undefined {
  if (n.tags.some((t) => policy.immutable.some((re) => re.test(t)))) return 'immutable-tag';
  if (policy.keepDigests.has(n.digest)) return 'deployed';
  if (n.recorded || n.current) return 'rollback-window';
  if (n.promoted) return 'promoted';
  return undefined;
}

/**
 * Newest first; images of unknown age last: they are kept anyway and take none of the newest
 * `keep` places from images whose age is known.
 */
function newestFirst(a: RetentionNode, b: RetentionNode): number {
  const x = a.createdMs ?? Number.NEGATIVE_INFINITY;
  const y = b.createdMs ?? Number.NEGATIVE_INFINITY;
  if (x !== y) return x > y ? -1 : 1;
  return a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0;
}
