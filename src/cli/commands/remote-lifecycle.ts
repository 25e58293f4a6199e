/**
 * `gantry gc --server` and `gantry sync --server`: the lifecycle runs of a Gantry server
 * (docs/server.md, "Using the CLI with a server"). Each run is asked for with
 * `POST /api/v1/lifecycle/runs` (an admin token) and followed with `GET /api/v1/lifecycle/runs/{id}`
 * until it ends (a read that goes unanswered is tried again once; two in a row are
 * `SERVER_UNREACHABLE`). Then its report is printed as the local command prints its own, with the
 * same exit codes. The server runs with its own gantry.yaml and credentials, so the flags that change the
 * local run (`--keep`, `--older-than`, `--config`, …) are refused rather than ignored.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDuration } from '../../config/index.js';
import { GantryError } from '../../core/index.js';
import type { LifecycleReport } from '../../app.js';
import { finishGc, finishSync, knownCode, printGcDeletion } from '../lifecycle-report.js';
import { printLines } from '../output.js';
import { progressMode } from '../progress.js';
import { isRecord, objectWith, type ServerClient, type Shape } from '../server-client.js';
import { clientFor, LOCAL_APP_FLAGS, type RemoteOptions } from './remote.js';

/** What every lifecycle command accepts against a server. */
export interface RemoteLifecycleOptions extends RemoteOptions {
  /** `--timeout DURATION`: how long to wait for each run's end. Default: until it ends. */
  readonly timeout?: string;
}

/** Options of `gantry gc --server`. */
export interface RemoteGcOptions extends RemoteLifecycleOptions {
  readonly env: string;
  readonly yes?: boolean;
  /** Local only (the server applies its environment's `retention:`): refused. */
  readonly keep?: string;
  /** Local only: refused. */
  readonly olderThan?: string;
}

/** Options of `gantry sync --server`. */
export interface RemoteSyncOptions extends RemoteLifecycleOptions {
  readonly dryRun?: boolean;
}

/** A lifecycle run as `GET /api/v1/lifecycle/runs/{id}` shows it (the fields used here). */
export interface RunView {
  readonly id: string;
  readonly kind: string;
  readonly name: string;
  readonly state: string;
  readonly error?: { readonly code: string; readonly message: string } | null;
  readonly report?: unknown;
}

const runView: Shape<RunView> = objectWith<RunView>({
  id: 'string',
  kind: 'string',
  name: 'string',
  state: 'string',
});

/** `GET /api/v1/lifecycle/jobs`: the fields used here. */
const jobList: Shape<{ jobs: { kind: string; name: string }[] }> = (value) => {
  const list = objectWith<{ jobs: unknown[] }>({ jobs: 'array' })(value);
  return {
    jobs: list.jobs.map((j) =>
      objectWith<{ kind: string; name: string }>({ kind: 'string', name: 'string' })(j),
    ),
  };
};

/** How often a run is read again while it goes on. */
const POLL_MS = 500;

/** `gantry gc --env ENV --server URL [--yes]`: a plan unless `--yes`, as locally. */
export async function gc(options: RemoteGcOptions): Promise<number> {
  const timeoutMs = timeoutOf(options.timeout);
  const client = clientFor(options, [...LOCAL_APP_FLAGS, 'keep', 'olderThan']);
  const json = options.json === true;
  const report = await runOnServer(
    client,
    { kind: 'gc', name: options.env, dryRun: options.yes !== true },
    json,
    timeoutMs,
    options.timeout,
  );
  // Locally each deletion is printed as it happens; here they all happened on the server.
  if (!json && !report.dryRun) for (const item of report.items) if (item.done) printGcDeletion(item);
  return finishGc(report, json);
}

/** `gantry sync NAME... --server URL [--dry-run]`: one run per job, one after the other. */
export async function sync(names: string[], options: RemoteSyncOptions): Promise<number> {
  const timeoutMs = timeoutOf(options.timeout);
  const client = clientFor(options, LOCAL_APP_FLAGS);
  const json = options.json === true;
  // No names: every sync job of the server's configuration, as locally.
  const jobs = names.length > 0 ? names : await serverSyncJobs(client);
  const reports: LifecycleReport[] = [];
  try {
    for (const name of jobs)
      reports.push(
        await runOnServer(
          client,
          { kind: 'sync', name, dryRun: options.dryRun === true },
          json,
          timeoutMs,
          options.timeout,
        ),
      );
  } catch (error) {
    // The jobs before it did run on the server: say so before the error (not with --json: one document).
    if (!json) finishSync(reports, false);
    throw error;
  }
  return finishSync(reports, json);
}

