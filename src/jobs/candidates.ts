/**
 * Candidates: images that arrived in an environment's repository (a registry notification, a
 * poll of its tags, a generic push event) and may be promoted onward. The inbound side (registry
 * notifications, polling) registers what it saw through {@link CandidateSink}; the auto-promotion
 * side stores each candidate and, for environments with `auto: true` fed by that environment,
 * requests the promotion (superseding older queued ones, respecting holds after rollbacks).
 */

/** An image seen in an environment's repository. */
export interface NewCandidate {
  readonly app: string;
  /** The environment whose repository received the image. */
  readonly environment: string;
  readonly digest: string;
  /** The tag pushed, when known. */
  readonly tag?: string;
  /** Where the news came from: `notification:distribution`, `notification:harbor`, `notification:generic`, `poll`. */
  readonly source: string;
  /** When the registry says it happened (ISO 8601), else when Gantry saw it. */
  readonly seenAt: string;
  /** Who reported it (the token's actor, or `registry <host>` for HMAC-authenticated notifications). */
  readonly reportedBy: string;
}

/** Where the inbound side puts candidates. Idempotent: the same app, environment and digest twice is one candidate. */
export interface CandidateSink {
  /** Registers `candidate`; resolves once it is stored (and any auto-promotion requested). */
  register(candidate: NewCandidate): Promise<{ readonly registered: boolean }>;
}
