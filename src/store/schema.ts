/**
 * The store's tables as kysely sees them. Column names are the SQL names (snake_case). `jsonb`
 * columns are written as JSON text (see {@link toJsonb}) so `pg` and PGlite store the same thing:
 * `pg` would turn a JS array into a PostgreSQL array literal. `bigint` columns read as `number` on
 * both drivers (see the int8 parser in open-store.ts).
 */
import type { ColumnType, Generated } from 'kysely';
import { canonicalJson, type JsonValue } from './canonical-json.js';

/** A `jsonb` column: read as a parsed value, written as JSON text. */
export type JsonbColumn<T extends JsonValue = JsonValue> = ColumnType<T, string, string>;

/** A nullable `jsonb` column. */
export type NullableJsonbColumn<T extends JsonValue = JsonValue> = ColumnType<
  T | null,
  string | null,
  string | null
>;

/** A `timestamptz` column the database fills by default. */
export type CreatedAtColumn = ColumnType<Date, Date | undefined, never>;

/** `promotions`: one row per promotion request, its state and its serialised plan. */
export interface PromotionsTable {
  id: string;
  app: string;
  version: string | null;
  digest: string;
  from_env: string | null;
  to_env: string;
  state: string;
  requester: string;
  plan: NullableJsonbColumn;
  error: NullableJsonbColumn;
  created_at: CreatedAtColumn;
  updated_at: ColumnType<Date, Date | undefined, Date>;
  /** `promotion` (one application) or `release` (several). */
  kind: ColumnType<'promotion' | 'release', 'promotion' | 'release' | undefined, 'promotion' | 'release'>;
  /** How far the plan was applied (`PromotionProgress`). */
  progress: NullableJsonbColumn;
  /** The requester's identity (compared with approvers). */
  requester_identity: ColumnType<string, string | undefined, string>;
  /** The applications of the plan. */
  apps: ColumnType<string[], string[] | undefined, string[]>;
  /** `app@digest` of every application of the plan. */
  subjects: ColumnType<string[], string[] | undefined, string[]>;
  /** Why it was rejected or cancelled. */
  reason: string | null;
  /** A rejection or cancellation asked for while its job was running: its runner applies it. */
  stop_request: 'cancel' | 'reject' | null;
  stop_reason: string | null;
  stop_actor: string | null;
}

/** `approvals`: one decision (approve or reject) per approver and promotion. */
export interface ApprovalsTable {
  id: Generated<number>;
  promotion_id: string;
  approver: string;
  decision: 'approved' | 'rejected';
  groups: ColumnType<string[], string[] | undefined, string[]>;
  comment: string | null;
  created_at: CreatedAtColumn;
  /** The approver's actor string (`<token name> (<token id>)`). */
  actor: string | null;
}

/** `ledger`: the hash-chained, append-only record (see ledger.ts). */
export interface LedgerTable {
  seq: number;
  time: Date;
  type: string;
  subject: string;
  actor: string;
  payload: JsonbColumn;
  prev_hash: string;
  hash: string;
}

/** `ledger_head`: exactly one row (id 1) holding the last sequence number and hash. */
export interface LedgerHeadTable {
  id: number;
  seq: number;
  hash: string;
}

/** `tokens`: API tokens, stored as a hash only. */
export interface TokensTable {
  id: string;
  name: string;
  token_hash: string;
  roles: ColumnType<string[], string[] | undefined, string[]>;
  groups: ColumnType<string[], string[] | undefined, string[]>;
  teams: ColumnType<string[], string[] | undefined, string[]>;
  expires_at: Date | null;
  revoked_at: Date | null;
  created_at: CreatedAtColumn;
}

/** `jobs`: durable work claimed with a lease and a fencing token (see jobs.ts). */
export interface JobsTable {
  id: string;
  kind: string;
  payload: JsonbColumn;
  state: 'queued' | 'running' | 'succeeded' | 'failed';
  run_at: ColumnType<Date, Date | undefined, Date>;
  attempts: ColumnType<number, number | undefined, number>;
  max_attempts: ColumnType<number, number | undefined, number>;
  lease_owner: string | null;
  lease_until: Date | null;
  fence: ColumnType<number, number | undefined, number>;
  last_error: NullableJsonbColumn;
  created_at: CreatedAtColumn;
  updated_at: ColumnType<Date, Date | undefined, Date>;
  /** A wake-up arrived while the job ran: parking it (`defer`) makes it runnable at once. */
  woken: ColumnType<boolean, boolean | undefined, boolean>;
}

