/**
 * The store against both databases it supports: the same suite runs on PGlite (embedded, in a
 * temp data dir, first start from a template) and on a throw-away PostgreSQL 15 cluster. On
 * PostgreSQL the concurrency tests use two separate connection pools, as two replicas would; on
 * PGlite (one process, one connection) they run concurrently on the one store.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isGantryError } from '../../src/core/index.js';
import {
  createStoreTemplate,
  GENESIS_HASH,
  JobQueue,
  Ledger,
  LOCK_FILE,
  migrations,
  openStore,
  verifyLedgerLines,
  type ClaimedJob,
  type Store,
} from '../../src/store/index.js';
import { findPostgresBinDir, startPostgres, type PostgresCluster } from '../helpers/postgres.js';

const exec = promisify(execFile);

/** One database the suite runs against. */
interface Backend {
  readonly name: 'pglite' | 'postgres';
  /** Opens the store (first start). */
  start(): Promise<Store>;
  /** A second, independent connection pool on the same database (PGlite: the same store). */
  second(): Promise<Store>;
  /** Closes `store` and opens the same database again. */
  reopen(store: Store): Promise<Store>;
  /** Closes everything and removes the database. */
  stop(): Promise<void>;
}

function pgliteBackend(): Backend {
  let root = '';
  let dataDir = '';
  let template = '';
  return {
    name: 'pglite',
    async start() {
      root = await mkdtemp(join(tmpdir(), 'gantry-store-'));
      dataDir = join(root, 'data');
      template = await sharedTemplate();
      return openStore({ dataDir, template });
    },
    second: () => Promise.reject(new Error('use the first store on PGlite')),
    async reopen(store) {
      await store.close();
      return openStore({ dataDir, template });
    },
    async stop() {
      if (root !== '') await rm(root, { recursive: true, force: true });
    },
  };
}

/** One store template for the whole file (writing one runs PGlite's initdb: seconds). */
let templateRoot: Promise<string> | undefined;
const sharedTemplate = async (): Promise<string> => {
  templateRoot ??= mkdtemp(join(tmpdir(), 'gantry-store-template-')).then(async (dir) => {
    await createStoreTemplate(join(dir, 'template.tar.gz'));
    return dir;
  });
  return join(await templateRoot, 'template.tar.gz');
};
afterAll(async () => {
  if (templateRoot !== undefined) await rm(await templateRoot, { recursive: true, force: true });
});

/** One cluster for the whole file, started on first use and stopped after every suite. */
let cluster: Promise<PostgresCluster> | undefined;
const sharedCluster = (): Promise<PostgresCluster> => (cluster ??= startPostgres());
afterAll(async () => {
  await (await cluster)?.stop();
}, 60_000);

function postgresBackend(): Backend {
  let url = '';
  const extra: Store[] = [];
  return {
    name: 'postgres',
    async start() {
      url = await (await sharedCluster()).createDatabase('gantry_store_test');
      return openStore({ databaseUrl: url, poolSize: 8 });
    },
    async second() {
      const store = await openStore({ databaseUrl: url, poolSize: 8 });
      extra.push(store);
      return store;
    },
    async reopen(store) {
      await store.close();
      return openStore({ databaseUrl: url, poolSize: 8 });
    },
    async stop() {
      for (const store of extra) await store.close();
    },
  };
}

/** Empties every table and resets the ledger's head, between tests. */
async function reset(store: Store): Promise<void> {
  await sql`truncate ledger, jobs, approvals, promotions, tokens`.execute(store.db);
  await store.db.updateTable('ledger_head').set({ seq: 0, hash: GENESIS_HASH }).where('id', '=', 1).execute();
}

/** Appends `n` entries, one transaction each, and returns the ledger. */
async function appendMany(store: Store, n: number, subject = 'p-1'): Promise<Ledger> {
  const ledger = new Ledger(store.db);
  for (let i = 0; i < n; i++) {
    await store.db.transaction().execute((trx) =>
      ledger.append(trx, {
        type: 'promotion.requested',
        subject,
        actor: 'alice',
        time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
        payload: { i, app: 'web', tags: ['1.4.2', 'latest'], nested: { b: 1, a: [true, null] } },
      }),
    );
  }
  return ledger;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isGantryError(error) ? error.code : error).toBe(code);
}

