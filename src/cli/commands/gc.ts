/**
 * `gantry gc --env ENV [--older-than 30d] [--keep N] [--yes] [--json]`: promotion-aware retention.
 * Without `--yes` it only prints the plan; with it, it deletes and prints each deletion as it
 * happens. A run the registry stopped (deletes refused) ends with the report's error code.
 */
import { runGc, type LifecycleItem, type LifecycleReport } from '../../app.js';
import { parseDuration } from '../../config/index.js';
import { GantryError, escapeControl } from '../../core/index.js';
import { withApp, type AppCommandOptions } from '../app-context.js';
import { exitCodeFor } from '../exit-codes.js';
import { printJson, printLines, reportError } from '../output.js';
import type { ErrorCode } from '../../core/index.js';

/** Options of `gantry gc`. */
export interface GcOptions extends AppCommandOptions {
  readonly env: string;
  readonly olderThan?: string;
  readonly keep?: string;
  readonly yes?: boolean;
}

/** Runs `gantry gc`. */
export async function gc(options: GcOptions): Promise<number> {
  const json = options.json === true;
  const keep = options.keep === undefined ? undefined : Number(options.keep);
  if (keep !== undefined && (!/^\d+$/.test(options.keep ?? '') || !Number.isSafeInteger(keep)))
    throw new GantryError('USAGE_INVALID', `--keep must be a whole number >= 0, got "${options.keep ?? ''}"`);
  const olderThanMs = options.olderThan === undefined ? undefined : parseDuration(options.olderThan);
  if (options.olderThan !== undefined && olderThanMs === undefined)
    throw new GantryError(
      'USAGE_INVALID',
      `--older-than must be a duration such as 30d or 12h, got "${options.olderThan}"`,
    );
  const dryRun = options.yes !== true;
  const report = await withApp(options, (app) =>
    runGc(app, options.env, {
      dryRun,
      ...(keep !== undefined && { keep }),
      ...(olderThanMs !== undefined && { olderThanMs }),
      ...(!json && { onItem: (item: LifecycleItem) => printLines(`deleted ${line(item)}`) }),
    }),
  );
  if (json) printJson(report);
  else printReport(report);
  if (!report.error) return 0;
  if (json) return exitCodeFor(report.error.code as ErrorCode);
  return reportError(new GantryError(report.error.code as ErrorCode, report.error.message), false);
}

function line(item: LifecycleItem): string {
  const tags = item.tags && item.tags.length > 0 ? ` (${item.tags.join(', ')})` : '';
  return escapeControl(`${item.repository}@${item.digest}${tags}: ${item.reason ?? ''}`);
}

/** The plan (dry run) or the totals of a run. */
function printReport(r: LifecycleReport): void {
  const kept = Object.entries(r.kept)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  if (r.dryRun) {
    printLines(
      `gc ${r.name}: would delete ${r.items.length} manifest${r.items.length === 1 ? '' : 's'} (dry run: nothing deleted; --yes deletes)`,
      ...r.items.map((i) => `  ${line(i)}`),
      `kept: ${kept || 'nothing'}`,
    );
    return;
  }
  printLines(
    `gc ${r.name}: deleted ${r.totals.deleted ?? 0} of ${r.totals.planned ?? 0} manifests (${r.totals.bytes ?? 0} bytes referenced)`,
    `kept: ${kept || 'nothing'}`,
  );
}
