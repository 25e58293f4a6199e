/**
 * Public surface of the store layer: one PostgreSQL schema reached through kysely, on PGlite
 * (embedded, one process) or PostgreSQL (replicas); the hash-chained ledger; the job queue.
 */
export { openStore, redactDatabaseUrl } from './open-store.js';
export { isStoreUnavailable } from './unavailable.js';
export type { Store, StoreOptions, EmbeddedStoreOptions, PostgresStoreOptions } from './open-store.js';
export { createStoreTemplate } from './pglite-data-dir.js';
export type { StoreTemplateOptions } from './pglite-data-dir.js';
export { LOCK_FILE } from './data-dir-lock.js';
export { migrateToLatest, migrations } from './migrations.js';
export type * from './schema.js';
export { toJsonb } from './schema.js';
export { canonicalJson } from './canonical-json.js';
export type { JsonValue, JsonObject } from './canonical-json.js';
export { Ledger } from './ledger.js';
export type { NewLedgerEntry, LedgerEntriesOptions, LedgerReadOptions, LedgerAppendHook } from './ledger.js';
export {
  GENESIS_HASH,
  hashLedgerEntry,
  LedgerChainVerifier,
  ledgerEntryToLine,
  verifyLedgerLines,
} from './ledger-chain.js';
export type { LedgerEntry, LedgerFault, LedgerVerification } from './ledger-chain.js';
export { JobQueue } from './jobs.js';
export type { ClaimedJob, ClaimOptions, FailOptions, JobRow, NewJob } from './jobs.js';
export { Tokens, TOKEN_PREFIX, TOKEN_PATTERN, generateToken, hashToken } from './tokens.js';
export type {
  Authentication,
  CreatedToken,
  NewToken,
  TokenAudit,
  TokenInfo,
  TokenRefusal,
} from './tokens.js';
export { LeaseHolder, Leases, MemoryLeases, sleep } from './leases.js';
export { RegistryPolls } from './registry-polls.js';
export type { HeldLease, WithLeaseOptions } from './leases.js';
export { Promotions } from './promotions.js';
export type {
  DecisionRow,
  NewDecision,
  NewPromotion,
  PromotionQuery,
  PromotionRow,
  PromotionUpdate,
  StoredDecision,
} from './promotions.js';
export { WebhookDeliveries } from './webhooks.js';
export type {
  NewDelivery,
  DeliveryRow,
  AttemptRow,
  NewAttempt,
  DeliveryQuery,
  DeliveryWithAttempts,
} from './webhooks.js';
export { Deployments, deploymentSubject } from './deployments.js';
export type { CurrentDeployment, Deployment, DeploymentQuery, NewDeployment } from './deployments.js';
export { Candidates } from './candidates.js';
export type { CandidateRow, HoldQuery, HoldRow, NewCandidateRow, NewHold } from './candidates.js';
export { LifecycleRuns, newLifecycleRunId } from './lifecycle-runs.js';
export type {
  LifecycleRunOutcome,
  LifecycleRunQuery,
  LifecycleRunRow,
  NewLifecycleRun,
} from './lifecycle-runs.js';
