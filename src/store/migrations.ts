/**
 * The schema, as kysely migrations held in code (not files read at run time, so the bundled CLI
 * carries them). Each migration runs in its own transaction; on PostgreSQL kysely also takes an
 * advisory lock, so replicas starting together migrate once. Names sort in the order they apply;
 * a migration, once released, is never edited — a change is a new migration.
 */
import { sql, type Kysely } from 'kysely';
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration';
import { GantryError } from '../core/index.js';

/** The genesis "previous hash" of the ledger chain: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

const initial: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('promotions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('app', 'text', (c) => c.notNull())
      .addColumn('version', 'text')
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('from_env', 'text')
      .addColumn('to_env', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('requester', 'text', (c) => c.notNull())
      .addColumn('plan', 'jsonb')
      .addColumn('error', 'jsonb')
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();
    await db.schema
      .createIndex('promotions_app_env_state')
      .on('promotions')
      .columns(['app', 'to_env', 'state'])
      .execute();

    await db.schema
      .createTable('approvals')
      .addColumn('id', 'bigserial', (c) => c.primaryKey())
      .addColumn('promotion_id', 'text', (c) => c.notNull().references('promotions.id').onDelete('cascade'))
      .addColumn('approver', 'text', (c) => c.notNull())
      .addColumn('decision', 'text', (c) => c.notNull().check(sql`decision in ('approved', 'rejected')`))
      .addColumn('groups', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
      .addColumn('comment', 'text')
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addUniqueConstraint('approvals_one_per_approver', ['promotion_id', 'approver'])
      .execute();

    // The ledger's seq is assigned under the head row's lock (ledger.ts), not by a sequence:
    // a rolled-back append leaves no gap, so a missing number always means a removed entry.
    await db.schema
      .createTable('ledger')
      .addColumn('seq', 'bigint', (c) => c.primaryKey().check(sql`seq > 0`))
      .addColumn('time', 'timestamptz', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('payload', 'jsonb', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull().unique())
      .execute();
    await db.schema.createIndex('ledger_subject').on('ledger').columns(['subject', 'seq']).execute();
    await db.schema
      .createTable('ledger_head')
      .addColumn('id', 'smallint', (c) => c.primaryKey().check(sql`id = 1`))
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await sql`insert into ledger_head (id, seq, hash) values (1, 0, ${GENESIS_HASH})`.execute(db);

    await db.schema
      .createTable('tokens')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('roles', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
      .addColumn('groups', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
      .addColumn('teams', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
      .addColumn('expires_at', 'timestamptz')
      .addColumn('revoked_at', 'timestamptz')
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();

    await db.schema
      .createTable('jobs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('payload', 'jsonb', (c) => c.notNull())
      .addColumn('state', 'text', (c) =>
        c.notNull().check(sql`state in ('queued', 'running', 'succeeded', 'failed')`),
      )
      .addColumn('run_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('max_attempts', 'integer', (c) => c.notNull().defaultTo(5))
      .addColumn('lease_owner', 'text')
      .addColumn('lease_until', 'timestamptz')
      .addColumn('fence', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('last_error', 'jsonb')
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();
    // The claim query scans runnable jobs in run_at order, and expired leases.
    await db.schema.createIndex('jobs_runnable').on('jobs').columns(['state', 'run_at']).execute();
  },
};

/**
 * The promotion runtime (docs/decisions/0013-durable-jobs.md): a promotion's kind, progress and
 * the request to stop it; who asked (the identity self-approval is checked against); the
 * applications and `app@digest` pairs it covers (filters, and which stored approvals count); the
 * actor of API decisions; a job's pending wake-up; and named leases held across replicas.
 */