/** The names of the server's sync jobs (`GET /api/v1/lifecycle/jobs`); none is a usage error, as locally. */
async function serverSyncJobs(client: ServerClient): Promise<string[]> {
  const { jobs } = await client.get('/lifecycle/jobs', jobList);
  const names = jobs.filter((j) => j.kind === 'sync').map((j) => j.name);
  if (names.length === 0)
    throw new GantryError(
      'USAGE_INVALID',
      `the configuration of ${client.server} has no sync jobs (the sync: section)`,
    );
  return names;
}

/** `--timeout` in milliseconds (undefined: none); a malformed one is a usage error. */
function timeoutOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0)
    throw new GantryError('USAGE_INVALID', `--timeout must be a duration such as 30m or 1h30m, not ${text}`);
  return ms;
}

/** Asks the server for a run, follows it until it ends and returns its report. */
async function runOnServer(
  client: ServerClient,
  body: { kind: 'gc' | 'sync'; name: string; dryRun: boolean },
  json: boolean,
  timeoutMs: number | undefined,
  timeoutText: string | undefined,
): Promise<LifecycleReport> {
  const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  const say =
    progressMode({ json }) === 'none' ? undefined : (line: string) => process.stderr.write(`${line}\n`);
  const path = (id: string): string => `/lifecycle/runs/${encodeURIComponent(id)}`;
  let run = await client.post('/lifecycle/runs', body, runView);
  const what = `${body.kind} ${body.name}`;
  say?.(`${what}: run ${run.id} ${run.state} on ${client.server}`);
  let state = run.state;
  let strikes = 0;
  // The answer to the POST has no report (and the run is queued): read the run until it ends.
  for (;;) {
    if (deadline !== undefined && Date.now() >= deadline) {
      if (!json) printLines(run.id);
      throw new GantryError(
        'LIFECYCLE_WAIT_TIMEOUT',
        `${what}: run ${run.id} is still ${run.state} after --timeout ${timeoutText ?? ''}; it goes on on the server`,
        { details: { run: run.id, state: run.state } },
      );
    }
    await sleep(deadline === undefined ? POLL_MS : Math.max(0, Math.min(POLL_MS, deadline - Date.now())));
    try {
      run = await client.get(path(run.id), runView);
      strikes = 0;
    } catch (error) {
      // One unanswered read is tolerated (a replica restarting; the run goes on elsewhere), two in a row are not.
      if (!(error instanceof GantryError) || error.code !== 'SERVER_UNREACHABLE' || ++strikes > 1)
        throw error;
      continue;
    }
    if (run.state !== state) {
      state = run.state;
      say?.(`${what}: run ${run.id} ${run.state}`);
    }
    if (hasEnded(run.state)) break;
  }
  return reportOf(run, client.server);
}

/** True when a run in `state` has ended. */
function hasEnded(state: string): boolean {
  return state === 'succeeded' || state === 'failed';
}

/**
 * The report of a run that ended. A failed run carries its error in the report (it stopped early)
 * or, when it could not run at all, only on the run: then that error is thrown with its own code.
 */
export function reportOf(run: RunView, server: string): LifecycleReport {
  const error = isRecord(run.error) ? run.error : undefined;
  if (run.report === null || run.report === undefined) {
    if (run.state === 'failed' && error)
      throw new GantryError(
        knownCode(error.code),
        `${run.kind} ${run.name}: run ${run.id} failed: ${error.message}${knownCode(error.code) === error.code ? '' : ` (code ${error.code})`}`,
        { details: { run: run.id } },
      );
    throw new GantryError('SERVER_PROTOCOL', `${server} shows run ${run.id} ${run.state} without a report`);
  }
  const report = checkedReport(run.report, server, run.id);
  if (run.state === 'failed' && report.error === undefined && error)
    return { ...report, error: { code: error.code, message: error.message } };
  return report;
}

/** The report of run `id`, checked for the fields the printers read. */
function checkedReport(value: unknown, server: string, id: string): LifecycleReport {
  try {
    const report = objectWith<LifecycleReport>({
      kind: 'string',
      name: 'string',
      dryRun: 'boolean',
      startedAt: 'string',
      finishedAt: 'string',
      items: 'array',
      kept: 'object',
      totals: 'object',
    })(value);
    for (const item of report.items)
      objectWith({ action: 'string', repository: 'string', digest: 'string' })(item);
    return report;
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new GantryError('SERVER_PROTOCOL', `${server} shows run ${id} with a malformed report (${why})`);
  }
}