/** `leases`: named leases held across replicas (see leases.ts). */
export interface LeasesTable {
  name: string;
  owner: string;
  fence: number;
  until: Date;
}

/** `webhook_deliveries`: one event for one endpoint, and where its delivery stands (webhooks.ts). */
export interface WebhookDeliveriesTable {
  /** The `webhook-id` (the same on every attempt and redelivery). */
  id: string;
  endpoint: string;
  event: string;
  subject: string;
  ledger_seq: number;
  /** The JSON body sent. */
  body: JsonbColumn;
  state: 'pending' | 'delivered' | 'dead';
  attempts: ColumnType<number, number | undefined, number>;
  last_status: number | null;
  last_error: string | null;
  created_at: CreatedAtColumn;
  updated_at: ColumnType<Date, Date | undefined, Date>;
  delivered_at: Date | null;
}

/** `webhook_attempts`: every attempt to deliver, with its answer and timing. */
export interface WebhookAttemptsTable {
  id: Generated<number>;
  delivery_id: string;
  started_at: Date;
  duration_ms: number;
  /** The HTTP status, or null when no answer came. */
  status: number | null;
  error: string | null;
  outcome: 'delivered' | 'retry' | 'dead';
}

/** `registry_polls`: the digest each tag had when the registry poller last listed it (see registry-polls.ts). */
export interface RegistryPollsTable {
  environment: string;
  app: string;
  tag: string;
  digest: string;
  seen_at: Date;
}

/** `deployments`: what deploy tooling reported running, per environment, application and target. */
export interface DeploymentsTable {
  id: Generated<number>;
  environment: string;
  app: string;
  target: string;
  digest: string;
  reported_by: string;
  reported_at: Date;
}

/** `candidates`: images seen in an environment's repository (see candidates.ts). */
export interface CandidatesTable {
  id: Generated<number>;
  app: string;
  environment: string;
  digest: string;
  tag: string | null;
  source: string;
  seen_at: Date;
  reported_by: string;
  created_at: CreatedAtColumn;
}

/** `holds`: auto-promotion held for an application in an environment (after a rollback). */
export interface HoldsTable {
  id: Generated<number>;
  app: string;
  environment: string;
  reason: string;
  actor: string;
  created_at: Date;
  released_at: Date | null;
  released_by: string | null;
}

/** `lifecycle_runs`: gc and sync runs of `gantry serve`, scheduled or asked for (lifecycle-runs.ts). */
export interface LifecycleRunsTable {
  id: string;
  kind: 'gc' | 'sync';
  /** The environment (gc) or the sync job. */
  name: string;
  trigger: 'schedule' | 'api';
  /** The cron slot a scheduled run is for; null for API runs. */
  scheduled_for: Date | null;
  dry_run: ColumnType<boolean, boolean | undefined, boolean>;
  requested_by: string;
  /** The `lifecycle` job that runs it. */
  job_id: string;
  state: 'queued' | 'running' | 'succeeded' | 'failed';
  started_at: Date | null;
  finished_at: Date | null;
  /** The LifecycleReport. */
  report: NullableJsonbColumn;
  error: NullableJsonbColumn;
  created_at: CreatedAtColumn;
}

/** Every table of the store, for `Kysely<StoreDatabase>`. */
export interface StoreDatabase {
  promotions: PromotionsTable;
  approvals: ApprovalsTable;
  ledger: LedgerTable;
  ledger_head: LedgerHeadTable;
  tokens: TokensTable;
  jobs: JobsTable;
  leases: LeasesTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  registry_polls: RegistryPollsTable;
  deployments: DeploymentsTable;
  candidates: CandidatesTable;
  holds: HoldsTable;
  lifecycle_runs: LifecycleRunsTable;
}

/** JSON text for a `jsonb` column (canonical, so equal values are stored as equal text). */
export function toJsonb(value: JsonValue): string {
  return canonicalJson(value);
}