const runtime: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('promotions')
      .addColumn('kind', 'text', (c) =>
        c
          .notNull()
          .defaultTo('promotion')
          .check(sql`kind in ('promotion', 'release')`),
      )
      .addColumn('progress', 'jsonb')
      .addColumn('requester_identity', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('apps', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
      .addColumn('subjects', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
      .addColumn('reason', 'text')
      .addColumn('stop_request', 'text', (c) => c.check(sql`stop_request in ('cancel', 'reject')`))
      .addColumn('stop_reason', 'text')
      .addColumn('stop_actor', 'text')
      .execute();
    await db.schema
      .createIndex('promotions_newest')
      .on('promotions')
      .columns(['created_at desc', 'id desc'])
      .execute();
    await db.schema
      .createIndex('promotions_subjects')
      .on('promotions')
      .using('gin')
      .column('subjects')
      .execute();
    await db.schema.alterTable('approvals').addColumn('actor', 'text').execute();
    await db.schema
      .alterTable('jobs')
      .addColumn('woken', 'boolean', (c) => c.notNull().defaultTo(false))
      .execute();
    await db.schema
      .createTable('leases')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('owner', 'text', (c) => c.notNull())
      .addColumn('fence', 'bigint', (c) => c.notNull())
      .addColumn('until', 'timestamptz', (c) => c.notNull())
      .execute();
  },
};

/**
 * Outbound webhooks (docs/decisions/0015-webhooks.md): one delivery per event and endpoint,
 * written in the ledger entry's transaction (the outbox), and every attempt to deliver it.
 */
const webhooks: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('webhook_deliveries')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('endpoint', 'text', (c) => c.notNull())
      .addColumn('event', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('ledger_seq', 'bigint', (c) => c.notNull())
      .addColumn('body', 'jsonb', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('pending', 'delivered', 'dead')`))
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('last_status', 'integer')
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('delivered_at', 'timestamptz')
      .execute();
    await db.schema
      .createIndex('webhook_deliveries_newest')
      .on('webhook_deliveries')
      .columns(['created_at desc', 'id desc'])
      .execute();
    await db.schema
      .createTable('webhook_attempts')
      .addColumn('id', 'bigserial', (c) => c.primaryKey())
      .addColumn('delivery_id', 'text', (c) =>
        c.notNull().references('webhook_deliveries.id').onDelete('cascade'),
      )
      .addColumn('started_at', 'timestamptz', (c) => c.notNull())
      .addColumn('duration_ms', 'integer', (c) => c.notNull())
      .addColumn('status', 'integer')
      .addColumn('error', 'text')
      .addColumn('outcome', 'text', (c) => c.notNull().check(sql`outcome in ('delivered', 'retry', 'dead')`))
      .execute();
    await db.schema
      .createIndex('webhook_attempts_delivery')
      .on('webhook_attempts')
      .columns(['delivery_id', 'id'])
      .execute();
  },
};

/** What the registry poller saw last, so a restart or another replica does not report every tag again. */
const registryPolls: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('registry_polls')
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('app', 'text', (c) => c.notNull())
      .addColumn('tag', 'text', (c) => c.notNull())
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('seen_at', 'timestamptz', (c) => c.notNull())
      .addPrimaryKeyConstraint('registry_polls_pk', ['environment', 'app', 'tag'])
      .execute();
  },
};

/**
 * What runs where (docs/server.md, "What runs where"): one row per deployment report, kept as
 * history; the current deployment of a target is its newest row. The index serves both the
 * "current per target" query (`distinct on`) and a target's history.
 */
const deployments: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('deployments')
      .addColumn('id', 'bigserial', (c) => c.primaryKey())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('app', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('reported_by', 'text', (c) => c.notNull())
      .addColumn('reported_at', 'timestamptz', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('deployments_env_app_target')
      .on('deployments')
      .columns(['environment', 'app', 'target', 'reported_at desc', 'id desc'])
      .execute();
  },
};

/**
 * Auto-promotion (issue 12): candidates seen in an environment's repository (one per
 * application, environment and digest), and holds on auto-promotion after a rollback (at most one
 * active per application and environment).
 */
const candidates: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('candidates')
      .addColumn('id', 'bigserial', (c) => c.primaryKey())
      .addColumn('app', 'text', (c) => c.notNull())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('tag', 'text')
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('seen_at', 'timestamptz', (c) => c.notNull())
      .addColumn('reported_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addUniqueConstraint('candidates_one_per_digest', ['app', 'environment', 'digest'])
      .execute();
    await db.schema
      .createTable('holds')
      .addColumn('id', 'bigserial', (c) => c.primaryKey())
      .addColumn('app', 'text', (c) => c.notNull())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull())
      .addColumn('released_at', 'timestamptz')
      .addColumn('released_by', 'text')
      .execute();
    await db.schema
      .createIndex('holds_one_active')
      .on('holds')
      .columns(['app', 'environment'])
      .unique()
      .where(sql.ref('released_at'), 'is', null)
      .execute();
  },
};

/**
 * 0007: the dashboard's event stream polls `promotions` for rows changed since its last look
 * (`Promotions.changedSince`, every second while anyone watches): an index keeps that a range scan
 * as the table grows.
 */
const promotionsUpdated: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createIndex('promotions_updated')
      .on('promotions')
      .columns(['updated_at', 'id'])
      .execute();
  },
};

/**
 * 0008: lifecycle runs (issue 14): each gc or sync run `gantry serve` starts, on a schedule or
 * through the API, with its outcome. A scheduled slot is unique per (kind, name, scheduled_for), so
 * replicas ticking at once create it once; API runs have no slot (NULLs never conflict).
 */
const lifecycleRuns: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('lifecycle_runs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('gc', 'sync')`))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('trigger', 'text', (c) => c.notNull().check(sql`trigger in ('schedule', 'api')`))
      .addColumn('scheduled_for', 'timestamptz')
      .addColumn('dry_run', 'boolean', (c) => c.notNull().defaultTo(false))
      .addColumn('requested_by', 'text', (c) => c.notNull())
      .addColumn('job_id', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) =>
        c.notNull().check(sql`state in ('queued', 'running', 'succeeded', 'failed')`),
      )
      .addColumn('started_at', 'timestamptz')
      .addColumn('finished_at', 'timestamptz')
      .addColumn('report', 'jsonb')
      .addColumn('error', 'jsonb')
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addUniqueConstraint('lifecycle_runs_one_per_slot', ['kind', 'name', 'scheduled_for'])
      .execute();
    await db.schema
      .createIndex('lifecycle_runs_newest')
      .on('lifecycle_runs')
      .columns(['kind', 'name', 'created_at'])
      .execute();
  },
};

/** Every migration, by name. Append new ones; never edit or reorder released ones. */
export const migrations: Readonly<Record<string, Migration>> = Object.freeze({
  '0001_initial': initial,
  '0002_runtime': runtime,
  '0004_webhooks': webhooks,
  '0005_deployments': deployments,
  '0006_registry_polls': registryPolls,
  '0003_candidates': candidates,
  '0007_promotions_updated': promotionsUpdated,
  '0008_lifecycle_runs': lifecycleRuns,
});

/** Serves {@link migrations} to kysely's `Migrator` without reading files. */
export const codeMigrationProvider: MigrationProvider = Object.freeze({
  getMigrations: () => Promise.resolve({ ...migrations }),
});

/**
 * Brings the schema to the latest migration and returns the names applied now (empty when the
 * schema was current). Throws `STORE_MIGRATION_FAILED`; the failing migration is rolled back.
 */
export async function migrateToLatest(db: Kysely<unknown>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: codeMigrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    const why = error instanceof Error ? error.message : 'unknown error';
    throw new GantryError('STORE_MIGRATION_FAILED', `store migration ${failed ?? '(none)'} failed: ${why}`, {
      cause: error,
      details: failed === undefined ? {} : { migration: failed },
    });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
