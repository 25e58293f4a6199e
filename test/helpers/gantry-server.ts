/**
 * A real `gantry serve` process (bin/gantry.js, the built bundles) for integration tests and
 * benchmarks: started on a free loopback port, ready once `/readyz` answers 200, stopped with
 * SIGTERM or killed with SIGKILL. Its output is kept for assertions and failure messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { getFreePort } from './free-port.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Options of {@link startGantryServer}. */
export interface GantryServerOptions {
  /** gantry.yaml. */
  readonly config: string;
  /** `--data-dir` (embedded store), unless `databaseUrl` is given. */
  readonly dataDir?: string;
  /** `--database-url` (PostgreSQL). */
  readonly databaseUrl?: string;
  /** `GANTRY_BOOTSTRAP_TOKEN`. */
  readonly bootstrapToken?: string;
  /** More arguments of `gantry serve`. */
  readonly args?: readonly string[];
  /** More environment variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** Port; default a free one. */
  readonly port?: number;
  /** Node.js flags for the server process (e.g. `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
  /** How long to wait for `/readyz`. Default 30 s. */
  readonly readyTimeoutMs?: number;
}

/** A running server process. */
export interface GantryServerProcess {
  readonly child: ChildProcess;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Everything written so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then wait for the exit (SIGKILL after `graceMs`, default 15 s). */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
}

/** Starts `gantry serve` and waits until it is ready. */
export async function startGantryServer(options: GantryServerOptions): Promise<GantryServerProcess> {
  const port = options.port ?? (await getFreePort());
  const args = [
    ...(options.nodeArgs ?? []),
    `${root}bin/gantry.js`,
    'serve',
    '--config',
    options.config,
    '--listen',
    `127.0.0.1:${port}`,
    ...(options.databaseUrl !== undefined
      ? ['--database-url', options.databaseUrl]
      : options.dataDir !== undefined
        ? ['--data-dir', options.dataDir]
        : []),
    ...(options.args ?? []),
  ];
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: {
      ...process.env,
      ...(options.bootstrapToken !== undefined && { GANTRY_BOOTSTRAP_TOKEN: options.bootstrapToken }),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const server: GantryServerProcess = {
    child,
    url,
    port,
    output: () => ({ stdout, stderr }),
    exited,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gantry serve exited ${child.exitCode}: ${stderr}`);
    try {
      const res = await fetch(`${url}/readyz`);
      await res.body?.cancel();
      if (res.status === 200) return server;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await server.kill();
  throw new Error(`gantry serve not ready within ${options.readyTimeoutMs ?? 30_000} ms: ${stderr}`);
}

/**
 * One call of a Gantry server's API with a bearer token: the status and the parsed JSON body
 * (never throws on an HTTP error status; check `status`).
 */
export async function api<T = Record<string, unknown>>(
  server: { url: string },
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** What {@link createApiToken} asks for: the body of `POST /api/v1/tokens`. */
export interface ApiTokenRequest {
  readonly name: string;
  readonly roles: readonly string[];
  readonly teams?: readonly string[];
  readonly groups?: readonly string[];
  readonly expiresIn?: string;
}

/**
 * A new API token made through the server's API (`POST /api/v1/tokens` with `adminToken`,
 * usually the bootstrap token): its secret. Throws with the status and the body unless the
 * answer is 201, so a suite's set-up fails right there.
 */
export async function createApiToken(
  server: { url: string },
  adminToken: string,
  request: ApiTokenRequest,
): Promise<string> {
  const r = await api<{ token: string }>(server, adminToken, 'POST', '/api/v1/tokens', request);
  if (r.status !== 201)
    throw new Error(`POST /api/v1/tokens (${request.name}): ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

/**
 * Polls `GET /api/v1/promotions/{id}` until the promotion is in one of `states` and returns what
 * the API shows of it; throws with the state it is in when `timeoutMs` (default 60 s) passes.
 */
export async function waitForPromotionState<T extends { state: string }>(
  server: { url: string },
  token: string,
  id: string,
  states: readonly string[],
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  let last = 'unknown';
  return waitUntil(
    () => `promotion ${id} to be ${states.join('|')} (it is ${last} after ${options.timeoutMs ?? 60_000} ms)`,
    async () => {
      const r = await api<T>(server, token, 'GET', `/api/v1/promotions/${id}`);
      last = r.body.state;
      return r.status === 200 && states.includes(r.body.state) ? r.body : undefined;
    },
    options,
  );
}

/**
 * Calls `probe` every `intervalMs` (default 100) until it gives a value other than undefined,
 * and returns that value; throws `timed out waiting for ${what}` after `timeoutMs` (default 60 s)
 * (`what` may be a function, read then, to say how far it got).
 */
export async function waitUntil<T>(
  what: string | (() => string),
  probe: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const end = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
