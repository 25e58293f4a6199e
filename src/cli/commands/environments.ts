/** `gantry status`, `gantry history`, `gantry diff` and `gantry ref`: what the environments hold. */
import { GantryError } from '../../core/index.js';
import type { EnvironmentState } from '../../promotion/index.js';
import { withApp, type AppCommandOptions } from '../app-context.js';
import { printJson, printLines } from '../output.js';

const short = (d: string | undefined): string => (d ? d.slice(7, 19) : '-');

/** Runs `gantry status`: the environment × application matrix. */
export async function status(options: AppCommandOptions): Promise<number> {
  const cells = await withApp(options, (a) => a.promotions.status());
  if (options.json) {
    printJson({ cells });
    return 0;
  }
  const envs = [...new Set(cells.map((c) => c.environment))];
  const apps = [...new Set(cells.map((c) => c.application))];
  const cell = (e: string, a: string): string => {
    const c = cells.find((x) => x.environment === e && x.application === a);
    return c?.digest ? `${c.version ?? '?'} ${short(c.digest)}` : '—';
  };
  const width = Math.max(
    12,
    ...cells.map((c) => (c.digest ? `${c.version ?? '?'} ${short(c.digest)}`.length : 1)),
  );
  const appWidth = Math.max(11, ...apps.map((a) => a.length));
  const lines = [['APPLICATION'.padEnd(appWidth), ...envs.map((e) => e.padEnd(width))].join('  ')];
  for (const a of apps)
    lines.push([a.padEnd(appWidth), ...envs.map((e) => cell(e, a).padEnd(width))].join('  '));
  const promoted = cells.filter((c) => c.promotedAt);
  if (promoted.length > 0) {
    lines.push('');
    for (const c of promoted)
      lines.push(
        `${c.application} in ${c.environment}: promoted ${c.promotedAt ?? ''} by ${c.promotedBy ?? 'unknown'}`,
      );
  }
  printLines(...lines.map((l) => l.trimEnd()));
  return 0;
}

/** Options of `gantry history`. */
export interface HistoryOptions extends AppCommandOptions {
  readonly env: string;
}

/** Runs `gantry history APP --env ENV`. */
export async function history(app: string, options: HistoryOptions): Promise<number> {
  const entries = await withApp(options, (a) => a.promotions.history(app, options.env));
  if (options.json) printJson({ application: app, environment: options.env, entries });
  else if (entries.length === 0) printLines(`No promotions of ${app} to ${options.env} recorded.`);
  else
    printLines(
      ...entries.map(
        (e) => `${e.time}  ${e.kind.padEnd(9)}  ${(e.version ?? '?').padEnd(12)}  ${e.digest}  ${e.actor}`,
      ),
    );
  return 0;
}

/** Runs `gantry diff ENV ENV`. */
export async function diff(left: string, right: string, options: AppCommandOptions): Promise<number> {
  const rows = await withApp(options, (a) => a.promotions.diff(left, right));
  if (options.json) {
    printJson({ left, right, applications: rows });
    return 0;
  }
  const show = (s: EnvironmentState): string =>
    s.digest
      ? `${s.version ?? '?'} (${short(s.digest)}${s.revision ? ` rev ${s.revision.slice(0, 12)}` : ''})`
      : 'absent';
  const lines = rows.map(
    (r) => `${r.same ? '=' : '≠'} ${r.application}: ${left} ${show(r.left)}  ${right} ${show(r.right)}`,
  );
  const differing = rows.filter((r) => !r.same).length;
  lines.push(
    differing === 0
      ? `${left} and ${right} run the same images.`
      : `${differing} of ${rows.length} applications differ.`,
  );
  printLines(...lines);
  return 0;
}

/** Options of `gantry ref`. */
export interface RefOptions extends AppCommandOptions {
  readonly env: string;
}

/** Runs `gantry ref APP --env ENV`: the digest-pinned reference of what the environment runs. */
export async function ref(app: string, options: RefOptions): Promise<number> {
  const state = await withApp(options, (a) => a.promotions.state(app, options.env));
  if (!state.digest) {
    throw new GantryError(
      'REGISTRY_MANIFEST_UNKNOWN',
      state.tag
        ? `${app} has no ${state.tag} tag in ${options.env} (${state.repository})`
        : `${options.env} has no floating tag to resolve (configure tags.floating)`,
    );
  }
  const pinned = `${state.repository}@${state.digest}`;
  if (options.json) printJson({ ...state, reference: pinned });
  else printLines(pinned);
  return 0;
}
