/**
 * The embedded store's files. `<dataDir>/pgdata` is PGlite's PostgreSQL data directory; it is
 * built in `<dataDir>/.pgdata-init-*` (from a template when one is given), migrated, closed, and
 * only then renamed into place, so a crash during the first start never leaves a half-initialised
 * `pgdata` behind. The caller holds the data dir's lock (data-dir-lock.ts) throughout.
 */
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PGlite, PGliteOptions } from '@electric-sql/pglite';
import { Kysely, PGliteDialect } from 'kysely';
import { GantryError, writeFileAtomic } from '../core/index.js';
import { INT8_OID, parseInt8 } from './int8.js';
import { migrateToLatest } from './migrations.js';

/** The PostgreSQL data directory's name inside the data dir. */
export const PGDATA = 'pgdata';

const INIT_PREFIX = '.pgdata-init-';

/** Options every PGlite instance of the store is created with. */
function baseOptions(): PGliteOptions {
  return { parsers: { [INT8_OID]: parseInt8 } };
}

/** Loads PGlite lazily: the CLI commands that never open a store do not pay for it. */
async function loadPGlite(): Promise<typeof PGlite> {
  const module = await import('@electric-sql/pglite');
  return module.PGlite;
}

/** Creates the data dir (mode 0700) if needed; throws `STORE_DATA_DIR`. */
export async function ensureDataDir(dataDir: string): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const info = await stat(dataDir);
    if (!info.isDirectory()) throw new Error('not a directory');
  } catch (error) {
    throw dataDirError(`cannot create the data dir ${dataDir}`, dataDir, error);
  }
}

/** An opened embedded database. */
export interface OpenedDataDir {
  /** The PGlite instance on `<dataDir>/pgdata`. */
  readonly pglite: PGlite;
  /** Migrations applied while initialising a new data dir (none from an up-to-date template). */
  readonly migrated: readonly string[];
}

/**
 * Opens `<dataDir>/pgdata`, initialising it first when it does not exist. `template` is a
 * directory or tarball written by {@link createStoreTemplate}; without one the first start runs
 * PGlite's `initdb` (several seconds). Throws `STORE_DATA_DIR` when the directory cannot be initialised
 * or opened.
 */
export async function openPGliteDataDir(dataDir: string, template?: string): Promise<OpenedDataDir> {
  const PGliteClass = await loadPGlite();
  const pgdata = join(dataDir, PGDATA);
  const migrated = (await exists(pgdata)) ? [] : await initialise(PGliteClass, dataDir, template);
  try {
    const pglite = new PGliteClass({ ...baseOptions(), dataDir: pgdata });
    await pglite.waitReady;
    return { pglite, migrated };
  } catch (error) {
    throw dataDirError(`cannot open the embedded database in ${pgdata}`, pgdata, error);
  }
}

async function initialise(PGliteClass: typeof PGlite, dataDir: string, template?: string): Promise<string[]> {
  await removeAbandonedInits(dataDir);
  const temp = join(dataDir, `${INIT_PREFIX}${randomBytes(6).toString('hex')}`);
  try {
    let migrated: string[] = [];
    if (template !== undefined && (await stat(template)).isDirectory()) {
      // A directory template is a closed, migrated data dir: a copy is all it takes (the open
      // that follows applies any newer migration).
      await stat(join(template, 'PG_VERSION'));
      await cp(template, temp, { recursive: true, errorOnExist: true, force: false });
    } else {
      const options: PGliteOptions = { ...baseOptions(), dataDir: temp };
      if (template !== undefined) options.loadDataDir = new Blob([await readFile(template)]);
      const pglite = new PGliteClass(options);
      try {
        await pglite.waitReady;
        migrated = await migrateToLatest(new Kysely<unknown>({ dialect: new PGliteDialect({ pglite }) }));
      } finally {
        if (!pglite.closed) await pglite.close();
      }
    }
    await rename(temp, join(dataDir, PGDATA));
    return migrated;
  } catch (error) {
    await rm(temp, { recursive: true, force: true }).catch(() => undefined);
    if (error instanceof GantryError) throw error;
    const what = template === undefined ? '' : ` from the template ${template}`;
    throw dataDirError(`cannot initialise the embedded database in ${dataDir}${what}`, dataDir, error);
  }
}

/** Removes `.pgdata-init-*` left by a first start that crashed (the lock is held, so none is live). */
async function removeAbandonedInits(dataDir: string): Promise<void> {
  const names = await readdir(dataDir).catch(() => [] as string[]);
  for (const name of names) {
    if (name.startsWith(INIT_PREFIX)) await rm(join(dataDir, name), { recursive: true, force: true });
  }
}

/** Options of {@link createStoreTemplate}. */
export interface StoreTemplateOptions {
  /**
   * What to write (see docs/decisions/0009-store.md for the measured first-start times):
   * - `directory`: a closed data directory (~40 MB, ~1000 files), copied on a first start; the
   *   fastest, as nothing is unpacked and PGlite starts once.
   * - `gzip` (default): PGlite's `dumpDataDir` tarball (~4.5 MB), loaded with `loadDataDir`.
   * - `tar`: the same, uncompressed (~40 MB).
   */
  readonly format?: 'directory' | 'gzip' | 'tar';
}

/**
 * Writes a data-dir template to `path`: a freshly initialised and migrated database. A first
 * start from it copies or loads the template instead of running `initdb`. A template only fits
 * the PGlite version that wrote it, which is why PGlite is pinned exactly; build it with the
 * release. An existing `path` is replaced. Throws `STORE_DATA_DIR`.
 */
export async function createStoreTemplate(path: string, options: StoreTemplateOptions = {}): Promise<void> {
  const PGliteClass = await loadPGlite();
  const format = options.format ?? 'gzip';
  const temp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  const pglite = new PGliteClass({ ...baseOptions(), ...(format === 'directory' ? { dataDir: temp } : {}) });
  try {
    await pglite.waitReady;
    await migrateToLatest(new Kysely<unknown>({ dialect: new PGliteDialect({ pglite }) }));
    if (format === 'directory') {
      await pglite.close();
      await rm(path, { recursive: true, force: true });
      await rename(temp, path);
    } else {
      const dump = await pglite.dumpDataDir(format === 'gzip' ? 'gzip' : 'none');
      await writeFileAtomic(path, new Uint8Array(await dump.arrayBuffer()));
    }
  } catch (error) {
    await rm(temp, { recursive: true, force: true }).catch(() => undefined);
    if (error instanceof GantryError) throw error;
    throw dataDirError(`cannot write the store template ${path}`, path, error);
  } finally {
    if (!pglite.closed) await pglite.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw dataDirError(`cannot read ${path}`, path, error);
  }
}

function dataDirError(message: string, path: string, cause: unknown): GantryError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new GantryError('STORE_DATA_DIR', `${message}: ${why}`, { cause, details: { path } });
}
