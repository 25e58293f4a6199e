/** Public surface of the promotion layer. */
export type { RegistryPort, ContentCopy, CopyOptions, CopyProgress } from './ports.js';
export { PromotionService, type PromotionServiceOptions, type ApplierOptions } from './service.js';
export type { CandidateList, CandidateOptions, PromotionCandidate } from './candidates.js';
export {
  planRetention,
  type RetentionDeletion,
  type RetentionKeepReason,
  type RetentionNode,
  type RetentionPlan,
  type RetentionPolicy,
} from './retention.js';
export type {
  PromoteRequest,
  PromotionOutcome,
  ReleaseRequest,
  ReleaseOutcome,
  GateEvaluator,
  GateEvaluation,
  GateContext,
  Place,
  Requester,
} from './model.js';
export {
  PromotionStates,
  TerminalStates,
  next,
  transition,
  isTerminal,
  type PromotionState,
  type PromotionEvent,
  type PromotionEventType,
} from './states.js';
export {
  PLAN_FORMAT,
  initialProgress,
  outcomeOf,
  blockingGates,
  subjectOf,
  summary,
  type PromotionPlan,
  type PlannedPromotion,
  type PlannedTagWrite,
  type PlannedRepository,
  type PlannedManifest,
  type PromotionProgress,
  type PlainError,
} from './promotion-plan.js';
export { PromotionApplier, type ApplierContext, type StepOptions } from './apply.js';
export {
  planPromotion,
  planRelease,
  evaluatePlanned,
  type PlannerContext,
  type PlanRequester,
  type CandidateEvaluation,
} from './planner.js';
export { applicationOf, environmentOf, sourceOf } from './lookup.js';
export {
  noLedger,
  MemoryLedger,
  type LedgerPort,
  type LedgerEvent,
  type LedgerEventType,
} from './ledger-port.js';
export {
  referrerApprovals,
  MemoryApprovals,
  storedFact,
  type ApprovalSource,
  type ApprovalSubject,
  type StoredApproval,
} from './approval-source.js';
export { countedApprovals, type CountedApproval } from './gates/approval-gate.js';
export { planTags, tagsFor, type TagPlan, type TagChange, type TagConflict } from './plan.js';
export { readCandidate, readSourceCandidate, Labels, type Candidate } from './candidate.js';
export { resolveIfPresent, isUnknown } from './resolve-if-present.js';
export { hasPromotionRecord } from './promotion-record.js';
export { deriveTags, type DerivedTags } from './derive-tags.js';
export {
  assertCandidateReference,
  compareVersions,
  isRevisionTag,
  isVersionTag,
  DIGEST_PATTERN,
  REVISION_PATTERN,
} from './tag-kinds.js';
export * from './attestation.js';
export {
  historyOf,
  digestsOf,
  entriesOf,
  trustedPromotionRecords,
  checkPromotionRecord,
  UNAUTHENTICATED,
  type HistoryEntry,
  type PromotionTrust,
  type TrustedRecords,
  type IgnoredRecord,
} from './history.js';
export { trustedRegistry } from './trusted-registry.js';
export {
  stateOf,
  deployableState,
  statusMatrix,
  unreadableEnvironments,
  diffEnvironments,
  currentTag,
  type EnvironmentState,
  type StateOptions,
  type DiffRow,
} from './environment-state.js';
export { rollback, type RollbackOutcome, type RollbackContext } from './rollback.js';
export {
  verifyPromotion,
  type VerifyOutcome,
  type VerifyOptions as VerifyPromotionOptions,
  type AttestationVerdict,
} from './verify.js';
export { gatherFacts, type GatherContext, type PolicyPort } from './gates/gather.js';
export { evaluateGates } from './gates/evaluate.js';
export type { GateFacts, PolicyFact } from './gates/facts.js';
export {
  approvalArtifact,
  approverOfKey,
  checkApproval,
  normalizeIdentity,
  sameIdentity,
  APPROVAL_ARTIFACT_TYPE,
  type ApprovalPredicate,
  type KnownApprover,
} from './approval.js';
export {
  collapseFindings,
  parseVulnerabilityReport,
  type Finding,
  type VulnerabilityReport,
} from './gates/vulnerability-report.js';
export { COSIGN_SIG_ARTIFACT_TYPE } from './gates/cosign.js';
