/**
 * `gantry serve`: the HTTP API over the embedded store (PGlite in `--data-dir`) or PostgreSQL
 * (`--database-url` / `GANTRY_DATABASE_URL`). Logs are JSON lines on stdout (pino) with request
 * ids and without secrets. SIGTERM/SIGINT shut down gracefully (requests finish, the store closes
 * and the data-dir lock is released); SIGHUP reloads gantry.yaml and records it in the ledger.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { createApp, runGc, runSync } from '../../app.js';
import {
  findConfigFile,
  formatDuration,
  formatProblem,
  MAX_CONFIG_FILE_BYTES,
  parseConfig,
  parseDuration,
  webhookTargets,
} from '../../config/index.js';
import { GantryError, toGantryError } from '../../core/index.js';
import { redactDatabaseUrl } from '../../store/index.js';
import { requestLogSerializer, runServer, type AppDeps, type LoadedApp } from '../../server/index.js';
import { authFilePath } from '../registry-options.js';
import { VERSION } from '../version.js';
import { storeOptions, type StoreCommandOptions } from './store-options.js';

/** Options of `gantry serve`. */
export interface ServeOptions extends StoreCommandOptions {
  readonly config?: string;
  readonly authfile?: string;
  /** `host:port`; default `127.0.0.1:8080`. */
  readonly listen?: string;
  /** `--no-dashboard`: serve the API only. */
  readonly dashboard?: boolean;
  /** `--job-lease DURATION`: how long a promotion job stays with a replica that stops renewing it. */
  readonly jobLease?: string;
}

/** The shortest and longest `--job-lease`: heartbeats go every third of it. */
const JOB_LEASE_MS = { min: 3_000, max: 600_000, default: 15_000 } as const;

/** Runs the server until SIGTERM or SIGINT; returns the exit code. */
export async function serve(options: ServeOptions): Promise<number> {
  const { host, port } = parseListen(options.listen ?? '127.0.0.1:8080');
  const leaseMs = parseJobLease(options.jobLease);
  const dashboardDir = options.dashboard === false ? undefined : builtDashboard();
  const file = findConfigFile(options.config);
  const store = storeOptions(options, {
    ...(bundledTemplate() !== undefined && { template: bundledTemplate() }),
  });
  const bootstrapToken = process.env.GANTRY_BOOTSTRAP_TOKEN;
  const logger = pino({
    level: logLevel(process.env.GANTRY_LOG_LEVEL),
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // The request log's URL, with credential-like query values redacted.
    serializers: { req: requestLogSerializer },
    // Nothing logs these on purpose; the redaction is the net under it.
    redact: {
      paths: [
        'req.headers.authorization',
        'headers.authorization',
        'token',
        '*.token',
        'password',
        '*.password',
      ],
      censor: '[redacted]',
    },
  });
  const loadApp = async (deps: AppDeps): Promise<LoadedApp> => {
    const config = await loadConfigWithHash(file);
    // Every webhook's secret must be set now: a missing one is a configuration error at start
    // (or a refused reload), not a delivery failing later.
    const webhooks = webhookTargets(config.config, process.env);
    return {
      webhooks,
      app: createApp({
        config: config.config,
        env: process.env,
        authFile: authFilePath(options.authfile),
        actor: 'gantry serve',
        approvals: deps.approvals,
        // Every replica writes referrer indexes under one lease per subject: no settle wait.
        referrerLock: (key, task) => deps.withLease(`referrers:${key}`, 30_000, () => task()),
      }),
      file,
      sha256: config.sha256,
    };
  };
  const running = await runServer({
    store,
    loadApp,
    host,
    port,
    logger,
    ...(bootstrapToken !== undefined && bootstrapToken !== '' && { bootstrapToken }),
    version: VERSION,
    lifecycleRunners: { gc: runGc, sync: runSync },
    runtime: { leaseMs },
    ...(dashboardDir !== undefined && { dashboardDir }),
  });
  const where =
    'databaseUrl' in store
      ? `PostgreSQL at ${redactDatabaseUrl(store.databaseUrl)}`
      : `PGlite in ${store.dataDir}`;
  logger.info({ url: running.url, store: running.store.kind }, 'listening');
  process.stderr.write(`gantry serve: listening on ${running.url} (store: ${where})\n`);
  if (dashboardDir !== undefined) process.stderr.write(`gantry serve: dashboard at ${running.url}/\n`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      running.close().then(
        () => {
          logger.info({}, 'stopped');
          finish(0);
        },
        (error: unknown) => {
          logger.error(
            { code: toGantryError(error).code, message: toGantryError(error).message },
            'shutdown failed',
          );
          finish(1);
        },
      );
    };
    const reload = (): void => {
      running.reload().then(
        (loaded) => logger.info({ file: loaded.file, sha256: loaded.sha256 }, 'configuration reloaded'),
        (error: unknown) => {
          const e = toGantryError(error);
          logger.error(
            { code: e.code, message: e.message },
            'configuration not reloaded; serving the previous one',
          );
        },
      );
    };
    const onTerm = (): void => stop('SIGTERM');
    const onInt = (): void => stop('SIGINT');
    const finish = (code: number): void => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      process.off('SIGHUP', reload);
      logger.flush();
      resolve(code);
    };
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    process.on('SIGHUP', reload);
  });
}

