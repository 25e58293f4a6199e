import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isGantryError } from '../core/index.js';
import { LOCK_FILE, lockDataDir } from './data-dir-lock.js';

/** A pid that ran and has exited (so no process has it, barring a quick reuse). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(child.stdout);
}

describe('lockDataDir', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-lock-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the pid, refuses a second lock in this process, and releases', async () => {
    const lock = await lockDataDir(dir);
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    const second = await lockDataDir(dir).catch((e: unknown) => e);
    expect(isGantryError(second, 'STORE_LOCKED')).toBe(true);
    await lock.release();
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
    await (await lockDataDir(dir)).release();
  });

  it('refuses while another live process holds the lock, naming it', async () => {
    // pid 1 always runs.
    await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'h', since: '' }));
    const error = await lockDataDir(dir).catch((e: unknown) => e);
    expect(isGantryError(error, 'STORE_LOCKED')).toBe(true);
    expect((error as Error).message).toContain('process 1');
    expect((error as Error).message).toContain(join(dir, LOCK_FILE));
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: 1 });
  });

  it.each([
    ['a dead process', () => JSON.stringify({ pid: deadPid(), host: 'h', since: '' })],
    [
      'an earlier life of this pid (a restarted container)',
      () => JSON.stringify({ pid: process.pid, host: 'h', since: '' }),
    ],
    ['a garbled file', () => 'not json'],
  ])('takes over a lock left by %s', async (_name, content) => {
    await writeFile(join(dir, LOCK_FILE), content());
    const lock = await lockDataDir(dir);
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('does not remove a lock file that is no longer its own', async () => {
    const lock = await lockDataDir(dir);
    await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'h', since: '' }));
    await lock.release();
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: 1 });
  });

  it('reports a data dir it cannot write as STORE_DATA_DIR', async () => {
    const error = await lockDataDir(join(dir, 'missing')).catch((e: unknown) => e);
    expect(isGantryError(error, 'STORE_DATA_DIR')).toBe(true);
  });
});
