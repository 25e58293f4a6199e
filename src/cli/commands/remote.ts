/**
 * The commands that go through a Gantry server when `--server URL` or `GANTRY_SERVER` is set
 * (docs/server.md, "Using the CLI with a server"): `promote` (and `promote --release`), `approve`,
 * `reject`, `status`, `history` and `rollback` here, `gc` and `sync` in remote-lifecycle.ts. They
 * print what the local commands print and keep their exit codes; the server holds the registry
 * credentials and the identity is the API token.
 */
import { loadReleaseFile, parseDuration } from '../../config/index.js';
import { ErrorCodes, GantryError, type ErrorCode } from '../../core/index.js';
import type { EnvironmentState, RollbackOutcome } from '../../app.js';
import type { PromotionView } from '../../jobs/index.js';
import { printJson, printLines } from '../output.js';
import { createPromotionProgress } from '../promotion-progress.js';
import { reportPromotion } from '../promotion-report.js';
import { hasEnded, promotionView, watchPromotion } from '../promotion-watch.js';
import { progressMode } from '../progress.js';
import { serverUrlOf } from '../cli-options.js';
import { objectWith, ServerClient } from '../server-client.js';
import { printHistory, printStatus } from './environments.js';
import { printRollback } from './rollback.js';
import { printWaiting, waitingJson, waitingPromotions } from './waiting.js';

/** What every command accepts against a server. */
export interface RemoteOptions {
  readonly server?: string;
  readonly json?: boolean;
  /** Flags of the local form that mean nothing against a server (refused, not ignored). */
  readonly config?: string;
  readonly authfile?: string;
  readonly actor?: string;
}

/** Options of `gantry promote --server`. */
export interface RemotePromoteOptions extends RemoteOptions {
  readonly to: string;
  readonly from?: string;
  readonly release?: string;
  readonly report?: string[];
  readonly override?: boolean;
  readonly reason?: string;
  /** False with `--no-wait`. */
  readonly wait?: boolean;
  /** `--timeout DURATION`: how long to wait for the end. */
  readonly timeout?: string;
}

/** Options of `gantry approve --server` and `gantry reject`. */
export interface DecisionOptions extends RemoteOptions {
  readonly env?: string;
  readonly key?: string;
  readonly from?: string;
  readonly comment?: string;
  readonly reason?: string;
}

/** The client of the server `options` name, refusing the local flags in `local` that were given. */
export function clientFor(options: RemoteOptions, local: readonly string[]): ServerClient {
  const server = serverUrlOf(options.server);
  if (server === undefined)
    throw new GantryError('USAGE_INVALID', 'no server: pass --server URL or set GANTRY_SERVER');
  const given = local.filter((flag) => {
    const v = (options as Record<string, unknown>)[flag];
    return v !== undefined && !(Array.isArray(v) && v.length === 0);
  });
  if (given.length > 0)
    throw new GantryError(
      'USAGE_INVALID',
      `${given.map(flagOf).join(', ')} ${given.length === 1 ? 'has' : 'have'} no effect against a server (it uses its own gantry.yaml and credentials, and your identity is GANTRY_TOKEN's); drop ${given.length === 1 ? 'it' : 'them'}`,
    );
  return ServerClient.fromEnvironment(server);
}

