/** `gantry promote APP VERSION|DIGEST --to ENV` and `gantry plan …` (the same, changing nothing). */
import { loadReleaseFile } from '../../config/index.js';
import { GantryError } from '../../core/index.js';
import { readFile } from 'node:fs/promises';
import { parseVulnerabilityReport } from '../../app.js';
import { withApp, type AppCommandOptions } from '../app-context.js';
import { printJson, printLines } from '../output.js';
import { reportPromotion as report } from '../promotion-report.js';

/** Options of `gantry promote` / `gantry plan`. */
export interface PromoteOptions extends AppCommandOptions {
  readonly to: string;
  readonly from?: string;
  readonly dryRun?: boolean;
  readonly release?: string;
  readonly report?: string[];
  readonly override?: boolean;
  readonly reason?: string;
  /** `--no-wait` and `--timeout`: only with `--server` (commands/remote.ts). */
  readonly wait?: boolean;
  readonly timeout?: string;
}

async function readReports(files: readonly string[]) {
  return Promise.all(
    files.map(async (file) => {
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch {
        throw new GantryError('USAGE_INVALID', `cannot read report ${file}`);
      }
      return { report: parseVulnerabilityReport(bytes, file), source: `--report ${file}` };
    }),
  );
}

/** Runs `gantry promote` (one application, or a release file). */
export async function promote(
  app: string | undefined,
  reference: string | undefined,
  options: PromoteOptions,
): Promise<number> {
  if (options.wait === false || options.timeout !== undefined)
    throw new GantryError(
      'USAGE_INVALID',
      `${options.wait === false ? '--no-wait' : '--timeout'} waits for a server's promotion: pass --server URL or set GANTRY_SERVER`,
    );
  if (options.release) {
    if (app !== undefined)
      throw new GantryError('USAGE_INVALID', 'pass either APP VERSION or --release FILE, not both');
    return promoteRelease(options.release, options);
  }
  if (app === undefined || reference === undefined) {
    throw new GantryError('USAGE_INVALID', 'missing APP and VERSION (or --release FILE)');
  }
  if (options.override && !options.reason)
    throw new GantryError('USAGE_INVALID', '--override needs --reason TEXT');
  const reports = await readReports(options.report ?? []);
  const outcome = await withApp(options, (a) =>
    a.promotions.promote({
      reports,
      ...(options.override && options.reason !== undefined && { override: options.reason }),
      app,
      reference,
      to: options.to,
      ...(options.from && { from: options.from }),
      ...(options.dryRun && { dryRun: true }),
    }),
  );
  report(outcome, options.json === true);
  return outcome.status === 'planned' &&
    outcome.gates.some((g) => g.status === 'fail' || g.status === 'pending')
    ? 3
    : 0;
}

async function promoteRelease(file: string, options: PromoteOptions): Promise<number> {
  const release = await loadReleaseFile(file);
  const outcome = await withApp(options, (a) =>
    a.promotions.promoteRelease({
      applications: release.applications,
      to: options.to,
      ...(options.from && { from: options.from }),
      ...(options.dryRun && { dryRun: true }),
    }),
  );
  if (options.json) printJson({ release: release.name ?? file, ...outcome });
  else {
    printLines(
      `${outcome.status === 'planned' ? 'Plan for' : 'Promoted'} release ${release.name ?? file} to ${outcome.environment}:`,
    );
    for (const o of outcome.applications) report(o, false);
  }
  const blocked = outcome.applications.some((o) =>
    o.gates.some((g) => g.status === 'fail' || g.status === 'pending'),
  );
  return outcome.status === 'planned' && blocked ? 3 : 0;
}

/** Runs `gantry plan` (a promotion dry run). */
export function plan(
  app: string | undefined,
  reference: string | undefined,
  options: PromoteOptions,
): Promise<number> {
  return promote(app, reference, { ...options, dryRun: true });
}
