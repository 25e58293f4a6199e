/**
 * `gantry gc --env ENV [--older-than 30d] [--keep N] [--yes] [--json]`: promotion-aware retention.
 * Without `--yes` it only prints the plan; with it, it deletes and prints each deletion as it
 * happens. A run the registry stopped (deletes refused) ends with the report's error code.
 */
import { runGc } from '../../app.js';
import { parseDuration } from '../../config/index.js';
import { GantryError } from '../../core/index.js';
import { withApp, type AppCommandOptions } from '../app-context.js';
import { finishGc, printGcDeletion, refuseLocalTimeout } from '../lifecycle-report.js';

/** Options of `gantry gc`. */
export interface GcOptions extends AppCommandOptions {
  readonly env: string;
  readonly olderThan?: string;
  readonly keep?: string;
  readonly yes?: boolean;
  /** `--timeout`: only with `--server` (commands/remote-lifecycle.ts). */
  readonly timeout?: string;
}

/** Runs `gantry gc`. */
export async function gc(options: GcOptions): Promise<number> {
  const json = options.json === true;
  refuseLocalTimeout(options.timeout);
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
      ...(!json && { onItem: printGcDeletion }),
    }),
  );
  return finishGc(report, json);
}
