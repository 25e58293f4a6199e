/**
 * The shapes of the API responses the dashboard reads (the server's /openapi.json is the source of
 * truth; these are written to match it). Only the fields the dashboard uses are typed.
 */

export type PromotionState =
  | 'requested'
  | 'gated'
  | 'awaiting-approval'
  | 'approved'
  | 'copying'
  | 'verifying'
  | 'completed'
  | 'rejected'
  | 'failed'
  | 'cancelled';

export const ENDED: readonly PromotionState[] = ['completed', 'rejected', 'failed', 'cancelled'];
export const WAITING: readonly PromotionState[] = ['requested', 'gated', 'awaiting-approval'];

/** `GET /api/v1/session`. */
export interface Session {
  readonly actor: string;
  readonly identity: string;
  readonly token: {
    readonly id: string;
    readonly name: string;
    readonly roles: string[];
    readonly groups: string[];
    readonly teams: string[];
    readonly createdAt: string;
    readonly expiresAt?: string;
  };
  readonly may: {
    readonly promote: boolean;
    readonly deploy: boolean;
    readonly admin: boolean;
    /** Environments the caller may approve promotions into. */
    readonly approve: string[];
  };
}

/** `GET /api/v1/pipeline`. */
export interface Pipeline {
  readonly environments: PipelineEnvironment[];
  readonly applications: string[];
}

export interface PipelineEnvironment {
  readonly name: string;
  readonly registry: string;
  readonly mode: 'copy' | 'tag';
  /** Environments this one is promoted from (edges of the graph). */
  readonly from: string[];
  readonly auto: boolean;
  readonly allowOverride: boolean;
  readonly gates: string[];
  /** The last stage: no environment promotes from it. */
  readonly protected: boolean;
}

/** A deployed target of a status cell. */
export interface DeployedTarget {
  readonly target: string;
  readonly digest: string;
  readonly reportedAt: string;
  readonly reportedBy: string;
  readonly drift?: 'unpromoted' | 'behind';
}

/** A cell of `GET /api/v1/status`. */
export interface StatusCell {
  readonly environment: string;
  readonly application: string;
  readonly repository: string;
  readonly state: 'present' | 'absent' | 'unknown';
  readonly tag?: string;
  readonly source?: 'current' | 'newest-version';
  readonly digest?: string;
  readonly version?: string;
  readonly revision?: string;
  readonly promotedAt?: string;
  readonly promotedBy?: string;
  readonly recorded?: boolean;
  readonly error?: { readonly code: string; readonly message: string };
  readonly targets?: DeployedTarget[];
}

/** `GET /api/v1/status`. */
export interface Status {
  readonly asOf: string;
  readonly cells: StatusCell[];
  readonly error?: { readonly code: string; readonly message: string; readonly environments: string[] };
}

export interface RecordedGate {
  readonly gate: string;
  readonly status: 'pass' | 'fail' | 'pending' | 'overridden';
  readonly reasons: string[];
}

/** One application of a promotion (the CLI's `--json` outcome). */
export interface PromotionApplication {
  readonly application: string;
  readonly version?: string;
  readonly revision?: string;
  readonly digest: string;
  readonly from: { readonly environment: string; readonly repository: string };
  readonly to: { readonly environment: string; readonly repository: string };
  readonly mode: 'copy' | 'tag';
  readonly status: 'completed' | 'unchanged' | 'planned';
  readonly gates: RecordedGate[];
  readonly warnings: string[];
  readonly attestation?: string;
  readonly copy?: { readonly bytes?: number; readonly blobs?: number };
}

export interface Decision {
  readonly approver: string;
  readonly decision: 'approved' | 'rejected';
  readonly comment?: string;
  readonly time: string;
}

/** `GET /api/v1/promotions/{id}` and each item of `GET /api/v1/promotions`. */
export interface Promotion {
  readonly id: string;
  readonly kind: 'promotion' | 'release';
  readonly state: PromotionState;
  readonly environment: string;
  readonly from: string;
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly updatedAt: string;
  readonly applications: PromotionApplication[];
  readonly decisions: Decision[];
  readonly reason?: string;
  readonly error?: { readonly code: string; readonly message: string };
  readonly cancelRequested?: boolean;
  readonly waiting?: { readonly application: string; readonly gate: string; readonly reason: string }[];
}

/** Copy progress (`progress` events). */
export interface Progress {
  readonly id: string;
  /** The application's name. */
  readonly application: string;
  readonly bytesTransferred: number;
  readonly bytesTotal: number;
  readonly blobsDone: number;
  readonly blobsTotal: number;
}

/** `GET /api/v1/applications/{app}/candidates?env=`. */
export interface CandidateList {
  readonly application: string;
  readonly environment: string;
  readonly candidates: {
    readonly digest: string;
    readonly version?: string;
    readonly tags: string[];
    readonly from: string;
    readonly inTarget: boolean;
    readonly current: boolean;
  }[];
  readonly truncated: boolean;
}