const backends: Backend[] = [pgliteBackend(), postgresBackend()];

describe.each(backends)('store on $name', (backend) => {
  let store: Store;
  /** The store a second replica would use (PGlite: the same). */
  let other: Store;

  beforeAll(async () => {
    store = await backend.start();
    other = backend.name === 'postgres' ? await backend.second() : store;
  }, 180_000);

  afterAll(async () => {
    await store?.close();
    await backend.stop();
  }, 60_000);

  beforeEach(async () => {
    await reset(store);
  });

  describe('migrations', () => {
    it('apply once, and a reopen finds the schema current and the data kept', async () => {
      const applied = async (): Promise<string[]> =>
        (
          await sql<{ name: string }>`select name from kysely_migration order by name`.execute(store.db)
        ).rows.map((r) => r.name);
      expect(await applied()).toEqual(Object.keys(migrations));
      const ledger = await appendMany(store, 2);
      expect((await ledger.verify()).entries).toBe(2);

      store = await backend.reopen(store);
      expect(store.migrated).toEqual([]);
      expect(await applied()).toEqual(Object.keys(migrations));
      expect(await new Ledger(store.db).verify()).toMatchObject({ ok: true, entries: 2 });
      if (backend.name === 'pglite') other = store;
    }, 60_000);
  });

  describe('ledger', () => {
    it('chains entries and verifies them, in the database and as exported lines', async () => {
      const ledger = await appendMany(store, 5);
      const result = await ledger.verify({ pageSize: 2 });
      expect(result).toMatchObject({ ok: true, entries: 5 });
      const head = await store.db.selectFrom('ledger_head').selectAll().executeTakeFirstOrThrow();
      expect(result.headHash).toBe(head.hash);

      const lines: string[] = [];
      for await (const line of ledger.exportLines({ pageSize: 2 })) lines.push(line);
      expect(lines).toHaveLength(5);
      expect(verifyLedgerLines(lines, { seq: 5, hash: result.headHash })).toMatchObject({
        ok: true,
        entries: 5,
      });
      const first = JSON.parse(lines[0]!) as { seq: number; prev_hash: string; payload: unknown };
      expect(first.seq).toBe(1);
      expect(first.prev_hash).toBe(GENESIS_HASH);
      expect(first.payload).toEqual({
        i: 0,
        app: 'web',
        tags: ['1.4.2', 'latest'],
        nested: { a: [true, null], b: 1 },
      });
    });

    it('reads entries after a seq and about one subject, and reports the head', async () => {
      const ledger = await appendMany(store, 3, 'p-1');
      await store.db
        .transaction()
        .execute((trx) =>
          ledger.append(trx, { type: 'token.created', subject: 'tok-1', actor: 'admin', time: new Date() }),
        );
      const about = async (options: Parameters<Ledger['entries']>[0]): Promise<number[]> => {
        const seqs: number[] = [];
        for await (const entry of ledger.entries(options)) seqs.push(entry.seq);
        return seqs;
      };
      expect(await about({ subject: 'p-1', pageSize: 1 })).toEqual([1, 2, 3]);
      expect(await about({ subject: 'tok-1' })).toEqual([4]);
      expect(await about({ after: 2 })).toEqual([3, 4]);
      const head = await ledger.head();
      expect(head.seq).toBe(4);
      expect((await ledger.verify()).headHash).toBe(head.hash);
    });

    it('finds an edited payload', async () => {
      const ledger = await appendMany(store, 4);
      await sql`update ledger set payload = jsonb_set(payload, '{app}', '"evil"') where seq = 3`.execute(
        store.db,
      );
      expect(await ledger.verify()).toMatchObject({
        ok: false,
        firstBadSeq: 3,
        reason: 'hash-mismatch',
        entries: 2,
      });
    });

    it('finds an edited actor even when the attacker recomputes nothing else', async () => {
      const ledger = await appendMany(store, 3);
      await store.db.updateTable('ledger').set({ actor: 'mallory' }).where('seq', '=', 1).execute();
      expect(await ledger.verify()).toMatchObject({ ok: false, firstBadSeq: 1, reason: 'hash-mismatch' });
    });

    it('finds a removed entry in the middle', async () => {
      const ledger = await appendMany(store, 4);
      await store.db.deleteFrom('ledger').where('seq', '=', 2).execute();
      expect(await ledger.verify()).toMatchObject({
        ok: false,
        firstBadSeq: 2,
        reason: 'seq-gap',
        entries: 1,
      });
    });

    it('finds removed newest entries (the chain stops short of the head)', async () => {
      const ledger = await appendMany(store, 4);
      await store.db.deleteFrom('ledger').where('seq', '>=', 3).execute();
      expect(await ledger.verify()).toMatchObject({
        ok: false,
        firstBadSeq: 3,
        reason: 'head-mismatch',
        entries: 2,
      });
    });

    it('finds two swapped entries', async () => {
      const ledger = await appendMany(store, 4);
      await store.db.transaction().execute(async (trx) => {
        await trx.updateTable('ledger').set({ seq: 1000 }).where('seq', '=', 2).execute();
        await trx.updateTable('ledger').set({ seq: 2 }).where('seq', '=', 3).execute();
        await trx.updateTable('ledger').set({ seq: 3 }).where('seq', '=', 1000).execute();
      });
      expect(await ledger.verify()).toMatchObject({ ok: false, firstBadSeq: 2, entries: 1 });
    });

    it('verifies an export offline and finds swapped, removed, edited, malformed and missing lines', async () => {
      const ledger = await appendMany(store, 3);
      const lines: string[] = [];
      for await (const line of ledger.exportLines()) lines.push(line);
      // Offline: swap lines 2 and 3, remove line 2, edit line 1.
      expect(verifyLedgerLines([lines[0]!, lines[2]!, lines[1]!])).toMatchObject({
        ok: false,
        firstBadSeq: 2,
      });
      expect(verifyLedgerLines([lines[0]!, lines[2]!])).toMatchObject({
        ok: false,
        firstBadSeq: 2,
        reason: 'seq-gap',
      });
      expect(verifyLedgerLines([lines[0]!.replace('"alice"', '"bob"'), lines[1]!])).toMatchObject({
        ok: false,
        firstBadSeq: 1,
        reason: 'hash-mismatch',
      });
      expect(verifyLedgerLines([lines[0]!, 'not json'])).toMatchObject({
        ok: false,
        firstBadSeq: 2,
        reason: 'malformed',
      });
      expect(
        verifyLedgerLines(lines.slice(0, 2), { seq: 3, hash: JSON.parse(lines[2]!).hash as string }),
      ).toMatchObject({
        ok: false,
        reason: 'head-mismatch',
      });
    });

    it('writes nothing, and leaves no gap, when the transaction rolls back', async () => {
      const ledger = await appendMany(store, 1);
      await expect(
        store.db.transaction().execute(async (trx) => {
          await ledger.append(trx, {
            type: 'promotion.gated',
            subject: 'p-1',
            actor: 'alice',
            time: new Date(),
          });
          throw new Error('the state change failed');
        }),
      ).rejects.toThrow('the state change failed');
      await appendMany(store, 1);
      const seqs = await store.db.selectFrom('ledger').select('seq').orderBy('seq').execute();
      expect(seqs.map((r) => r.seq)).toEqual([1, 2]);
      expect(await ledger.verify()).toMatchObject({ ok: true, entries: 2 });
    });

    it('refuses an append outside a transaction', async () => {
      const ledger = new Ledger(store.db);
      await expectCode(
        ledger.append(store.db as never, { type: 'x', subject: 's', actor: 'a', time: new Date() }),
        'INTERNAL',
      );
    });

    it('keeps one chain when two replicas append concurrently', async () => {
      const stores = [store, other];
      const perStore = 15;
      await Promise.all(
        stores.flatMap((s, n) =>
          Array.from({ length: perStore }, (_, i) =>
            s.db.transaction().execute(async (trx) => {
              await new Ledger(s.db).append(trx, {
                type: 'promotion.requested',
                subject: `replica-${n}`,
                actor: 'ci',
                time: new Date(),
                payload: { i },
              });
              // Hold the head lock across a round trip, so the other appenders really wait.
              await sql`select 1`.execute(trx);
            }),
          ),
        ),
      );
      const result = await new Ledger(store.db).verify();
      expect(result).toMatchObject({ ok: true, entries: 2 * perStore });
      const hashes = await store.db.selectFrom('ledger').select('prev_hash').execute();
      expect(new Set(hashes.map((r) => r.prev_hash)).size).toBe(2 * perStore);
    });
  });

  describe('jobs', () => {
    const payload = { promotion: 'p-1' };

    it('claims a queued job once, with fence 1, and completes it', async () => {
      const queue = new JobQueue(store.db);
      const id = await queue.enqueue({ kind: 'promotion', payload });
      const job = await queue.claim('worker-a', 60_000);
      expect(job).toMatchObject({ id, kind: 'promotion', payload, fence: 1, attempts: 1, owner: 'worker-a' });
      expect(await queue.claim('worker-b', 60_000)).toBeUndefined();
      const until = await queue.heartbeat(id, 'worker-a', 1, 120_000);
      expect(until.getTime()).toBeGreaterThan(job!.leaseUntil.getTime());
      await queue.complete(id, 1);
      expect(await queue.get(id)).toMatchObject({ state: 'succeeded', lease_owner: null });
      expect(await queue.claim('worker-b', 60_000)).toBeUndefined();
    });

    it('leaves a job alone until its run_at, and filters by kind', async () => {
      const queue = new JobQueue(store.db);
      await queue.enqueue({ kind: 'promotion', payload, runAt: new Date(Date.now() + 3_600_000) });
      const other = await queue.enqueue({ kind: 'webhook', payload });
      expect(await queue.claim('w', 60_000, { kinds: ['promotion'] })).toBeUndefined();
      expect((await queue.claim('w', 60_000))?.id).toBe(other);
    });

    it('lets another owner reclaim an expired lease and refuses the old owner', async () => {
      const queue = new JobQueue(store.db);
      const id = await queue.enqueue({ kind: 'promotion', payload });
      const stale = (await queue.claim('worker-a', 1))!;
      expect(stale.fence).toBe(1);
      await waitUntilExpired(store, id);
      const fresh = await new JobQueue(other.db).claim('worker-b', 60_000);
      expect(fresh).toMatchObject({ id, fence: 2, attempts: 2, owner: 'worker-b' });

      await expectCode(queue.heartbeat(id, 'worker-a', stale.fence, 60_000), 'STORE_LEASE_LOST');
      await expectCode(queue.complete(id, stale.fence), 'STORE_LEASE_LOST');
      await expectCode(queue.fail(id, stale.fence, { message: 'late' }), 'STORE_LEASE_LOST');
      await expectCode(queue.release(id, stale.fence), 'STORE_LEASE_LOST');
      // The old owner cannot borrow the new fence either: the lease is worker-b's.
      await expectCode(queue.heartbeat(id, 'worker-a', fresh!.fence, 60_000), 'STORE_LEASE_LOST');

      await queue.heartbeat(id, 'worker-b', fresh!.fence, 60_000);
      await queue.complete(id, fresh!.fence);
      expect(await queue.get(id)).toMatchObject({ state: 'succeeded', fence: 2 });
    });

    it("expireLeases hands a dead worker's running job to the next claim at once, fenced", async () => {
      const queue = new JobQueue(store.db);
      const id = await queue.enqueue({ kind: 'expire-test', payload });
      const dead = (await queue.claim('worker-dead', 3_600_000, { kinds: ['expire-test'] }))!;
      expect(await queue.claim('worker-new', 60_000, { kinds: ['expire-test'] })).toBeUndefined();
      expect(await queue.expireLeases()).toBeGreaterThanOrEqual(1);
      const taken = await queue.claim('worker-new', 60_000, { kinds: ['expire-test'] });
      expect(taken).toMatchObject({ id, fence: dead.fence + 1, owner: 'worker-new' });
      await expectCode(queue.complete(id, dead.fence), 'STORE_LEASE_LOST');
      await queue.complete(id, taken!.fence);
    });

    it('refuses a heartbeat after the lease expired, even before anyone reclaimed it', async () => {
      const queue = new JobQueue(store.db);
      const id = await queue.enqueue({ kind: 'promotion', payload });
      const job = (await queue.claim('worker-a', 1))!;
      await waitUntilExpired(store, id);
      await expectCode(queue.heartbeat(id, 'worker-a', job.fence, 60_000), 'STORE_LEASE_LOST');
    });

    it('retries a failed job until its attempts run out, and releases without counting', async () => {
      const queue = new JobQueue(store.db);
      const id = await queue.enqueue({ kind: 'promotion', payload, maxAttempts: 2 });
      let job = (await queue.claim('w', 60_000))!;
      await queue.release(id, job.fence);
      expect(await queue.get(id)).toMatchObject({ state: 'queued', attempts: 0 });

      job = (await queue.claim('w', 60_000))!;
      await queue.fail(id, job.fence, { message: 'registry 503' }, { retryInMs: 0 });
      expect(await queue.get(id)).toMatchObject({
        state: 'queued',
        attempts: 1,
        last_error: { message: 'registry 503' },
      });
      job = (await queue.claim('w', 60_000))!;
      expect(job).toMatchObject({ attempts: 2, fence: 3 });
      await queue.fail(id, job.fence, { message: 'registry 503 again' }, { retryInMs: 0 });
      expect(await queue.get(id)).toMatchObject({ state: 'failed', attempts: 2 });
      expect(await queue.claim('w', 60_000)).toBeUndefined();
    });

    it('enqueues in the caller transaction: a rollback leaves no job', async () => {
      const queue = new JobQueue(store.db);
      await expect(
        store.db.transaction().execute(async (trx) => {
          await queue.enqueue({ kind: 'promotion', payload }, trx);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect(await queue.claim('w', 60_000)).toBeUndefined();
    });

    it('never gives one job to two owners racing for it', async () => {
      const jobs = 40;
      const queue = new JobQueue(store.db);
      for (let i = 0; i < jobs; i++) await queue.enqueue({ kind: 'promotion', payload: { i } });
      const claims: { owner: string; job: ClaimedJob }[] = [];
      const worker = async (s: Store, owner: string): Promise<void> => {
        const q = new JobQueue(s.db);
        for (;;) {
          const job = await q.claim(owner, 60_000);
          if (job === undefined) return;
          claims.push({ owner, job });
          await q.complete(job.id, job.fence);
        }
      };
      await Promise.all(
        [store, other].flatMap((s, n) => [0, 1, 2, 3].map((w) => worker(s, `replica-${n}-worker-${w}`))),
      );
      const ids = claims.map((c) => c.job.id);
      expect(new Set(ids).size).toBe(jobs);
      expect(ids).toHaveLength(jobs);
      expect(claims.every((c) => c.job.fence === 1)).toBe(true);
      const states = await store.db.selectFrom('jobs').select('state').distinct().execute();
      expect(states).toEqual([{ state: 'succeeded' }]);
      if (backend.name === 'postgres') {
        // Both replicas took part, so the race was real.
        expect(new Set(claims.map((c) => c.owner.slice(0, 9))).size).toBe(2);
      }
    });
  });
});

/** Waits until the database's clock has passed the job's lease (a lease of 1 ms). */
async function waitUntilExpired(store: Store, id: string): Promise<void> {
  for (;;) {
    const row = await sql<{
      expired: boolean;
    }>`select lease_until < now() as expired from jobs where id = ${id}`.execute(store.db);
    if (row.rows[0]?.expired === true) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('embedded store data dir', () => {
  let root: string;
  let template: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'gantry-store-dir-'));
    template = await sharedTemplate();
  }, 120_000);

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('refuses a second process on the same data dir, and lets it in once the first closed', async () => {
    const dataDir = join(root, 'shared');
    const store = await openStore({ dataDir, template });
    const child = (): Promise<{ code?: string; message?: string; opened?: boolean }> =>
      exec(process.execPath, ['--import', 'tsx', 'test/fixtures/store/open-store-child.ts', dataDir], {
        timeout: 60_000,
      }).then(({ stdout }) => JSON.parse(stdout) as { code?: string; message?: string; opened?: boolean });
    try {
      const refused = await child();
      expect(refused.code).toBe('STORE_LOCKED');
      expect(refused.message).toContain(`process ${process.pid}`);
      expect(refused.message).toContain(join(dataDir, LOCK_FILE));
      // The same process is refused too.
      await expectCode(openStore({ dataDir, template }), 'STORE_LOCKED');
    } finally {
      await store.close();
    }
    expect(await child()).toEqual({ opened: true });
  }, 120_000);

  it('survives kill -9 of the process holding it: the stale lock is taken over and committed entries are kept', async () => {
    const dataDir = join(root, 'killed');
    await (await openStore({ dataDir, template })).close();
    const holder = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/store/open-store-child.ts', dataDir, 'hold'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      const first = await new Promise<string>((resolve, reject) => {
        let out = '';
        holder.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString('utf8');
          if (out.includes('\n')) resolve(out.trim());
        });
        holder.once('exit', (code) => reject(new Error(`the holder exited early (${String(code)}): ${out}`)));
      });
      expect(JSON.parse(first)).toEqual({ held: true });
      await expectCode(openStore({ dataDir, template }), 'STORE_LOCKED');
    } finally {
      const exited = new Promise((resolve) => holder.once('exit', resolve));
      holder.kill('SIGKILL');
      await exited;
    }
    const store = await openStore({ dataDir, template });
    try {
      expect(await new Ledger(store.db).verify()).toMatchObject({ ok: true, entries: 3 });
    } finally {
      await store.close();
    }
  }, 120_000);

  it('initialises in a temp dir and renames it into place; a failed first start leaves nothing behind', async () => {
    const dataDir = join(root, 'fresh');
    await expectCode(openStore({ dataDir, template: join(root, 'missing.tar.gz') }), 'STORE_DATA_DIR');
    expect(await readdir(dataDir)).toEqual([]);

    // An init that crashed half-way left its temp dir: the next first start removes it.
    await mkdir(join(dataDir, '.pgdata-init-crashed', 'base'), { recursive: true });
    const store = await openStore({ dataDir }); // no template: PGlite's initdb
    try {
      expect(store.migrated).toEqual(Object.keys(migrations));
      expect((await readdir(dataDir)).sort()).toEqual([LOCK_FILE, 'pgdata']);
    } finally {
      await store.close();
    }
    expect(await readdir(dataDir)).toEqual(['pgdata']);
  }, 120_000);

  it.each([
    ['a gzip tarball', 'gzip'],
    ['a directory', 'directory'],
  ] as const)(
    'starts from a template that is %s, already migrated',
    async (_name, format) => {
      const from = format === 'gzip' ? template : join(root, 'template-dir');
      if (format === 'directory') await createStoreTemplate(from, { format });
      const dataDir = join(root, `from-${format}`);
      const store = await openStore({ dataDir, template: from });
      try {
        expect(store.migrated).toEqual([]);
        const head = await store.db.selectFrom('ledger_head').selectAll().executeTakeFirstOrThrow();
        expect(head).toEqual({ id: 1, seq: 0, hash: GENESIS_HASH });
        await appendMany(store, 1);
      } finally {
        await store.close();
      }
      expect((await readdir(dataDir)).sort()).toEqual(['pgdata']);
      // The template itself is untouched: a second data dir starts from it as empty as the first.
      const again = await openStore({ dataDir: join(root, `again-${format}`), template: from });
      try {
        expect(await new Ledger(again.db).verify()).toMatchObject({ ok: true, entries: 0 });
      } finally {
        await again.close();
      }
    },
    120_000,
  );
});

describe('PostgreSQL test cluster', () => {
  it('fails loudly, never skips, when the PostgreSQL binaries are missing', () => {
    expect(() => findPostgresBinDir('/nonexistent/postgresql/bin')).toThrow(
      /install the Debian package postgresql/,
    );
  });
});

describe('PostgreSQL connection errors', () => {
  it('names the database that does not exist, never the password', async () => {
    const url = (await sharedCluster()).url('no_such_db').replace('postgres@', 'postgres:hunter2@');
    const error = await openStore({ databaseUrl: url }).catch((e: unknown) => e);
    expect(isGantryError(error, 'STORE_UNREACHABLE')).toBe(true);
    expect((error as Error).message).toContain('the database does not exist');
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('reports a server that does not listen', async () => {
    const url = `postgres://postgres:hunter2@127.0.0.1:1/postgres`;
    const error = await openStore({ databaseUrl: url }).catch((e: unknown) => e);
    expect(isGantryError(error, 'STORE_UNREACHABLE')).toBe(true);
    expect((error as Error).message).not.toContain('hunter2');
  });
});
