/**
 * A REAL registry for integration tests: CNCF distribution 2.8.2 (`docker-registry serve`, Debian
 * package `docker-registry`) on a free 127.0.0.1 port with filesystem storage in a temp dir.
 * Variants: anonymous, htpasswd (bcrypt) Basic auth, bearer-token auth backed by the fake token
 * server, and TLS with a throw-away CA. Never skips: a missing binary is a loud error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { getFreePort } from './free-port.js';
import { killProcessGroup, onProcessExit, removeDirSync } from './process-cleanup.js';
import { runCommand } from './run-command.js';
import { defaultTestUsers, type TestUser } from './test-users.js';
import { makeTestCertificates } from './tls-certs.js';
import { startTokenServer, type StartTokenServerOptions, type TokenServer } from './token-server.js';

/** How a test registry authenticates clients. */
export type RegistryAuth = 'none' | 'htpasswd' | 'token';

/** Options of {@link startRegistry}. */
export interface StartRegistryOptions {
  /** `none` (default), `htpasswd` (Basic auth, bcrypt file) or `token` (bearer tokens from a fake token server). */
  auth?: RegistryAuth;
  /** Users for `htpasswd` / `token` auth (default: alice / wonderland-secret). */
  users?: readonly TestUser[];
  /** Serve HTTPS with a certificate for 127.0.0.1 / localhost signed by a fresh test CA. */
  tls?: boolean;
  /** Options for the token server started for `auth: 'token'` (users and dir are set by the registry). */
  tokenServer?: Omit<StartTokenServerOptions, 'users' | 'dir'>;
  /**
   * Deep-merged over the generated configuration (plain objects merge, anything else replaces;
   * `null` or `undefined` deletes a key). Example: `{ log: { level: 'debug' } }`.
   */
  extraConfig?: Record<string, unknown>;
  /** Keep the HTTP access log in {@link RegistryProcess.logs} (default false). */
  accessLog?: boolean;
  /** How long to wait for `GET /v2/` to answer (default 15 000 ms). */
  startTimeoutMs?: number;
  /** Path of the registry binary (default: `/usr/bin/docker-registry`, then `docker-registry` in PATH). */
  binary?: string;
}

/** A running `docker-registry serve` child process. */
export interface RegistryProcess {
  /** `127.0.0.1:PORT` — the registry part of image references. */
  host: string;
  /** `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`. */
  url: string;
  /** The temp dir holding config, storage, certificates and htpasswd file (removed by `stop()`). */
  dir: string;
  /** The auth variant. */
  auth: RegistryAuth;
  /** True when serving HTTPS. */
  tls: boolean;
  /** The test CA certificate (PEM) when `tls` is on. */
  caPem?: string;
  /** Path of the test CA certificate when `tls` is on. */
  caFile?: string;
  /** Directory holding only `ca.crt` when `tls` is on (for `skopeo --cert-dir`, `certs.d`-style trust). */
  caDir?: string;
  /** Users accepted by `htpasswd` / `token` auth (empty for `none`). */
  users: TestUser[];
  /** The fake token server when `auth` is `token`. */
  tokenServer?: TokenServer;
  /** The configuration that was written (as an object). */
  config: Record<string, unknown>;
  /** Path of the configuration file. */
  configPath: string;
  /** Process group id of the registry (its watchdog shell's pid); signal `-pgid` to reach both. */
  pgid: number;
  /** The last 64 KiB the registry printed (stdout + stderr). */
  logs(): string;
  /** Kills the registry (SIGTERM, then SIGKILL after 5 s), stops the token server, removes `dir`. */
  stop(): Promise<void>;
  /**
   * Crashes the registry (SIGKILL) and starts it again on the same port with the same
   * configuration and storage, as a registry restarted in the middle of traffic; resolves once it
   * answers again. `downMs` is how long it stays down (default 0).
   */
  restart(downMs?: number): Promise<void>;
}

const LOG_LIMIT = 64 * 1024;

/**
 * Runs the registry in its own process group under a tiny shell watchdog that kills it (and removes
 * its temp dir) when the Node process that started it disappears — even on SIGKILL, when no exit
 * handler runs. Arguments: $1 binary, $2 config, $3 temp dir.
 */
const WATCHDOG = [
  // The shell's own messages (dash reports "Terminated" jobs) must not go to the pipes: once Node
  // is gone, writing there raises SIGPIPE and would kill the watchdog before it cleans up.
  'exec 3>&1 4>&2 >/dev/null 2>&1',
  '"$1" serve "$2" </dev/null >&3 2>&4 3>&- 4>&- &',
  'exec 3>&- 4>&-',
  'r=$!',
  'trap \'kill -TERM "$r" 2>/dev/null; wait "$r"; exit 143\' TERM INT HUP',
  'while kill -0 "$r" 2>/dev/null && kill -0 "$PPID" 2>/dev/null; do sleep 1; done',
  'kill -TERM "$r" 2>/dev/null',
  'wait "$r"',
  's=$?',
  'if ! kill -0 "$PPID" 2>/dev/null; then case "$3" in */gantry-registry-*) rm -rf "$3" ;; esac; fi',
  'exit "$s"',
].join('\n');

