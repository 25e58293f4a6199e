/**
 * The two databases the runtime suites run against: PGlite in a temp data dir (from one shared
 * template) and a throw-away PostgreSQL cluster (one per test file, a fresh database per suite).
 * On PostgreSQL `second()` opens another connection pool, as a second replica would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll } from 'vitest';
import { createStoreTemplate, GENESIS_HASH, openStore, type Store } from '../../src/store/index.js';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';

/** One database. */
export interface StoreBackend {
  readonly name: 'pglite' | 'postgres';
  /** Opens the store (first start). */
  start(): Promise<Store>;
  /** Another connection pool on the same database (PostgreSQL only). */
  second(): Promise<Store>;
  /** The PostgreSQL URL, or the PGlite data dir. */
  url(): string;
  /** Closes the stores opened by `second` and removes the data. */
  stop(): Promise<void>;
}

let templateRoot: Promise<string> | undefined;
const sharedTemplate = async (): Promise<string> => {
  templateRoot ??= mkdtemp(join(tmpdir(), 'gantry-rt-template-')).then(async (dir) => {
    await createStoreTemplate(join(dir, 'template.tar.gz'));
    return dir;
  });
  return join(await templateRoot, 'template.tar.gz');
};

let cluster: Promise<PostgresCluster> | undefined;
const sharedCluster = (): Promise<PostgresCluster> => (cluster ??= startPostgres());

afterAll(async () => {
  await (await cluster)?.stop();
  if (templateRoot !== undefined) await rm(await templateRoot, { recursive: true, force: true });
}, 60_000);

let databases = 0;

/** PGlite in a temp data dir. */
export function pgliteBackend(): StoreBackend {
  let root = '';
  return {
    name: 'pglite',
    async start() {
      root = await mkdtemp(join(tmpdir(), 'gantry-rt-'));
      return openStore({ dataDir: join(root, 'data'), template: await sharedTemplate() });
    },
    second: () => Promise.reject(new Error('PGlite has one replica')),
    url: () => join(root, 'data'),
    async stop() {
      if (root !== '') await rm(root, { recursive: true, force: true });
    },
  };
}

/** A fresh database on the shared PostgreSQL cluster. */
export function postgresBackend(): StoreBackend {
  let url = '';
  const extra: Store[] = [];
  return {
    name: 'postgres',
    async start() {
      databases += 1;
      url = await (await sharedCluster()).createDatabase(`gantry_rt_${process.pid}_${databases}`);
      return openStore({ databaseUrl: url, poolSize: 8 });
    },
    async second() {
      const store = await openStore({ databaseUrl: url, poolSize: 8 });
      extra.push(store);
      return store;
    },
    url: () => url,
    async stop() {
      for (const store of extra) await store.close();
    },
  };
}

/** Empties every table and resets the ledger's head. */
export async function resetStore(store: Store): Promise<void> {
  await sql`truncate ledger, jobs, approvals, promotions, tokens, leases`.execute(store.db);
  await store.db.updateTable('ledger_head').set({ seq: 0, hash: GENESIS_HASH }).where('id', '=', 1).execute();
}