/** `--job-lease`, e.g. `15s` or `1m`, in ms; between 3 s and 10 min. */
export function parseJobLease(value: string | undefined): number {
  if (value === undefined) return JOB_LEASE_MS.default;
  const ms = parseDuration(value);
  if (ms === undefined || ms < JOB_LEASE_MS.min || ms > JOB_LEASE_MS.max)
    throw new GantryError(
      'USAGE_INVALID',
      `--job-lease must be a duration from ${formatDuration(JOB_LEASE_MS.min)} to ${formatDuration(JOB_LEASE_MS.max)}, such as 15s or 1m; got "${value}"`,
    );
  return ms;
}

/** Parses `host:port` (`[v6]:port` for IPv6); port 0 picks a free one. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new GantryError(
      'USAGE_INVALID',
      `--listen ${value}: expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080`,
    );
  return { host: m[1] ?? m[2] ?? '', port };
}

/** Reads gantry.yaml once, hashes exactly the bytes that are parsed, and validates them. */
async function loadConfigWithHash(
  file: string,
): Promise<{ config: NonNullable<ReturnType<typeof parseConfig>['config']>; sha256: string }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new GantryError(
      code === 'ENOENT' ? 'CONFIG_NOT_FOUND' : 'CONFIG_INVALID',
      `${file}: cannot read the configuration (${code ?? 'error'})`,
      { cause: error },
    );
  }
  if (bytes.length > MAX_CONFIG_FILE_BYTES)
    throw new GantryError('CONFIG_INVALID', `${file}: larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
  const { config, problems } = parseConfig(file, bytes.toString('utf8'));
  if (!config) {
    const [first, ...rest] = problems;
    throw new GantryError(
      'CONFIG_INVALID',
      `${first ? formatProblem(first) : `${file}: invalid`}${rest.length ? ` (and ${rest.length} more)` : ''}`,
    );
  }
  return { config, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * The data-dir template built with the bundle (`dist/store-template`, scripts/build.mjs), or
 * `GANTRY_STORE_TEMPLATE`; a first start copies it instead of running PGlite's initdb.
 */
function bundledTemplate(): string | undefined {
  const env = process.env.GANTRY_STORE_TEMPLATE;
  if (env !== undefined && env !== '') return env;
  // In the bundle (dist/cli.cjs) __dirname is dist/; from source there is no template.
  const dir = typeof __dirname === 'string' ? join(__dirname, 'store-template') : undefined;
  return dir !== undefined && existsSync(dir) ? dir : undefined;
}

/** The built dashboard next to the bundle (dist/web); none from source. */
function builtDashboard(): string | undefined {
  const dir = typeof __dirname === 'string' ? join(__dirname, 'web') : undefined;
  return dir !== undefined && existsSync(join(dir, 'index.html')) ? dir : undefined;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** `GANTRY_LOG_LEVEL` (default `info`); anything else is a usage error, not pino's exception. */
function logLevel(value: string | undefined): string {
  if (value === undefined || value === '') return 'info';
  if (LOG_LEVELS.includes(value)) return value;
  throw new GantryError(
    'USAGE_INVALID',
    `GANTRY_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, not "${value}"`,
  );
}
