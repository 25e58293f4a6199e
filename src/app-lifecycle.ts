/**
 * The lifecycle jobs' shared contract (issue 14): `gantry gc` (promotion-aware retention,
 * src/app-gc.ts) and `gantry sync` (mirrors such as golden base images, src/app-sync.ts) both
 * return a {@link LifecycleReport}; the CLI prints it, `gantry serve` runs them on a schedule as
 * durable jobs (src/jobs), records every item in the ledger through `onItem` as it happens, and
 * keeps the report as the run's outcome.
 */

/** One thing a lifecycle run did (or, in a dry run, would do). */
export interface LifecycleItem {
  /** gc: `delete` (a manifest); sync: `copy` (a digest to a target), `tag` (a tag moved to it). */
  readonly action: 'delete' | 'copy' | 'tag';
  /** `registry-host/repository`. */
  readonly repository: string;
  readonly digest: string;
  /** Tags involved (gc: the tags the deleted manifest had; sync: the tags written). */
  readonly tags?: readonly string[];
  /** Bytes moved (sync) or referenced (gc, the manifest's own image size when known). */
  readonly bytes?: number;
  /** Why (gc: e.g. `never promoted, 45d old, beyond the newest 20`). */
  readonly reason?: string;
  /** True once done (false in a dry run). */
  readonly done: boolean;
}

/** Why something was kept (gc) or skipped (sync): counted by reason in the report. */
export type KeepReason =
  | 'promoted'
  | 'rollback-window'
  | 'newest'
  | 'too-young'
  | 'index-child'
  | 'referrer'
  | 'immutable-tag'
  | 'deployed'
  | 'unchanged';

/** The outcome of one gc or sync run. */
export interface LifecycleReport {
  readonly kind: 'gc' | 'sync';
  /** gc: the environment; sync: the job's name. */
  readonly name: string;
  readonly dryRun: boolean;
  /** ISO 8601. */
  readonly startedAt: string;
  readonly finishedAt: string;
  /** What was (or would be) done, in order. */
  readonly items: readonly LifecycleItem[];
  /** Counts of what was left alone, by reason. */
  readonly kept: Readonly<Partial<Record<KeepReason, number>>>;
  /** Totals: `deleted`/`copied`/`skipped` items, `bytes`. */
  readonly totals: Readonly<Record<string, number>>;
  /** Set when the run stopped early (e.g. the registry refuses deletes); `items` says how far it got. */
  readonly error?: { readonly code: string; readonly message: string };
}

/** Progress of a run, for a CLI progress line or the server's logs. */
export interface LifecycleProgress {
  readonly done: number;
  readonly total: number;
  readonly message?: string;
}

/** Options both runs take. */
export interface LifecycleRunOptions {
  /** Plan only: nothing is written or deleted. */
  readonly dryRun: boolean;
  readonly signal?: AbortSignal;
  readonly now?: () => Date;
  readonly onProgress?: (progress: LifecycleProgress) => void;
  /** Called after each item is done (not in a dry run): the server records it in the ledger. */
  readonly onItem?: (item: LifecycleItem) => void | Promise<void>;
}

/** Options of a gc run (src/app-gc.ts: `runGc(app, env, options)`). */
export interface GcRunOptions extends LifecycleRunOptions {
  /** Override the environment's `retention.keep`. */
  readonly keep?: number;
  /** Override the environment's `retention.olderThan`. */
  readonly olderThanMs?: number;
  /** Digests never deleted besides the rules (the server passes what targets report as deployed). */
  readonly keepDigests?: ReadonlySet<string>;
}

/** Options of a sync run (src/app-sync.ts: `runSync(app, name, options)`). */
export type SyncRunOptions = LifecycleRunOptions;
