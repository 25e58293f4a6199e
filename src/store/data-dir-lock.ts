/**
 * One process per embedded data dir. PGlite takes no lock of its own, and two processes writing
 * one data dir corrupt it, so the store holds `<dataDir>/gantry.lock`: created exclusively, holding
 * the owner's pid. A lock whose pid no longer runs is stale and is taken over (as PostgreSQL does
 * with `postmaster.pid`). No native addon: `link` (atomic, never overwrites), `rename` and `kill(pid, 0)` suffice.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { GantryError } from '../core/index.js';

/** The lock file's name inside the data dir. */
export const LOCK_FILE = 'gantry.lock';

/** What a lock file holds (JSON). */
export interface LockOwner {
  /** Process id of the holder. */
  readonly pid: number;
  /** Host name of the holder (informational: liveness is checked by pid, as PostgreSQL does). */
  readonly host: string;
  /** When the lock was taken (ISO 8601). */
  readonly since: string;
}

/** A held lock; `release()` removes the file if it is still ours. */
export interface DataDirLock {
  /** The lock file. */
  readonly path: string;
  /** Removes the lock file (idempotent). */
  release(): Promise<void>;
}

/** Lock files this process holds, so a second open in the same process is refused too. */
const heldHere = new Set<string>();

/**
 * Takes the lock on `dir` (which must exist) or throws `STORE_LOCKED` naming the holder's pid and
 * the lock file. A lock left by a dead process, or by an earlier life of this very pid (a restarted
 * container is often pid 1 again), is taken over.
 */
export async function lockDataDir(dir: string): Promise<DataDirLock> {
  const path = join(dir, LOCK_FILE);
  if (heldHere.has(path)) throw lockedError(path, process.pid);
  const mine: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  const content = `${JSON.stringify(mine)}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await createExclusive(path, content)) {
      heldHere.add(path);
      return { path, release: () => releaseLock(path, content) };
    }
    const existing = await readLock(path);
    if (existing === undefined) continue; // removed meanwhile: try again
    if (isAlive(existing.owner.pid) && existing.owner.pid !== process.pid) {
      throw lockedError(path, existing.owner.pid);
    }
    await removeStale(path, existing.text);
  }
  throw lockedError(path, undefined);
}

/**
 * Creates `path` holding `content`, or returns false when it exists. The content is written to a
 * temporary file first and hard-linked into place (`link` never overwrites), so nobody ever sees
 * an empty or half-written lock file.
 */
async function createExclusive(path: string, content: string): Promise<boolean> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw dataDirError(path, error);
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function readLock(path: string): Promise<{ text: string; owner: LockOwner } | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw dataDirError(path, error);
  }
  const owner = parseOwner(text);
  // Lock files appear complete (see createExclusive): one that is garbled was not written by
  // Gantry, or the disk lost it; it names no live process, so it is stale.
  return { text, owner: owner ?? { pid: 0, host: '', since: '' } };
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    return typeof value.pid === 'number' && Number.isInteger(value.pid) && value.pid > 0
      ? { pid: value.pid, host: String(value.host ?? ''), since: String(value.since ?? '') }
      : undefined;
  } catch {
    return undefined;
  }
}

/** True when a process with this pid exists (EPERM: it exists but belongs to someone else). */
function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes a stale lock without removing a fresh one another process created meanwhile: the file
 * is first renamed aside (atomic), then compared with what was judged stale. If it is not that
 * file, it is put back with `link` (which never overwrites) and the caller tries again.
 */
async function removeStale(path: string, staleText: string): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${Date.now()}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw dataDirError(path, error);
  }
  const moved = await readFile(aside, 'utf8').catch(() => undefined);
  if (moved !== staleText) await link(aside, path).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

async function releaseLock(path: string, content: string): Promise<void> {
  if (!heldHere.delete(path)) return;
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current === content) await unlink(path).catch(() => undefined);
}

function lockedError(path: string, pid: number | undefined): GantryError {
  const who = pid === undefined ? 'another process' : `process ${pid}`;
  return new GantryError(
    'STORE_LOCKED',
    `the data dir is in use by ${who} (lock file ${path}); one server per data dir — use --database-url for several replicas`,
    { details: { path, ...(pid === undefined ? {} : { pid }) } },
  );
}

function dataDirError(path: string, cause: unknown): GantryError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new GantryError('STORE_DATA_DIR', `cannot lock the data dir (${path}): ${why}`, {
    cause,
    details: { path },
  });
}
