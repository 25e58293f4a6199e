/**
 * The promotion desk: what the server's promotion routes ask of the durable promotion runtime.
 * The routes (src/server/routes/promotions.ts) check tokens, roles and teams and turn requests
 * into calls of this interface; the runtime (src/jobs) stores each promotion and its job, runs it
 * step by step under a lease, and records every state change in the ledger in the same
 * transaction. Everything here is plain JSON, as the API returns it.
 */
import type { PlainError, PromotionOutcome, PromotionState, RollbackOutcome } from '../app.js';

/** Who asks: the authenticated caller of a request. */
export interface DeskCaller {
  /** How the caller appears in the ledger and as requester: `<token name> (<token id>)`. */
  readonly actor: string;
  /**
   * The identity compared (normalised, `sameIdentity`) with the requester for self-approval and
   * counted by approval gates: the token's name.
   */
  readonly identity: string;
  /** The token's groups (they feed approval gates). */
  readonly groups: readonly string[];
}

/** `POST /api/v1/promotions`: exactly one of `version` (a tag in the source) and `digest`. */
export interface PromoteBody {
  readonly app: string;
  readonly version?: string;
  readonly digest?: string;
  readonly to: string;
  readonly from?: string;
  /** Promote despite failing gates, for this reason (where the environment allows overrides). */
  readonly override?: string;
}

/** `POST /api/v1/releases`: several applications into one environment, all or nothing. */
export interface ReleaseBody {
  readonly to: string;
  readonly from?: string;
  readonly applications: readonly {
    readonly app: string;
    readonly version?: string;
    readonly digest?: string;
  }[];
}

/** `POST /api/v1/rollbacks`. */
export interface RollbackBody {
  readonly app: string;
  readonly env: string;
  /** A digest or version promoted to `env` before. Default: the previous one. */
  readonly to?: string;
}

/** One approval or rejection given through the API. */
export interface DeskDecision {
  readonly approver: string;
  readonly decision: 'approved' | 'rejected';
  readonly comment?: string;
  /** ISO 8601. */
  readonly time: string;
}

/** Why a promotion waits: one application's gate that is still pending. */
export interface WaitingReason {
  readonly application: string;
  /** The gate, e.g. `approval`. */
  readonly gate: string;
  /** The gate's reasons, e.g. `0 of 2 approvals; needs an approver from ops`. */
  readonly reason: string;
}

/** A promotion or release as the API shows it. */
export interface PromotionView {
  readonly id: string;
  readonly kind: 'promotion' | 'release';
  readonly state: PromotionState;
  /** The target environment. */
  readonly environment: string;
  /** The source environment. */
  readonly from: string;
  /** The requester's actor string. */
  readonly requestedBy: string;
  /** ISO 8601. */
  readonly requestedAt: string;
  /** ISO 8601: the last state change. */
  readonly updatedAt: string;
  /**
   * Each application as far as the promotion got, in the CLI's `--json` shape (`outcomeOf`):
   * status `planned` until completed, `completed` after, `unchanged` when nothing had to move.
   */
  readonly applications: readonly PromotionOutcome[];
  /** Decisions given through the API, oldest first. */
  readonly decisions: readonly DeskDecision[];
  /** Why it was rejected or cancelled. */
  readonly reason?: string;
  /** Why it failed. */
  readonly error?: PlainError;
  /** A cancel was asked for while the promotion was copying; it stops at the next step. */
  readonly cancelRequested?: boolean;
  /** While it waits (`requested`, `gated`, `awaiting-approval`): the gates it waits for, and why. */
  readonly waiting?: readonly WaitingReason[];
}

/** Filters of `GET /api/v1/promotions`. */
export interface PromotionFilter {
  readonly app?: string;
  readonly env?: string;
  readonly state?: PromotionState;
  /** Only these applications (the caller's teams); default all. */
  readonly apps?: ReadonlySet<string>;
  /** Newest first; at most this many (default 50, at most 500). */
  readonly limit?: number;
  /** The `next` of the previous page. */
  readonly before?: string;
}

