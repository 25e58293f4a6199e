/**
 * Opening the store: PGlite in a data dir (the embedded default, one process) or PostgreSQL at a
 * URL (production, any number of replicas). Both speak the same SQL through one kysely instance;
 * the schema is migrated on open.
 */
import { Kysely, PGliteDialect, PostgresDialect } from 'kysely';
import { GantryError } from '../core/index.js';
import { ensureDataDir, openPGliteDataDir } from './pglite-data-dir.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import { INT8_OID, parseInt8 } from './int8.js';
import { migrateToLatest } from './migrations.js';
import type { StoreDatabase } from './schema.js';

/** Options for the embedded store. */
export interface EmbeddedStoreOptions {
  /** Directory holding the database (`pgdata/`) and the lock file; created when missing. */
  readonly dataDir: string;
  /**
   * A template (directory or tarball) written by `createStoreTemplate`, used when the data dir
   * is new: a first start copies or loads it instead of running PGlite's `initdb`. Default: none.
   */
  readonly template?: string;
}

/** Options for a PostgreSQL store. */
export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (the password is never printed). */
  readonly databaseUrl: string;
  /** Most connections this process opens. Default 10. */
  readonly poolSize?: number;
}

/** Where the store lives: exactly one of `dataDir` or `databaseUrl`. */
export type StoreOptions = EmbeddedStoreOptions | PostgresStoreOptions;

/** An open store. */
export interface Store {
  /** The query builder. Run registry I/O outside its transactions (see docs/decisions/0009-store.md). */
  readonly db: Kysely<StoreDatabase>;
  /** `pglite` (embedded, one process) or `postgres` (shared by replicas). */
  readonly kind: 'pglite' | 'postgres';
  /** Migrations this open applied (empty when the schema was current). */
  readonly migrated: readonly string[];
  /** Closes the connections and releases the data dir. Idempotent. */
  close(): Promise<void>;
}

/**
 * Opens (and migrates) the store. Throws `STORE_LOCKED` when another process holds the data dir,
 * `STORE_DATA_DIR` when it cannot be created or opened, `STORE_UNREACHABLE` when PostgreSQL
 * cannot be reached, and `STORE_MIGRATION_FAILED`.
 */
export async function openStore(options: StoreOptions): Promise<Store> {
  if ('databaseUrl' in options) return openPostgres(options);
  return openEmbedded(options);
}

async function openEmbedded(options: EmbeddedStoreOptions): Promise<Store> {
  await ensureDataDir(options.dataDir);
  const lock = await lockDataDir(options.dataDir);
  let opened: Awaited<ReturnType<typeof openPGliteDataDir>> | undefined;
  try {
    opened = await openPGliteDataDir(options.dataDir, options.template);
    const db = new Kysely<StoreDatabase>({ dialect: new PGliteDialect({ pglite: opened.pglite }) });
    const migrated = [...opened.migrated, ...(await migrateToLatest(db as Kysely<unknown>))];
    return makeStore(db, 'pglite', migrated, lock);
  } catch (error) {
    if (opened !== undefined && !opened.pglite.closed) await opened.pglite.close().catch(() => undefined);
    await lock.release();
    throw error;
  }
}

async function openPostgres(options: PostgresStoreOptions): Promise<Store> {
  const where = redactDatabaseUrl(options.databaseUrl);
  const { default: pg } = await import('pg');
  const textParser = pg.types.getTypeParser.bind(pg.types) as (
    oid: number,
    format: 'text',
  ) => (value: string) => unknown;
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: options.poolSize ?? 10,
    // Only text-format results are requested, so one parser per type OID suffices.
    types: {
      getTypeParser: ((oid: number) =>
        oid === INT8_OID ? parseInt8 : textParser(oid, 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client's connection error would otherwise be an unhandled 'error' event, and so would
  // that of a client checked out between two queries (e.g. inside a transaction) when PostgreSQL
  // crashes or restarts: an uncaught exception that ended `gantry serve`. Its next query fails
  // instead, and the pool discards it.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<StoreDatabase>({ dialect: new PostgresDialect({ pool }) });
  try {
    await pool.query('select 1');
  } catch (error) {
    await db.destroy().catch(() => undefined);
    throw unreachable(where, error);
  }
  try {
    const migrated = await migrateToLatest(db as Kysely<unknown>);
    return makeStore(db, 'postgres', migrated);
  } catch (error) {
    await db.destroy().catch(() => undefined);
    throw error;
  }
}

function makeStore(
  db: Kysely<StoreDatabase>,
  kind: Store['kind'],
  migrated: readonly string[],
  lock?: DataDirLock,
): Store {
  let closing: Promise<void> | undefined;
  return Object.freeze({
    db,
    kind,
    migrated: Object.freeze([...migrated]),
    close: () => {
      closing ??= (async () => {
        try {
          await db.destroy();
        } finally {
          await lock?.release();
        }
      })();
      return closing;
    },
  });
}

/** The URL without its password (and without query parameters, which may hold one). */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    parsed.search = '';
    return parsed.toString();
  } catch {
    return '(an unparsable database URL)';
  }
}

function unreachable(where: string, cause: unknown): GantryError {
  const err = cause as { code?: unknown; message?: unknown };
  const code = typeof err.code === 'string' ? err.code : undefined;
  const reason =
    code === '28P01' || code === '28000'
      ? 'authentication failed'
      : code === '3D000'
        ? 'the database does not exist'
        : typeof err.message === 'string' && err.message !== ''
          ? err.message
          : (code ?? 'connection failed');
  return new GantryError('STORE_UNREACHABLE', `cannot connect to PostgreSQL at ${where}: ${reason}`, {
    cause,
    details: { url: where, ...(code === undefined ? {} : { reason: code }) },
  });
}
