/**
 * The REAL server process: `bin/gantry.js serve` with the embedded store (first start from the
 * data-dir template built with dist/), against a real docker-registry. Bootstrap token → new token
 * → /api/v1/status; a second server on the same data dir is refused; SIGHUP reloads and records
 * the configuration; SIGTERM exits cleanly and releases the data dir. Then `gantry ledger verify`
 * and `gantry ledger export` against that data dir, with an entry tampered with by SQL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE, openStore } from '../../src/store/index.js';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { getFreePort, makeImage, pushImage, startRegistry, type RegistryProcess } from '../helpers/index.js';
import { runCli } from './run-cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BOOTSTRAP = `gty_${'5'.repeat(64)}`;

interface Served {
  readonly child: ChildProcess;
  readonly url: string;
  stdout: string;
  stderr: string;
  readonly exited: Promise<number | null>;
}

function serve(args: readonly string[], env: Record<string, string> = {}): Served {
  const child = spawn(process.execPath, [`${root}bin/gantry.js`, 'serve', ...args], {
    cwd: root,
    env: { ...process.env, GANTRY_BOOTSTRAP_TOKEN: BOOTSTRAP, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const listen = args[args.indexOf('--listen') + 1] ?? '';
  const served: Served = {
    child,
    url: `http://${listen}`,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
  child.stdout?.on('data', (c: Buffer) => (served.stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (served.stderr += c.toString()));
  return served;
}

async function waitReady(s: Served, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (s.child.exitCode !== null) throw new Error(`gantry serve exited: ${s.stderr}`);
    try {
      const res = await fetch(`${s.url}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gantry serve not ready within ${timeoutMs} ms: ${s.stderr}`);
}

async function api(
  s: Served,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('gantry serve (real process, embedded store)', () => {
  let registry: RegistryProcess;
  let dir = '';
  let config = '';
  let dataDir = '';
  let digest = '';
  let server: Served | undefined;

  beforeAll(async () => {
    registry = await startRegistry();
    const image = makeImage({ seed: 'serve-web' });
    digest = await pushImage(registry, 'team/web', image, '1.4.2');
    dir = await mkdtemp(join(tmpdir(), 'gantry-serve-'));
    dataDir = join(dir, 'data');
    config = join(dir, 'gantry.yaml');
    await writeFile(
      config,
      `registries:\n  dev: { url: "${registry.url}" }\nenvironments:\n  dev: { registry: dev, prefix: team }\napplications: [web]\n`,
    );
  }, 60_000);

  afterAll(async () => {
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    await registry?.stop();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('starts, serves status through a token made with the bootstrap token, reloads on SIGHUP, refuses a second server and stops on SIGTERM', async () => {
    const port = await getFreePort();
    const s = serve(['--config', config, '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir]);
    server = s;
    await waitReady(s);
    expect(s.stderr).toContain(`listening on http://127.0.0.1:${port}`);

    const created = await api(s, 'POST', '/api/v1/tokens', BOOTSTRAP, {
      name: 'dashboard',
      roles: ['viewer'],
    });
    expect(created.status).toBe(201);
    const viewer = created.body.token as string;
    const status = await api(s, 'GET', '/api/v1/status', viewer);
    expect(status.status).toBe(200);
    expect(status.body.cells).toEqual([
      expect.objectContaining({ environment: 'dev', application: 'web', digest, version: '1.4.2' }),
    ]);
    expect(status.body.error).toBeUndefined();

    // A second server on the same data dir: one clear line, non-zero exit, the first one unharmed.
    const second = await runCli([
      'serve',
      '--config',
      config,
      '--listen',
      `127.0.0.1:${await getFreePort()}`,
      '--data-dir',
      dataDir,
    ]);
    expect(second.code).toBe(1);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    expect(second.stderr).toMatch(/^gantry: the data dir is in use by process \d+ .*\[STORE_LOCKED\]$/m);
    expect((await api(s, 'GET', '/api/v1/ledger/verify', viewer)).body).toMatchObject({ ok: true });

    // SIGHUP: the changed file is loaded and its new hash recorded.
    await appendFile(config, '# reloaded\n');
    s.child.kill('SIGHUP');
    let loaded: { payload: { sha256: string; reason: string } }[] = [];
    for (let i = 0; i < 100 && loaded.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const ledger = await api(s, 'GET', `/api/v1/ledger?subject=${encodeURIComponent(config)}`, viewer);
      loaded = ledger.body.entries as typeof loaded;
    }
    expect(loaded.map((e) => e.payload.reason)).toEqual(['start', 'reload']);
    expect(loaded[0]?.payload.sha256).not.toBe(loaded[1]?.payload.sha256);

    // A broken file on SIGHUP: logged, nothing recorded, the previous configuration still served.
    const good = await readFile(config, 'utf8');
    await appendFile(config, 'bogus: [\n');
    s.child.kill('SIGHUP');
    for (let i = 0; i < 100 && !s.stdout.includes('configuration not reloaded'); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(s.stdout).toMatch(
      /"code":"CONFIG_INVALID".*"msg":"configuration not reloaded; serving the previous one"/,
    );
    const after = await api(s, 'GET', `/api/v1/ledger?subject=${encodeURIComponent(config)}`, viewer);
    expect(after.body.entries).toHaveLength(2);
    expect((await api(s, 'GET', '/api/v1/status', viewer)).status).toBe(200);
    await writeFile(config, good);

    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
    const lines = s.stdout.trim().split('\n');
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
    expect(s.stdout).not.toContain(BOOTSTRAP);
    expect(s.stdout).not.toContain(viewer);
    expect(s.stdout).toContain('"msg":"stopped"');
  }, 90_000);

  it('refuses bad start-up input with one line and a documented exit code, leaving the data dir unlocked', async () => {
    const busy = await getFreePort();
    const blocker = serve([
      '--config',
      config,
      '--listen',
      `127.0.0.1:${busy}`,
      '--data-dir',
      join(dir, 'busy'),
    ]);
    await waitReady(blocker);
    const cases: [string[], Record<string, string>, number, RegExp][] = [
      [['--config', join(dir, 'missing.yaml')], {}, 2, /\[CONFIG_NOT_FOUND\]$/],
      [
        ['--config', config, '--listen', 'localhost'],
        {},
        2,
        /--listen localhost: expected host:port.*\[USAGE_INVALID\]$/,
      ],
      [['--config', config, '--database-url', 'mysql://x'], {}, 2, /postgres:\/\/.*\[USAGE_INVALID\]$/],
      [
        [
          '--config',
          config,
          '--database-url',
          'postgres://x@127.0.0.1:1/x',
          '--data-dir',
          join(dir, 'refused'),
        ],
        {},
        2,
        /--data-dir and --database-url exclude each other.*\[USAGE_INVALID\]$/,
      ],
      [
        ['--config', config],
        { GANTRY_BOOTSTRAP_TOKEN: 'secret' },
        2,
        /GANTRY_BOOTSTRAP_TOKEN must be "gty_".*\[USAGE_INVALID\]$/,
      ],
      [
        ['--config', config, '--listen', `127.0.0.1:${busy}`],
        {},
        2,
        /cannot listen on 127\.0\.0\.1:\d+: the address is already in use \[USAGE_INVALID\]$/,
      ],
    ];
    for (const [args, env, code, message] of cases) {
      const store = args.includes('--database-url') ? [] : ['--data-dir', join(dir, 'refused')];
      const res = await runCli(['serve', ...store, ...args], { env });
      expect([res.code, res.stderr.trim().split('\n').length], args.join(' ')).toEqual([code, 1]);
      expect(res.stderr.trim()).toMatch(message);
      expect(res.stderr).not.toContain('secret');
      expect(existsSync(join(dir, 'refused', LOCK_FILE))).toBe(false);
    }
    blocker.child.kill('SIGTERM');
    expect(await blocker.exited).toBe(0);
  }, 90_000);

  it('verifies and exports the ledger from the data dir, and detects an entry edited with SQL', async () => {
    const ok = await runCli(['ledger', 'verify', '--data-dir', dataDir, '--json']);
    expect(ok.code).toBe(0);
    const result = JSON.parse(ok.stdout) as { ok: boolean; entries: number; headHash: string };
    expect(result).toMatchObject({ ok: true, entries: 4 });

    const exported = await runCli(['ledger', 'export', '--data-dir', dataDir]);
    expect(exported.code).toBe(0);
    const lines = exported.stdout.trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { type: string }).type)).toEqual([
      'config.loaded',
      'token.created',
      'token.created',
      'config.loaded',
    ]);
    const file = join(dir, 'ledger.jsonl');
    await writeFile(file, exported.stdout);
    const head = `${lines.length}:${result.headHash}`;
    expect((await runCli(['ledger', 'verify', '--file', file, '--head', head])).code).toBe(0);
    await writeFile(file, lines.slice(0, -1).join('\n'));
    const truncated = await runCli(['ledger', 'verify', '--file', file, '--head', head]);
    expect(truncated.code).toBe(8);
    expect(truncated.stdout).toContain('ledger BROKEN');

    const store = await openStore({ dataDir });
    await sql`update ledger set actor = 'mallory' where seq = 2`.execute(store.db);
    await store.close();
    const broken = await runCli(['ledger', 'verify', '--data-dir', dataDir]);
    expect(broken.code).toBe(8);
    expect(broken.stdout).toContain('ledger BROKEN at entry 2 (hash-mismatch)');

    const none = await runCli(['ledger', 'verify', '--data-dir', join(dir, 'nothing-here')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^gantry: no store in .*nothing-here: .*\[STORE_DATA_DIR\]\n$/);
    expect(existsSync(join(dir, 'nothing-here'))).toBe(false);
  }, 60_000);
});

describe('gantry serve (real process, PostgreSQL)', () => {
  let cluster: PostgresCluster | undefined;
  let dir = '';
  let server: Served | undefined;
  afterAll(async () => {
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    await cluster?.stop();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('serves tokens and the ledger from GANTRY_DATABASE_URL, and two servers share one database', async () => {
    cluster = await startPostgres();
    const url = await cluster.createDatabase('gantry_serve');
    dir = await mkdtemp(join(tmpdir(), 'gantry-serve-pg-'));
    const config = join(dir, 'gantry.yaml');
    await writeFile(
      config,
      'registries:\n  dev: { url: "http://127.0.0.1:1" }\nenvironments:\n  dev: { registry: dev }\napplications: [web]\n',
    );
    const start = async (): Promise<Served> => {
      const s = serve(['--config', config, '--listen', `127.0.0.1:${await getFreePort()}`], {
        GANTRY_DATABASE_URL: url,
      });
      await waitReady(s);
      return s;
    };
    const a = await start();
    server = a;
    const b = await start();
    expect(a.stderr).toContain('store: PostgreSQL at postgres://postgres@127.0.0.1');
    const created = await api(a, 'POST', '/api/v1/tokens', BOOTSTRAP, { name: 'ci', roles: ['ci'] });
    expect(created.status).toBe(201);
    // The token made on one replica works on the other; both wrote config.loaded at start.
    const ledger = await api(b, 'GET', '/api/v1/ledger', created.body.token as string);
    expect(ledger.status).toBe(200);
    expect((ledger.body.entries as { type: string }[]).map((e) => e.type)).toEqual([
      'config.loaded',
      'token.created',
      'config.loaded',
      'token.created',
    ]);
    expect((await api(b, 'GET', '/api/v1/ledger/verify', BOOTSTRAP)).body).toMatchObject({
      ok: true,
      entries: 4,
    });
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect([await a.exited, await b.exited]).toEqual([0, 0]);
    const verified = await runCli(['ledger', 'verify', '--database-url', url]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/^ledger ok: 4 entries, head [0-9a-f]{64}$/m);
  }, 120_000);
});
