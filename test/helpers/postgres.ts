/**
 * A REAL, throw-away PostgreSQL cluster for integration tests: `initdb` and `pg_ctl` from Debian's
 * `postgresql` package (`/usr/lib/postgresql/<major>/bin`) on a free 127.0.0.1 port, trust auth,
 * data in a temp dir, fsync off. As root (CI) the binaries run as the `postgres` user through
 * `runuser`, because `initdb` refuses root. Never skips: missing binaries are a loud error.
 */
import { spawn, execFileSync } from 'node:child_process';
import { accessSync, constants as fsConstants, readdirSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { getFreePort } from './free-port.js';
import { onProcessExit, removeDirSync } from './process-cleanup.js';
import { runCommand } from './run-command.js';

/** A running cluster. */
export interface PostgresCluster {
  /** `127.0.0.1`. */
  readonly host: string;
  /** The TCP port it listens on. */
  readonly port: number;
  /** The temp dir holding the data directory and the server log (removed by `stop()`). */
  readonly dir: string;
  /** `postgres://postgres@127.0.0.1:PORT/<database>` (default database `postgres`). */
  url(database?: string): string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** The server log so far. */
  logs(): Promise<string>;
  /** Stops the server (fast shutdown) and removes `dir`. Idempotent. */
  stop(): Promise<void>;
  /** Crashes the server (`pg_ctl stop -m immediate`: SIGQUIT, no checkpoint), keeping `dir`. */
  crash(): Promise<void>;
  /** Starts the server again after {@link crash}, on the same port and data directory. */
  restart(): Promise<void>;
}

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  /** Directory holding `initdb`, `pg_ctl` (default: the newest `/usr/lib/postgresql/<major>/bin`). */
  readonly binDir?: string;
}

/** Finds Debian's PostgreSQL binaries or throws a loud error. */
export function findPostgresBinDir(explicit?: string): string {
  const candidates = explicit !== undefined ? [explicit] : debianBinDirs();
  for (const dir of candidates) {
    try {
      accessSync(join(dir, 'initdb'), fsConstants.X_OK);
      accessSync(join(dir, 'pg_ctl'), fsConstants.X_OK);
      return dir;
    } catch {
      // try the next one
    }
  }
  throw new Error(
    `PostgreSQL binaries not found: install the Debian package postgresql (looked for initdb and pg_ctl in ${
      candidates.length > 0 ? candidates.join(', ') : '/usr/lib/postgresql/*/bin'
    })`,
  );
}

function debianBinDirs(): string[] {
  let majors: string[];
  try {
    majors = readdirSync('/usr/lib/postgresql');
  } catch {
    return [];
  }
  return majors
    .filter((m) => /^\d+$/.test(m))
    .sort((a, b) => Number(b) - Number(a))
    .map((m) => join('/usr/lib/postgresql', m, 'bin'));
}

const isRoot = process.getuid?.() === 0;

/** `[command, args]` that run `binary args…` as the postgres user when we are root. */
function asPostgres(binary: string, args: readonly string[]): [string, string[]] {
  return isRoot ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, [...args]];
}

async function run(binary: string, args: readonly string[], timeoutMs = 60_000): Promise<void> {
  const [command, argv] = asPostgres(binary, args);
  await runCommand(command, argv, { timeoutMs });
}

/**
 * Kills the cluster when the Node process that started it disappears, even on SIGKILL (when no
 * exit handler runs). Arguments: $1 node pid, $2 pg_ctl command line prefix…, data dir, temp dir.
 */
const WATCHDOG = [
  'exec >/dev/null 2>&1 </dev/null',
  'node=$1; data=$2; dir=$3; shift 3',
  'while kill -0 "$node" 2>/dev/null; do sleep 1; done',
  '"$@" -D "$data" -m immediate stop',
  'case "$dir" in */gantry-postgres-*) rm -rf "$dir" ;; esac',
].join('\n');