/**
 * Finds the `docker-registry` binary or throws a loud error — tests that need a real registry must
 * fail, never skip, when it is missing.
 */
export function findDockerRegistry(explicit?: string): string {
  const candidates = explicit
    ? [explicit]
    : [
        '/usr/bin/docker-registry',
        ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'docker-registry')),
      ];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error(
    `docker-registry not found: install the Debian package docker-registry (looked in ${candidates.join(', ')})`,
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

/** Deep-merges `patch` into a copy of `base` (see {@link StartRegistryOptions.extraConfig}). */
export function mergeConfig(
  base: Record<string, unknown>,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null || value === undefined) delete out[key];
    else if (isPlainObject(value) && isPlainObject(out[key])) out[key] = mergeConfig(out[key], value);
    else out[key] = value;
  }
  return out;
}

/** Creates a bcrypt htpasswd file (what distribution requires) with the `htpasswd` command. */
async function writeHtpasswd(path: string, users: readonly TestUser[]): Promise<void> {
  const lines: string[] = [];
  for (const user of users) {
    const { stdout } = await runCommand('htpasswd', [
      '-B',
      '-C',
      '4',
      '-b',
      '-n',
      user.username,
      user.password,
    ]);
    lines.push(stdout.trim());
  }
  await writeFile(path, `${lines.join('\n')}\n`, { mode: 0o600 });
}

/** Collects a child's output, keeping only the tail. */
function captureOutput(child: ChildProcess): () => string {
  let buffer = '';
  const append = (chunk: Buffer): void => {
    buffer += chunk.toString('utf8');
    if (buffer.length > LOG_LIMIT) buffer = buffer.slice(buffer.length - LOG_LIMIT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return () => buffer;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined) return;
  killProcessGroup(child.pid, 'SIGTERM');
  if (await waitForExit(child, 5_000)) return;
  killProcessGroup(child.pid, 'SIGKILL');
  await waitForExit(child, 5_000);
}

/** The response header by which a registry tells it is this instance (see {@link waitUntilReady}). */
const INSTANCE_HEADER = 'x-gantry-test-instance';

/**
 * Polls `GET /v2/` until this instance answers 200 or 401, the child exits, or the deadline passes.
 * Two registries started at once can be handed the same "free" port; the loser exits with
 * "address already in use", but until then the winner answers on that port. So only an answer
 * carrying this instance's own header counts.
 */
async function waitUntilReady(
  url: string,
  child: ChildProcess,
  caPem: string | undefined,
  deadline: number,
  instance: string,
): Promise<'ready' | 'exited' | 'timeout'> {
  const dispatcher = new Agent({ connect: caPem ? { ca: caPem } : {}, pipelining: 0 });
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) return 'exited';
      try {
        const res = await request(`${url}/v2/`, { dispatcher, headersTimeout: 2_000, bodyTimeout: 2_000 });
        await res.body.dump();
        const ours = res.headers[INSTANCE_HEADER] === instance;
        if (ours && (res.statusCode === 200 || res.statusCode === 401)) return 'ready';
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    return 'timeout';
  } finally {
    await dispatcher.close();
  }
}

