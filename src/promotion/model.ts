/** The promotion model: requests, outcomes and the gate evaluation port. */
import type { Digest } from '../core/index.js';
import type { ApplicationConfig, EnvironmentConfig } from '../config/index.js';
import type { RecordedGate } from './attestation.js';
import type { Candidate } from './candidate.js';
import type { TagChange } from './plan.js';
import type { ContentCopy } from './ports.js';
import type { VulnerabilityReport } from './gates/vulnerability-report.js';
import type { CountedApproval } from './gates/approval-gate.js';

/** What gate evaluation knows about the promotion besides the candidate. */
export interface GateContext {
  readonly from: EnvironmentConfig;
  readonly app: ApplicationConfig;
  readonly version?: string;
  /** Vulnerability reports given with the request (`--report FILE`). */
  readonly reports: readonly { readonly report: VulnerabilityReport; readonly source: string }[];
  /** Who asked for the promotion: never counts as an approver. */
  readonly requester: string;
  /** The time the gates are evaluated at (approval expiry, soak). */
  readonly now: Date;
}

/** What evaluating the gates found: every gate's result, and the approvals that counted. */
export interface GateEvaluation {
  readonly gates: readonly RecordedGate[];
  readonly approvals: readonly CountedApproval[];
}

/** Evaluates an environment's gates for a candidate. */
export type GateEvaluator = (
  env: EnvironmentConfig,
  candidate: Candidate,
  context: GateContext,
) => Promise<GateEvaluation>;

/** Who acts and when: given with every request (a server acts for many people). */
export interface Requester {
  /** Who is acting; recorded in attestations and the ledger. Default: the service's `actor`. */
  readonly actor?: string;
  /** The time of the request. Default: the service's clock. */
  readonly now?: Date;
}

/** A promotion request. */
export interface PromoteRequest extends Requester {
  readonly app: string;
  /** A version tag or a digest in the source environment. */
  readonly reference: string;
  readonly to: string;
  readonly from?: string;
  readonly dryRun?: boolean;
  /** Vulnerability reports given on the command line. */
  readonly reports?: readonly { readonly report: VulnerabilityReport; readonly source: string }[];
  /** Promote despite failing gates, for this reason (only where the environment allows overrides). */
  readonly override?: string;
}

/** Several applications promoted together. */
export interface ReleaseRequest extends Requester {
  readonly applications: readonly { readonly app: string; readonly reference: string }[];
  readonly to: string;
  readonly from?: string;
  readonly dryRun?: boolean;
}

/** The outcome of a release (stable `--json` contract). */
export interface ReleaseOutcome {
  readonly status: 'completed' | 'planned';
  readonly environment: string;
  readonly applications: readonly PromotionOutcome[];
}

/** Where an environment keeps an application. */
export interface Place {
  readonly environment: string;
  readonly repository: string;
}

/** What one application's promotion is about: the fields its plan and its outcome share. */
export interface PromotionSummary {
  readonly application: string;
  readonly version?: string;
  readonly revision?: string;
  readonly digest: Digest;
  readonly from: Place;
  readonly to: Place;
  readonly mode: 'copy' | 'tag';
  readonly tags: {
    readonly immutable: readonly string[];
    readonly floating: readonly string[];
    readonly changes: readonly TagChange[];
  };
  readonly gates: readonly RecordedGate[];
  /**
   * What the plan did not do as one might expect: a label not used as a tag because it does not
   * match its kind's pattern, a reference that is not created in the target, a move back to an
   * older version.
   */
  readonly warnings: readonly string[];
}

/** The outcome of a promotion (stable `--json` contract). */
export interface PromotionOutcome extends PromotionSummary {
  readonly status: 'completed' | 'unchanged' | 'planned';
  readonly copy?: ContentCopy;
  readonly attestation?: Digest;
}
