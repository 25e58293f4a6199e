/**
 * The facts every gate is a pure function of, gathered once per promotion (gather.ts) before any
 * gate runs, so `gantry plan` and `gantry promote` judge the same evidence.
 */
import type { Digest } from '../../core/index.js';
import type { VulnerabilityReport } from './vulnerability-report.js';

/** A referrer of the candidate (signature, SBOM, report, evidence…). */
export interface ReferrerFact {
  readonly digest: Digest;
  readonly artifactType?: string;
  readonly annotations: Readonly<Record<string, string>>;
}

/** A recorded promotion of the candidate digest into some environment. */
export interface PromotionFact {
  readonly environment: string;
  readonly time: string;
  readonly kind: 'promotion' | 'rollback';
}

/** A promotion record that does not count (unsigned, signed by an unknown key, about something else). */
export interface IgnoredPromotionFact {
  readonly environment: string;
  readonly attestation: Digest;
  readonly reason: string;
}

/** An approval whose signature was checked against the configured approvers' keys. */
export interface ApprovalFact {
  /** The configured approver whose key verified the signature; undefined when none did. */
  readonly approver?: string;
  readonly groups: readonly string[];
  readonly environment: string;
  readonly digest: Digest;
  readonly time: string;
  /** Why it does not count, when it does not (bad signature, other digest…). */
  readonly problem?: string;
  readonly source: string;
}

/** A cosign signature found for the candidate. */
export interface SignatureFact {
  readonly source: string;
  readonly payload: Buffer;
  readonly signatureB64: string;
}

/** What an external policy service answered. */
export type PolicyFact =
  { readonly allow: boolean; readonly reasons: readonly string[] } | { readonly error: string };

/** Everything gates may look at. */
export interface GateFacts {
  readonly application: string;
  readonly environment: string;
  readonly from: string;
  readonly digest: Digest;
  readonly version?: string;
  /** Who asked for the promotion: never counts as an approver. */
  readonly requester: string;
  readonly now: Date;
  /** Image config labels merged with manifest annotations. */
  readonly labels: Readonly<Record<string, string>>;
  readonly referrers: readonly ReferrerFact[];
  /** Promotions of this digest that count, per environment named by previous-env / soak gates. */
  readonly promotions: readonly PromotionFact[];
  /** Promotion records found that do not count, and why. */
  readonly ignoredPromotions?: readonly IgnoredPromotionFact[];
  /**
   * True when an attestation key is configured and `promotions` holds only signed records; false
   * when the history is unauthenticated (anyone who can push to a repository can write a record).
   */
  readonly historyAuthenticated?: boolean;
  readonly vulnerabilityReports: readonly { readonly report: VulnerabilityReport; readonly source: string }[];
  /** Attached artifacts that looked like scan results but could not be read as one, and why. */
  readonly unreadableReports?: readonly { readonly source: string; readonly reason: string }[];
  /** Reports that are not about the candidate (another digest, or a `--report` naming none), and why. */
  readonly refusedReports?: readonly { readonly source: string; readonly reason: string }[];
  readonly signatures: readonly SignatureFact[];
  /** Public keys of signature gates, in gate order. */
  readonly signatureKeys: readonly (readonly { readonly name: string; readonly pem: string }[])[];
  readonly approvals: readonly ApprovalFact[];
  /** Answers of policy gates, in gate order. */
  readonly policies: readonly PolicyFact[];
}