/**
 * Initialises and starts a cluster, retrying on another port when the one picked was taken
 * meanwhile. Always call `stop()` (e.g. in `afterAll`); an exit handler and a watchdog stop
 * leftovers anyway.
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresCluster> {
  const bin = findPostgresBinDir(options.binDir);
  const initdb = join(bin, 'initdb');
  const pgCtl = join(bin, 'pg_ctl');
  const dir = await mkdtemp(join(tmpdir(), 'gantry-postgres-'));
  const data = join(dir, 'data');
  const sockets = join(dir, 'sockets');
  const log = join(dir, 'server.log');
  const unregisterDir = onProcessExit(() => removeDirSync(dir));
  let unregisterServer = (): void => undefined;
  let watchdogPid: number | undefined;
  const stopSync = (): void => {
    const [command, argv] = asPostgres(pgCtl, ['-D', data, '-m', 'immediate', 'stop']);
    try {
      execFileSync(command, argv, { stdio: 'ignore', timeout: 10_000 });
    } catch {
      // best effort: the process is exiting anyway
    }
  };
  try {
    await mkdir(sockets);
    if (isRoot) {
      const uid = Number((await runCommand('id', ['-u', 'postgres'])).stdout.trim());
      const gid = Number((await runCommand('id', ['-g', 'postgres'])).stdout.trim());
      await chown(dir, uid, gid);
      await chown(sockets, uid, gid);
    }
    await run(initdb, [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ]);

    let attemptLogs = '';
    for (let attempt = 1; attempt <= 5; attempt++) {
      const port = await getFreePort();
      const settings = [
        `-c listen_addresses=127.0.0.1`,
        `-c port=${port}`,
        `-c unix_socket_directories=${sockets}`,
        '-c fsync=off',
        '-c synchronous_commit=off',
        '-c full_page_writes=off',
        '-c max_connections=200',
      ].join(' ');
      try {
        await run(pgCtl, ['-D', data, '-l', log, '-w', '-t', '60', '-o', settings, 'start'], 90_000);
      } catch (error) {
        const output = await readFile(log, 'utf8').catch(() => '');
        attemptLogs += `--- attempt ${attempt} (port ${port})\n${(error as Error).message}\n${output}\n`;
        if (/could not bind|already in use/i.test(output)) continue;
        throw new Error(`startPostgres failed:\n${attemptLogs}`, { cause: error });
      }
      unregisterServer = onProcessExit(stopSync);
      const [command, argv] = asPostgres(pgCtl, []);
      const watchdog = spawn(
        'sh',
        ['-c', WATCHDOG, 'gantry-postgres-watchdog', String(process.pid), data, dir, command, ...argv],
        {
          detached: true,
          stdio: 'ignore',
        },
      );
      watchdog.unref();
      watchdogPid = watchdog.pid;
      return makeCluster(port, settings);
    }
    throw new Error(`startPostgres failed: no free port after 5 attempts\n${attemptLogs}`);
  } catch (error) {
    stopSync();
    unregisterServer();
    await rm(dir, { recursive: true, force: true });
    unregisterDir();
    throw error;
  }

  function makeCluster(port: number, settings: string): PostgresCluster {
    const host = '127.0.0.1';
    const url = (database = 'postgres'): string => `postgres://postgres@${host}:${port}/${database}`;
    let stopping: Promise<void> | undefined;
    return {
      host,
      port,
      dir,
      url,
      async createDatabase(name: string): Promise<string> {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`createDatabase: not a plain name: ${name}`);
        const client = new pg.Client({ connectionString: url() });
        await client.connect();
        try {
          await client.query(`create database ${name}`);
        } finally {
          await client.end();
        }
        return url(name);
      },
      logs: () => readFile(log, 'utf8'),
      crash: () => run(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']),
      restart: () => run(pgCtl, ['-D', data, '-l', log, '-w', '-t', '60', '-o', settings, 'start'], 90_000),
      stop(): Promise<void> {
        stopping ??= (async () => {
          if (watchdogPid !== undefined) {
            try {
              process.kill(-watchdogPid, 'SIGKILL');
            } catch {
              // already gone
            }
          }
          await run(pgCtl, ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => stopSync());
          unregisterServer();
          await rm(dir, { recursive: true, force: true });
          unregisterDir();
        })();
        return stopping;
      },
    };
  }
}