/**
 * Starts a real `docker-registry serve` on a free 127.0.0.1 port and resolves once `GET /v2/`
 * answers. Retries with another port when the one picked was taken meanwhile. Rejects with the
 * registry's output after `startTimeoutMs` (15 s). Always call `stop()` (e.g. in `afterAll`); an exit
 * handler and a watchdog kill leftovers anyway.
 */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<RegistryProcess> {
  const binary = findDockerRegistry(options.binary);
  const auth = options.auth ?? 'none';
  const users = auth === 'none' ? [] : [...(options.users ?? defaultTestUsers())];
  const dir = await mkdtemp(join(tmpdir(), 'gantry-registry-'));
  const unregisterDir = onProcessExit(() => removeDirSync(dir));
  let tokenServer: TokenServer | undefined;
  try {
    const storage = join(dir, 'storage');
    await mkdir(storage);
    let config: Record<string, unknown> = {
      version: '0.1',
      log: { level: 'warn', formatter: 'text', accesslog: { disabled: !options.accessLog } },
      storage: {
        filesystem: { rootdirectory: storage },
        delete: { enabled: true },
        maintenance: { uploadpurging: { enabled: false } },
      },
      http: { addr: '', secret: randomBytes(16).toString('hex') },
    };

    let caPem: string | undefined;
    let caFile: string | undefined;
    let caDir: string | undefined;
    if (options.tls) {
      const certs = await makeTestCertificates(dir);
      caPem = certs.caPem;
      caFile = certs.caFile;
      caDir = certs.caDir;
      config = mergeConfig(config, { http: { tls: { certificate: certs.certFile, key: certs.keyFile } } });
    }
    if (auth === 'htpasswd') {
      const path = join(dir, 'htpasswd');
      await writeHtpasswd(path, users);
      config = mergeConfig(config, { auth: { htpasswd: { realm: 'gantry-test-registry', path } } });
    } else if (auth === 'token') {
      const tokenDir = join(dir, 'token');
      await mkdir(tokenDir);
      tokenServer = await startTokenServer({ ...options.tokenServer, users, dir: tokenDir });
      config = mergeConfig(config, {
        auth: {
          token: {
            realm: tokenServer.realm,
            service: tokenServer.service,
            issuer: tokenServer.issuer,
            rootcertbundle: tokenServer.certPemPath,
          },
        },
      });
    }
    if (options.extraConfig) config = mergeConfig(config, options.extraConfig);

    const configPath = join(dir, 'config.yml');
    const timeoutMs = options.startTimeoutMs ?? 15_000;
    const deadline = Date.now() + timeoutMs;
    const scheme = options.tls ? 'https' : 'http';
    let attemptLogs = '';

    for (let attempt = 1; attempt <= 5; attempt++) {
      const port = await getFreePort();
      const host = `127.0.0.1:${port}`;
      const url = `${scheme}://${host}`;
      const instance = randomBytes(8).toString('hex');
      config = mergeConfig(config, { http: { addr: host, headers: { [INSTANCE_HEADER]: [instance] } } });
      // JSON is YAML, and distribution's YAML parser reads it.
      await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);

      const launch = async (): Promise<{
        child: ChildProcess;
        logs: () => string;
        unregister: () => void;
      }> => {
        const child = spawn('sh', ['-c', WATCHDOG, 'gantry-registry-watchdog', binary, configPath, dir], {
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const logs = captureOutput(child);
        const spawned = await new Promise<Error | undefined>((resolve) => {
          child.once('spawn', () => resolve(undefined));
          child.once('error', resolve);
        });
        if (spawned) throw new Error(`cannot start docker-registry: ${spawned.message}`, { cause: spawned });
        const pid = child.pid!;
        return { child, logs, unregister: onProcessExit(() => killProcessGroup(pid, 'SIGKILL')) };
      };
      let { child, logs, unregister: unregisterChild } = await launch();
      const pid = child.pid!;

      const state = await waitUntilReady(url, child, caPem, deadline, instance);
      if (state === 'ready') {
        let stopped = false;
        const registry: RegistryProcess = {
          host,
          url,
          dir,
          auth,
          tls: options.tls === true,
          users,
          config,
          configPath,
          pgid: pid,
          logs: () => logs(),
          async stop() {
            if (stopped) return;
            stopped = true;
            await killChild(child);
            unregisterChild();
            await tokenServer?.stop();
            await rm(dir, { recursive: true, force: true });
            unregisterDir();
          },
          async restart(downMs = 0) {
            killProcessGroup(child.pid!, 'SIGKILL');
            await waitForExit(child, 5_000);
            unregisterChild();
            if (downMs > 0) await sleep(downMs);
            ({ child, logs, unregister: unregisterChild } = await launch());
            const again = await waitUntilReady(url, child, caPem, Date.now() + timeoutMs, instance);
            if (again !== 'ready') throw new Error(`restarted registry ${host}: ${again}\n${logs()}`);
          },
        };
        if (caPem !== undefined) registry.caPem = caPem;
        if (caFile !== undefined) registry.caFile = caFile;
        if (caDir !== undefined) registry.caDir = caDir;
        if (tokenServer) registry.tokenServer = tokenServer;
        return registry;
      }

      await killChild(child);
      unregisterChild();
      const output = logs();
      attemptLogs += `--- attempt ${attempt} (${host}): ${state}\n${output}\n`;
      if (state === 'exited' && /address already in use/i.test(output) && Date.now() < deadline) continue;
      const why =
        state === 'timeout'
          ? `GET ${url}/v2/ did not answer 200/401 within ${timeoutMs} ms`
          : `docker-registry exited early (code ${String(child.exitCode)}, signal ${String(child.signalCode)})`;
      throw new Error(
        `startRegistry failed: ${why}\nconfig: ${configPath}\nregistry output:\n${attemptLogs}`,
      );
    }
    throw new Error(`startRegistry failed: no free port after 5 attempts\nregistry output:\n${attemptLogs}`);
  } catch (error) {
    await tokenServer?.stop();
    await rm(dir, { recursive: true, force: true });
    unregisterDir();
    throw error;
  }
}