/** What `GET /api/v1/promotions/{id}/events` streams (server-sent events, `event:` = `type`). */
export type PromotionStreamEvent =
  /** The promotion entered `state` (first event: the state when the stream opened). */
  | { readonly type: 'state'; readonly id: string; readonly state: PromotionState; readonly time: string }
  /** Copy progress of application `application` (index in `applications`). */
  | {
      readonly type: 'progress';
      readonly id: string;
      readonly application: number;
      readonly bytesTransferred: number;
      readonly bytesTotal: number;
      readonly blobsDone: number;
      readonly blobsTotal: number;
    }
  /** The promotion ended (completed, rejected, failed, cancelled): the stream closes after it. */
  | { readonly type: 'end'; readonly id: string; readonly promotion: PromotionView };

/** What `GET /api/v1/events` streams of every promotion (server-sent events, `event:` = `type`). */
export type DeskEvent =
  /** A promotion was created or changed state (here or on another replica): its view now. */
  | { readonly type: 'promotion'; readonly promotion: PromotionView }
  /** Copy progress of one application of a promotion run here. */
  | {
      readonly type: 'progress';
      readonly id: string;
      /** The application's name. */
      readonly application: string;
      readonly bytesTransferred: number;
      readonly bytesTotal: number;
      readonly blobsDone: number;
      readonly blobsTotal: number;
    };

/** The durable promotion runtime, as the routes see it. */
export interface PromotionDesk {
  /**
   * Plans the promotion (registry reads, no transaction open), then stores it, its job and
   * `promotion.requested` in one transaction. Planning errors (unknown application, candidate
   * not in the source, tag conflicts) are thrown as the domain's GantryErrors.
   */
  promote(body: PromoteBody, caller: DeskCaller): Promise<PromotionView>;
  /** As {@link promote}, for several applications at once. */
  release(body: ReleaseBody, caller: DeskCaller): Promise<PromotionView>;
  /** The promotion, or undefined. */
  get(id: string): Promise<PromotionView | undefined>;
  /** Promotions matching `filter`, newest first; `next` pages on. */
  list(filter: PromotionFilter): Promise<{ readonly promotions: PromotionView[]; readonly next?: string }>;
  /**
   * Records an approval by `caller` and wakes the promotion's job. The requester can never approve
   * their own promotion (`PROMOTION_SELF_APPROVAL`, 403); an ended promotion is
   * `PROMOTION_STATE_CONFLICT`. Role checks (approver:<env>) are the route's.
   */
  approve(id: string, caller: DeskCaller, comment?: string): Promise<PromotionView>;
  /** Rejects a promotion that waits (`requested`, `gated`, `awaiting-approval`). */
  reject(id: string, caller: DeskCaller, reason: string): Promise<PromotionView>;
  /**
   * Cancels before tags are written. A promotion that is copying is cancelled by its runner at the
   * next step (its copy is aborted); the view then says `cancelRequested`.
   */
  cancel(id: string, caller: DeskCaller, reason?: string): Promise<PromotionView>;
  /** Rolls back now (a tag move and a record) and records `rollback.completed`. */
  rollback(body: RollbackBody, caller: DeskCaller): Promise<RollbackOutcome>;
  /**
   * Calls `listener` with the promotion's events from now on (state changes of any replica, copy
   * progress of this one); returns the unsubscribe function.
   */
  watch(id: string, listener: (event: PromotionStreamEvent) => void): () => void;
  /**
   * Calls `listener` with every promotion's changes from now on: each creation and state change
   * (this replica's at once, other replicas' through a poll of the store that runs only while
   * someone watches), and copy progress of the promotions run here. Returns the unsubscribe
   * function. Optional: a desk without it streams no promotion events.
   */
  watchAll?(listener: (event: DeskEvent) => void): () => void;
}

/** What the runtime reports for metrics (the server implements it with prom-client). */
export interface RuntimeObserver {
  /** A step of a promotion in `state` took `ms`. */
  step(state: PromotionState, ms: number): void;
  /** A promotion entered `state`. */
  entered(state: PromotionState): void;
  /** `bytes` were copied to the registry `host`. */
  copied(host: string, bytes: number): void;
  /** A step failed on a registry error from `host`. */
  registryError(host: string, code: string): void;
}