/** The flag of an option name: `olderThan` → `--older-than`. */
export function flagOf(option: string): string {
  return `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** The flags of commands that read gantry.yaml, refused against a server. */
export const LOCAL_APP_FLAGS = ['config', 'authfile', 'actor'] as const;

/** `gantry promote --server`: requests the promotion and, unless `--no-wait`, waits for its end. */
export async function promote(
  app: string | undefined,
  reference: string | undefined,
  options: RemotePromoteOptions,
): Promise<number> {
  const timeoutMs = options.timeout === undefined ? undefined : parseDuration(options.timeout);
  if (options.timeout !== undefined && (timeoutMs === undefined || timeoutMs <= 0))
    throw new GantryError(
      'USAGE_INVALID',
      `--timeout must be a duration such as 30m or 1h30m, not ${options.timeout}`,
    );
  if (options.override && !options.reason)
    throw new GantryError('USAGE_INVALID', '--override needs --reason TEXT saying why');
  const client = clientFor(options, [...LOCAL_APP_FLAGS, 'report']);
  let view: PromotionView;
  let release: string | undefined;
  if (options.release !== undefined) {
    if (app !== undefined)
      throw new GantryError('USAGE_INVALID', 'pass either APP VERSION or --release FILE, not both');
    const file = await loadReleaseFile(options.release);
    release = file.name ?? options.release;
    view = await client.post(
      '/releases',
      {
        to: options.to,
        ...(options.from !== undefined && { from: options.from }),
        applications: file.applications.map((a) => ({ app: a.app, ...versionOrDigest(a.reference) })),
      },
      promotionView,
    );
  } else {
    if (app === undefined || reference === undefined)
      throw new GantryError('USAGE_INVALID', 'missing APP and VERSION (or --release FILE)');
    view = await client.post(
      '/promotions',
      {
        app,
        ...versionOrDigest(reference),
        to: options.to,
        ...(options.from !== undefined && { from: options.from }),
        ...(options.override && options.reason !== undefined && { override: options.reason }),
      },
      promotionView,
    );
  }
  if (options.wait === false) {
    if (options.json) printJson(view);
    else printLines(view.id);
    return 0;
  }
  const json = options.json === true;
  const progress = await createPromotionProgress(
    progressMode({ json }),
    `gantry approve ${view.id} --server ${client.server}`,
  );
  progress.event({ type: 'state', id: view.id, state: view.state, time: view.updatedAt });
  let end: PromotionView;
  try {
    if (hasEnded(view.state)) end = view;
    else {
      const r = await watchPromotion(client, view.id, {
        state: view.state,
        onEvent: (e) => progress.event(e),
        ...(timeoutMs !== undefined && { deadline: Date.now() + timeoutMs }),
      });
      if (!r.ended) {
        if (!json) printLines(view.id);
        throw new GantryError(
          'PROMOTION_WAIT_TIMEOUT',
          `promotion ${view.id} is still ${r.state} after --timeout ${options.timeout ?? ''}; it goes on on the server`,
          { details: { promotion: view.id, state: r.state } },
        );
      }
      end = r.view;
    }
  } finally {
    progress.stop();
  }
  return finish(end, json, release);
}

/** Prints a promotion that ended and returns its exit code; a promotion that did not complete is an error. */
function finish(view: PromotionView, json: boolean, release: string | undefined): number {
  const details = { promotion: view.id, state: view.state };
  if (view.state === 'rejected')
    throw new GantryError(
      'PROMOTION_GATES_FAILED',
      `promotion ${view.id} was rejected: ${view.reason ?? 'no reason given'}`,
      { details },
    );
  if (view.state === 'cancelled')
    throw new GantryError(
      'PROMOTION_CANCELLED',
      `promotion ${view.id} was cancelled${view.reason ? `: ${view.reason}` : ''}`,
      { details },
    );
  if (view.state === 'failed') {
    const code = view.error?.code ?? '';
    const known = (ErrorCodes as readonly string[]).includes(code);
    throw new GantryError(
      known ? (code as ErrorCode) : 'SERVER_PROTOCOL',
      `promotion ${view.id} failed: ${view.error?.message ?? 'no error given'}${known ? '' : ` (code ${code || 'none'})`}`,
      { details },
    );
  }
  if (release !== undefined) {
    const outcome = { status: 'completed', environment: view.environment, applications: view.applications };
    if (json) printJson({ release, ...outcome });
    else {
      printLines(`Promoted release ${release} to ${view.environment}:`);
      for (const o of view.applications) reportPromotion(o, false);
    }
    return 0;
  }
  const outcome = view.applications[0];
  if (!outcome) throw new GantryError('SERVER_PROTOCOL', `promotion ${view.id} names no application`);
  reportPromotion(outcome, json);
  return 0;
}

/** `{version}` for a tag, `{digest}` for a digest. */
function versionOrDigest(reference: string): { version: string } | { digest: string } {
  return reference.startsWith('sha256:') ? { digest: reference } : { version: reference };
}

/**
 * The promotion an approval or rejection is about: the id given, or the one promotion of
 * APP VERSION to `--env` that awaits approval.
 */
async function promotionOf(
  client: ServerClient,
  first: string | undefined,
  reference: string | undefined,
  options: DecisionOptions,
  verb: string,
): Promise<string> {
  if (first === undefined)
    throw new GantryError(
      'USAGE_INVALID',
      `missing the promotion: gantry ${verb} ID, or gantry ${verb} APP VERSION --env ENV`,
    );
  if (reference === undefined) {
    if (options.env !== undefined || options.from !== undefined)
      throw new GantryError(
        'USAGE_INVALID',
        `--env and --from go with APP VERSION; a promotion id names its environments`,
      );
    return first;
  }
  if (options.env === undefined)
    throw new GantryError('USAGE_INVALID', `APP VERSION needs --env ENV (or give the promotion id alone)`);
  const page = await client.get(
    '/promotions',
    objectWith<{ promotions: PromotionView[] }>({ promotions: 'array' }),
    { app: first, env: options.env, state: 'awaiting-approval', limit: '500' },
  );
  const matches = page.promotions.filter((p) => {
    promotionView(p);
    return (
      (options.from === undefined || p.from === options.from) &&
      p.applications.some(
        (a) => a.application === first && (a.version === reference || a.digest === reference),
      )
    );
  });
  const what = `${first} ${reference} to ${options.env}`;
  if (matches.length === 0)
    throw new GantryError(
      'API_NOT_FOUND',
      `no promotion of ${what} is awaiting approval on ${client.server}`,
    );
  if (matches.length > 1)
    throw new GantryError(
      'USAGE_INVALID',
      `${matches.length} promotions of ${what} are awaiting approval (${matches.map((m) => m.id).join(', ')}); give the id of one`,
    );
  return matches[0]?.id ?? '';
}

/** `gantry approve --server ID|APP VERSION --env ENV [--comment TEXT]`. */
export async function approve(
  first: string | undefined,
  reference: string | undefined,
  options: DecisionOptions,
): Promise<number> {
  const client = clientFor(options, [...LOCAL_APP_FLAGS, 'key']);
  const id = await promotionOf(client, first, reference, options, 'approve');
  const view = await client.post(
    `/promotions/${encodeURIComponent(id)}/approvals`,
    options.comment !== undefined ? { comment: options.comment } : {},
    promotionView,
  );
  if (options.json) printJson(view);
  else printLines(`Approved promotion ${view.id} (${describe(view)}); it is now ${view.state}`);
  return 0;
}

/** `gantry reject ID|APP VERSION --env ENV --reason TEXT` (against a server only). */
export async function reject(
  first: string | undefined,
  reference: string | undefined,
  options: DecisionOptions,
): Promise<number> {
  const client = clientFor(options, [...LOCAL_APP_FLAGS]);
  if (options.reason === undefined || options.reason.trim() === '')
    throw new GantryError('USAGE_INVALID', 'gantry reject needs --reason TEXT saying why');
  const id = await promotionOf(client, first, reference, options, 'reject');
  const view = await client.post(
    `/promotions/${encodeURIComponent(id)}/rejections`,
    { reason: options.reason },
    promotionView,
  );
  if (options.json) printJson(view);
  else printLines(`Rejected promotion ${view.id} (${describe(view)}): ${options.reason}`);
  return 0;
}

function describe(view: PromotionView): string {
  const apps = view.applications.map((a) => `${a.application} ${a.version ?? a.digest}`).join(', ');
  return `${apps} to ${view.environment}`;
}

/** `gantry status --server`. */
export async function status(options: RemoteOptions): Promise<number> {
  const client = clientFor(options, LOCAL_APP_FLAGS);
  const body = await client.get('/status', objectWith<{ cells: EnvironmentState[] }>({ cells: 'array' }));
  const waiting = await waitingPromotions(client);
  if (options.json) return printStatus(body.cells, true, { waiting: waitingJson(waiting) });
  const code = printStatus(body.cells, false);
  printWaiting(waiting);
  return code;
}

/** `gantry history --server APP --env ENV`. */
export async function history(
  app: string,
  options: RemoteOptions & { readonly env: string },
): Promise<number> {
  const client = clientFor(options, LOCAL_APP_FLAGS);
  const body = await client.get(
    `/applications/${encodeURIComponent(app)}/history`,
    objectWith<{ entries: Parameters<typeof printHistory>[2] }>({ entries: 'array' }),
    { env: options.env },
  );
  printHistory(app, options.env, body.entries, options.json === true);
  return 0;
}

/** `gantry rollback --server APP --env ENV [--to VERSION|DIGEST]`. */
export async function rollback(
  app: string,
  options: RemoteOptions & { readonly env: string; readonly to?: string },
): Promise<number> {
  const client = clientFor(options, LOCAL_APP_FLAGS);
  const r = await client.post(
    '/rollbacks',
    { app, env: options.env, ...(options.to !== undefined && { to: options.to }) },
    objectWith<RollbackOutcome>({
      application: 'string',
      environment: 'string',
      digest: 'string',
      tags: 'array',
    }),
  );
  printRollback(r, options.json === true);
  return 0;
}
