/** `gantry status`, `gantry history`, `gantry diff` and `gantry ref`: what the environments hold. */
import { GantryError } from '../../core/index.js';
import { unreadableEnvironments, type App, type EnvironmentState } from '../../app.js';
import { withApp, type AppCommandOptions } from '../app-context.js';
import { exitCodeFor } from '../exit-codes.js';
import { printJson, printLines } from '../output.js';
import { targetLines } from './status-targets.js';

/** One entry of `gantry history`. */
type HistoryEntry = Awaited<ReturnType<App['promotions']['history']>>[number];

const short = (d: string | undefined): string => (d ? d.slice(7, 19) : '-');

/** The text of one status cell. */
function cellText(c: EnvironmentState | undefined): string {
  if (!c || c.state === 'absent') return '—';
  if (c.state === 'unknown') return 'unknown';
  return `${c.version ?? '?'} ${short(c.digest)}${c.recorded === false ? ' (unrecorded)' : ''}`;
}

/**
 * Runs `gantry status`: the environment × application matrix. A cell whose registry cannot be
 * read shows `unknown`; the command then names the registries on stderr and exits non-zero (the
 * exit code of the first error, e.g. 9 when a registry is unreachable).
 */
export async function status(options: AppCommandOptions): Promise<number> {
  const cells = await withApp(options, (a) => a.promotions.status());
  return printStatus(cells, options.json === true);
}

/** Prints a status matrix (`gantry status`, local or from a server) and returns the exit code. */
export function printStatus(
  cells: readonly EnvironmentState[],
  json: boolean,
  /** More top-level JSON fields (e.g. `waiting` from a server). */
  extra: Readonly<Record<string, unknown>> = {},
): number {
  const unreadable = unreadableEnvironments(cells);
  const code = unreadable ? exitCodeFor(unreadable.error.code as GantryError['code']) : 0;
  if (json) {
    printJson({ cells, ...(unreadable && { error: unreadable.error }), ...extra });
    return code;
  }
  const envs = [...new Set(cells.map((c) => c.environment))];
  const apps = [...new Set(cells.map((c) => c.application))];
  const find = (e: string, a: string) => cells.find((x) => x.environment === e && x.application === a);
  const width = Math.max(12, ...cells.map((c) => cellText(c).length));
  const appWidth = Math.max(11, ...apps.map((a) => a.length));
  const lines = [['APPLICATION'.padEnd(appWidth), ...envs.map((e) => e.padEnd(width))].join('  ')];
  for (const a of apps)
    lines.push([a.padEnd(appWidth), ...envs.map((e) => cellText(find(e, a)).padEnd(width))].join('  '));
  const notes: string[] = [];
  const newest = [...new Set(cells.filter((c) => c.source === 'newest-version').map((c) => c.environment))];
  for (const e of newest)
    notes.push(`${e} has no floating tag: its column shows the newest version tag (the newest candidate).`);
  if (cells.some((c) => c.recorded === false))
    notes.push('(unrecorded): the tag points at a digest with no promotion record; ref and pin refuse it.');
  for (const c of cells.filter((x) => x.promotedAt))
    notes.push(
      `${c.application} in ${c.environment}: promoted ${c.promotedAt ?? ''} by ${c.promotedBy ?? 'unknown'}`,
    );
  if (notes.length > 0) lines.push('', ...notes);
  lines.push(...targetLines(cells)); // what runs where (deployment reports from a server)
  printLines(...lines.map((l) => l.trimEnd()));
  for (const e of unreadable?.each.values() ?? []) process.stderr.write(`gantry: ${e.message} [${e.code}]\n`);
  return code;
}

/** Options of `gantry history`. */
export interface HistoryOptions extends AppCommandOptions {
  readonly env: string;
}

/** Runs `gantry history APP --env ENV`. */
export async function history(app: string, options: HistoryOptions): Promise<number> {
  const entries = await withApp(options, (a) => a.promotions.history(app, options.env));
  printHistory(app, options.env, entries, options.json === true);
  return 0;
}

/** Prints an application's history in an environment (`gantry history`, local or from a server). */
export function printHistory(
  app: string,
  env: string,
  entries: readonly HistoryEntry[],
  json: boolean,
): void {
  if (json) printJson({ application: app, environment: env, entries });
  else if (entries.length === 0) printLines(`No promotions of ${app} to ${env} recorded.`);
  else
    printLines(
      ...entries.map(
        (e) => `${e.time}  ${e.kind.padEnd(9)}  ${(e.version ?? '?').padEnd(12)}  ${e.digest}  ${e.actor}`,
      ),
    );
}

/** Options of `gantry diff`. */
export interface DiffOptions extends AppCommandOptions {
  /** Exit 1 when the environments differ (like `git diff --exit-code`). */
  readonly exitCode?: boolean;
}

/** Runs `gantry diff ENV ENV`. */
export async function diff(left: string, right: string, options: DiffOptions): Promise<number> {
  const rows = await withApp(options, (a) => a.promotions.diff(left, right));
  const differing = rows.filter((r) => !r.same).length;
  const code = options.exitCode && differing > 0 ? 1 : 0;
  if (options.json) {
    printJson({ left, right, same: differing === 0, applications: rows });
    return code;
  }
  const show = (s: EnvironmentState): string =>
    s.digest
      ? `${s.version ?? '?'} (${short(s.digest)}${s.revision ? ` rev ${s.revision.slice(0, 12)}` : ''})`
      : 'absent';
  const lines = rows.map(
    (r) => `${r.same ? '=' : '≠'} ${r.application}: ${left} ${show(r.left)}  ${right} ${show(r.right)}`,
  );
  lines.push(
    differing === 0
      ? `${left} and ${right} run the same images.`
      : `${differing} of ${rows.length} applications differ.`,
  );
  printLines(...lines);
  return code;
}

/** Options of `gantry ref`. */
export interface RefOptions extends AppCommandOptions {
  readonly env: string;
  /** Accept a digest with no promotion record for the environment. */
  readonly allowUnrecorded?: boolean;
}

/**
 * Runs `gantry ref APP --env ENV`: the digest-pinned reference of what the environment runs. Only
 * a proven state: a digest without a promotion record is refused (`PROMOTION_UNRECORDED`) unless
 * `--allow-unrecorded`.
 */
export async function ref(app: string, options: RefOptions): Promise<number> {
  const state = await withApp(options, (a) =>
    a.promotions.deployable(app, options.env, {
      ...(options.allowUnrecorded && { allowUnrecorded: true }),
    }),
  );
  if (!state.digest) {
    throw new GantryError(
      'REGISTRY_MANIFEST_UNKNOWN',
      `${app} has no ${state.tag ?? ''} tag in ${options.env} (${state.repository})`,
    );
  }
  const pinned = `${state.repository}@${state.digest}`;
  if (options.json) printJson({ ...state, reference: pinned });
  else printLines(pinned);
  return 0;
}