/** `GET /api/v1/applications/{app}/candidates/{digest}?env=`. */
export interface CandidateDetail {
  readonly application: string;
  readonly environment: string;
  readonly from: string;
  readonly digest: string;
  readonly version?: string;
  readonly tags: string[];
  readonly mediaType: string;
  readonly size: number;
  readonly created?: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly platforms: { readonly platform: string; readonly digest: string; readonly size: number }[];
  readonly referrers: {
    readonly digest: string;
    readonly mediaType: string;
    readonly artifactType?: string;
    readonly size: number;
    readonly kind:
      | 'signature'
      | 'sbom'
      | 'vulnerability-report'
      | 'attestation'
      | 'promotion-record'
      | 'approval'
      | 'other';
    readonly annotations?: Record<string, string>;
  }[];
  readonly vulnerabilities?: {
    readonly scanner: string;
    readonly createdAt?: string;
    readonly critical: number;
    readonly high: number;
    readonly medium: number;
    readonly low: number;
    readonly unknown: number;
    readonly reportDigest?: string;
  };
  readonly gates: {
    readonly name: string;
    readonly status: 'pass' | 'fail' | 'pending';
    readonly reasons: string[];
  }[];
  readonly approvals: {
    readonly approver: string;
    readonly decision: 'approved' | 'rejected';
    readonly comment?: string;
    readonly time: string;
    readonly source: 'api' | 'signed';
  }[];
  readonly promotions: {
    readonly id: string;
    readonly state: PromotionState;
    readonly environment: string;
    readonly requestedBy: string;
    readonly requestedAt: string;
  }[];
}

/** An entry of `GET /api/v1/applications/{app}/history?env=`. */
export interface HistoryEntry {
  readonly time: string;
  readonly kind: 'promotion' | 'rollback';
  readonly environment: string;
  readonly application: string;
  readonly version?: string;
  readonly revision?: string;
  readonly digest: string;
  readonly actor: string;
  readonly attestation: string;
}

/** An entry of `GET /api/v1/ledger`. */
export interface LedgerEntry {
  readonly seq: number;
  readonly time: string;
  readonly type: string;
  readonly subject: string;
  readonly actor: string;
  readonly payload: Record<string, unknown>;
  readonly prev_hash: string;
  readonly hash: string;
}

/** `GET /api/v1/ledger/verify`. */
export interface LedgerVerify {
  readonly ok: boolean;
  readonly entries: number;
  readonly headHash: string;
  readonly firstBadSeq?: number;
  readonly reason?: string;
}

/** `GET /api/v1/applications/{app}/history?env=`. */
export interface History {
  readonly application: string;
  readonly environment: string;
  readonly entries: HistoryEntry[];
}

/** `GET /api/v1/diff?left=&right=`: each application's state in both environments. */
export interface Diff {
  readonly left: string;
  readonly right: string;
  readonly same: boolean;
  readonly applications: {
    readonly application: string;
    readonly same: boolean;
    readonly left: StatusCell;
    readonly right: StatusCell;
  }[];
}

/** A page of `GET /api/v1/ledger`; `next` is the `before` (with `order=desc`) of the next page. */
export interface LedgerPage {
  readonly entries: LedgerEntry[];
  readonly next?: number;
}

/** A token as `GET /api/v1/tokens` lists it (never its secret). */
export interface TokenInfo {
  readonly id: string;
  readonly name: string;
  readonly roles: string[];
  readonly groups: string[];
  readonly teams: string[];
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
}

/** `POST /api/v1/tokens`: the token and its secret, in this response only. */
export interface CreatedToken extends TokenInfo {
  readonly token: string;
}

/** A delivery of `GET /api/v1/webhooks/deliveries` (newest first). */
export interface WebhookDelivery {
  readonly id: string;
  readonly endpoint: string;
  readonly event: string;
  readonly subject: string;
  readonly state: 'pending' | 'delivered' | 'dead';
  readonly attempts: number;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** A lifecycle job: `gc` (retention of an environment) or `sync` (a mirror job of gantry.yaml). */
export type LifecycleKind = 'gc' | 'sync';

/** The state of a gc or sync run. */
export type LifecycleState = 'queued' | 'running' | 'succeeded' | 'failed';

/** One thing a gc or sync run did (or, in a dry run, would do). */
export interface LifecycleItem {
  readonly action: 'delete' | 'copy' | 'tag';
  /** `registry-host/repository`. */
  readonly repository: string;
  readonly digest: string;
  readonly tags?: string[];
  readonly bytes?: number;
  readonly reason?: string;
  readonly done: boolean;
}

/** The report of a finished run (`GET /api/v1/lifecycle/runs/{id}`). */
export interface LifecycleReport {
  readonly kind: LifecycleKind;
  readonly name: string;
  readonly dryRun: boolean;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly items: LifecycleItem[];
  /** What was left alone, counted by reason. */
  readonly kept: Record<string, number>;
  readonly totals: Record<string, number>;
  readonly error?: { readonly code: string; readonly message: string };
}

/** A run of `GET /api/v1/lifecycle/runs` (newest first); `report` only when one run is read. */
export interface LifecycleRun {
  readonly id: string;
  readonly kind: LifecycleKind;
  /** The environment (gc) or the sync job. */
  readonly name: string;
  readonly trigger: 'schedule' | 'api';
  readonly scheduledFor: string | null;
  readonly dryRun: boolean;
  readonly requestedBy: string;
  readonly state: LifecycleState;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly totals: Record<string, number> | null;
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly report?: LifecycleReport | null;
}

/** A schedule of `GET /api/v1/lifecycle/schedules`. */
/** `GET /api/v1/lifecycle/jobs`: gc of an environment or a sync job, scheduled or not. */
export interface LifecycleJob {
  readonly kind: LifecycleKind;
  readonly name: string;
  /** Five-field cron, UTC; null when it runs only on request. */
  readonly schedule: string | null;
  readonly nextRunAt: string | null;
  /** gc of a protected environment is refused. */
  readonly protected: boolean;
  readonly lastRun: LifecycleRun | null;
}

export interface LifecycleSchedule {
  readonly kind: LifecycleKind;
  readonly name: string;
  /** Five-field cron, UTC. */
  readonly schedule: string;
  readonly nextRunAt: string | null;
  readonly lastRun: LifecycleRun | null;
}
