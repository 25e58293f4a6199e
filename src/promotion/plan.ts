/**
 * Promotion planning as a pure function of facts: which tags the target gets (immutable first,
 * floating last), which existing tags would have to move, and whether anything is left to do.
 */
import { isValidTag, type Digest } from '../core/index.js';
import type { EnvironmentConfig } from '../config/index.js';

/** A tag that would change. */
export interface TagChange {
  readonly tag: string;
  /** The digest it points at now, if any. */
  readonly current?: Digest;
}

/** An immutable tag that already points somewhere else. */
export interface TagConflict {
  readonly tag: string;
  readonly current: Digest;
  readonly wanted: Digest;
}

/** Facts a promotion plan is computed from. */
export interface TagFacts {
  readonly target: EnvironmentConfig;
  readonly digest: Digest;
  readonly version?: string;
  readonly revision?: string;
  /** Current digest of each tag the plan may write, at the target (absent tags are undefined). */
  readonly current: ReadonlyMap<string, Digest | undefined>;
}

/** The tag work of a promotion. */
export interface TagPlan {
  /** Tags that must never move: written first, refused when they point elsewhere. */
  readonly immutable: readonly string[];
  /** Tags moved at the end of a successful promotion. */
  readonly floating: readonly string[];
  readonly conflicts: readonly TagConflict[];
  /** Tags that will be written or moved (immutable then floating). */
  readonly changes: readonly TagChange[];
}

/** The tags a promotion writes: the version and revision (immutable; not in tag mode), then the floating tags. */
export function tagsFor(
  target: EnvironmentConfig,
  version?: string,
  revision?: string,
): { immutable: string[]; floating: string[] } {
  // A tag-mode environment shares its source's repository, whose version tags CI owns: only the
  // environment tag moves there.
  const immutable =
    target.mode === 'tag'
      ? []
      : [version, revision].filter((t): t is string => t !== undefined && isValidTag(t));
  const floating = target.floating.filter((t) => !immutable.includes(t));
  return { immutable: [...new Set(immutable)], floating };
}

/** Plans the tags of a promotion. */
export function planTags(facts: TagFacts): TagPlan {
  const { immutable, floating } = tagsFor(facts.target, facts.version, facts.revision);
  const conflicts: TagConflict[] = [];
  const changes: TagChange[] = [];
  for (const tag of immutable) {
    const current = facts.current.get(tag);
    if (current !== undefined && current !== facts.digest)
      conflicts.push({ tag, current, wanted: facts.digest });
    else if (current === undefined) changes.push({ tag });
  }
  for (const tag of floating) {
    const current = facts.current.get(tag);
    if (current !== facts.digest) changes.push({ tag, ...(current !== undefined && { current }) });
  }
  return { immutable, floating, conflicts, changes };
}

/** True when `tag` is immutable in `env` (a configured pattern) or is a version/revision tag of the promotion. */
export function isImmutableTag(env: EnvironmentConfig, tag: string): boolean {
  return env.immutable.some((re) => re.test(tag));
}
