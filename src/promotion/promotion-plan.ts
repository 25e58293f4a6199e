/**
 * A promotion plan and its progress as plain JSON (docs/decisions/0010-promotion-state-machine.md):
 * what `plan()` found out — digests, repositories, the tag writes in their undoable order with the
 * digests they replace, gate results with reasons, warnings — and how far applying it got. No
 * Buffer, RegExp, Map or class instance: `JSON.parse(JSON.stringify(plan))` is the same plan, so
 * a job runner can store both after every step and resume from them.
 */
import type { Digest } from '../core/index.js';
import type { RecordedGate } from './attestation.js';
import type { CountedApproval } from './gates/approval-gate.js';
import type { VulnerabilityReport } from './gates/vulnerability-report.js';
import type { PromotionOutcome, PromotionSummary } from './model.js';
import type { ContentCopy } from './ports.js';
import type { PromotionState } from './states.js';

/** The format tag of a {@link PromotionPlan}. */
export const PLAN_FORMAT = 'gantry.promotion-plan/v1';

/** A repository in a registry (the JSON shape of `Repository`). */
export interface PlannedRepository {
  readonly registry: string;
  readonly repository: string;
}

/** The candidate's manifest, by descriptor (its bytes are read again when tags are written). */
export interface PlannedManifest {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
}

/** One application of a plan. */
export interface PlannedPromotion extends PromotionSummary {
  readonly source: PlannedRepository;
  readonly target: PlannedRepository;
  readonly manifest: PlannedManifest;
  /** Approvals that counted when planned (gates, too, are as planned; applying re-evaluates them while approvals are awaited). */
  readonly approvals: readonly CountedApproval[];
  /**
   * The target already holds the digest with a promotion record for the environment, and every
   * tag is in place: applying copies, tags and attests nothing for it.
   */
  readonly unchanged: boolean;
  /** What the copy would transfer (dry runs only). */
  readonly copyEstimate?: ContentCopy;
}

/** A tag write: `applications[app]`'s digest under `tag`, replacing `previous` (absent: a new tag). */
export interface PlannedTagWrite {
  readonly app: number;
  readonly tag: string;
  readonly immutable: boolean;
  readonly previous?: Digest;
}

/** Everything a promotion (one application) or release (several) will do, decided up front. */
export interface PromotionPlan {
  readonly format: typeof PLAN_FORMAT;
  readonly kind: 'promotion' | 'release';
  /** The target environment. */
  readonly environment: string;
  /** The source environment. */
  readonly from: string;
  readonly requestedBy: string;
  /** ISO 8601. */
  readonly requestedAt: string;
  /** Failing gates overridden, with the reason. */
  readonly override?: { readonly reason: string };
  /** Vulnerability reports given with the request (gates are re-evaluated with them). */
  readonly reports: readonly { readonly report: VulnerabilityReport; readonly source: string }[];
  readonly applications: readonly PlannedPromotion[];
  /** Every tag write of every application, in the undoable order (moves, new immutable, new floating). */
  readonly tagWrites: readonly PlannedTagWrite[];
}

/** A failure, as plain JSON. */
export interface PlainError {
  readonly code: string;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** How far a plan has been applied: plain JSON, stored by a job runner after every step. */
export interface PromotionProgress {
  readonly state: PromotionState;
  /** The latest gate results, per application. */
  readonly gates: readonly (readonly RecordedGate[])[];
  /** The approvals that counted at the latest evaluation, per application. */
  readonly approvals: readonly (readonly CountedApproval[])[];
  /** The copy's outcome of each application copied so far, in plan order (`null`: nothing to copy). */
  readonly copies: readonly (ContentCopy | null)[];
  /** True once every target resolves its digest. */
  readonly verified: boolean;
  /** When the content was verified, ISO 8601: the time in every promotion record of the plan. */
  readonly publishedAt?: string;
  /** How many of `plan.tagWrites` are written. */
  readonly tagsWritten: number;
  /** The promotion record of each application attested so far, in plan order (`null`: none needed). */
  readonly attestations: readonly (Digest | null)[];
  /** Why it was rejected or cancelled. */
  readonly reason?: string;
  /** Why it failed. */
  readonly error?: PlainError;
}

/** The progress of a plan nothing has been done for yet. */
export function initialProgress(plan: PromotionPlan): PromotionProgress {
  return {
    state: 'requested',
    gates: plan.applications.map((a) => a.gates),
    approvals: plan.applications.map((a) => a.approvals),
    copies: [],
    verified: false,
    tagsWritten: 0,
    attestations: [],
  };
}

/** The `--json` outcome of one application of a plan, as far as `progress` got. */
export function outcomeOf(
  plan: PromotionPlan,
  index: number,
  status: PromotionOutcome['status'],
  progress?: PromotionProgress,
): PromotionOutcome {
  const a = plan.applications[index] as PlannedPromotion;
  const copy = progress ? progress.copies[index] : a.copyEstimate;
  const attestation = progress?.attestations[index];
  // Key order as before the plan existed (the --json output).
  return {
    application: a.application,
    ...(a.version !== undefined && { version: a.version }),
    ...(a.revision !== undefined && { revision: a.revision }),
    digest: a.digest,
    from: a.from,
    to: a.to,
    mode: a.mode,
    tags: a.tags,
    gates: progress?.gates[index] ?? a.gates,
    warnings: a.warnings,
    status,
    ...(copy && { copy }),
    ...(attestation && { attestation }),
  };
}

/** Gates that block: failing or pending (an overridden gate does not). */
export function blockingGates(gates: readonly RecordedGate[]): RecordedGate[] {
  return gates.filter((g) => g.status === 'fail' || g.status === 'pending');
}

/** What ledger events are about by default: `prod: web@sha256:…, api@sha256:…`. */
export function subjectOf(plan: PromotionPlan): string {
  return `${plan.environment}: ${plan.applications.map((a) => `${a.application}@${a.digest}`).join(', ')}`;
}

/** The blocking gates of a plan, one line (the `PROMOTION_GATES_FAILED` message). */
export function summary(
  plan: PromotionPlan,
  gates: readonly (readonly { gate: string; status: string; reasons: readonly string[] }[])[],
): string {
  return plan.applications
    .flatMap((a, i) =>
      (gates[i] ?? [])
        .filter((g) => g.status === 'fail' || g.status === 'pending')
        .map(
          (g) => `${a.application} ${a.version ?? a.digest}: ${g.gate} (${g.reasons.join('; ') || g.status})`,
        ),
    )
    .join(', ');
}
