/**
 * How `gantry gc` and `gantry sync` print a {@link LifecycleReport} and which exit code it gives,
 * shared by the local commands and their `--server` form (which prints the report of the
 * server's run), so both say the same and exit the same.
 */
import { ErrorCodes, GantryError, escapeControl, type ErrorCode } from '../core/index.js';
import type { LifecycleItem, LifecycleReport } from '../app.js';
import { exitCodeFor } from './exit-codes.js';
import { printJson, printLines, reportError } from './output.js';
import { formatBytes } from './progress.js';

/** The error code of a report's error, `SERVER_PROTOCOL` for one this CLI does not know (a newer server). */
export function knownCode(code: string): ErrorCode {
  return (ErrorCodes as readonly string[]).includes(code) ? (code as ErrorCode) : 'SERVER_PROTOCOL';
}

/** `--timeout` waits for a server's run: refused without `--server`. */
export function refuseLocalTimeout(timeout: string | undefined): void {
  if (timeout !== undefined)
    throw new GantryError(
      'USAGE_INVALID',
      "--timeout waits for a server's run: pass --server URL or set GANTRY_SERVER",
    );
}

/** One gc item: `registry/repo@digest (tags): reason`. */
export function gcItemLine(item: LifecycleItem): string {
  const tags = item.tags && item.tags.length > 0 ? ` (${item.tags.join(', ')})` : '';
  return escapeControl(`${item.repository}@${item.digest}${tags}: ${item.reason ?? ''}`);
}

/** The line the local `gantry gc --yes` prints as each manifest is deleted. */
export function printGcDeletion(item: LifecycleItem): void {
  printLines(`deleted ${gcItemLine(item)}`);
}

/** The plan (dry run) or the totals of a gc run. */
export function printGcReport(r: LifecycleReport): void {
  const kept = Object.entries(r.kept)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  if (r.dryRun) {
    printLines(
      `gc ${r.name}: would delete ${r.items.length} manifest${r.items.length === 1 ? '' : 's'} (dry run: nothing deleted; --yes deletes)`,
      ...r.items.map((i) => `  ${gcItemLine(i)}`),
      `kept: ${kept || 'nothing'}`,
    );
    return;
  }
  printLines(
    `gc ${r.name}: deleted ${r.totals.deleted ?? 0} of ${r.totals.planned ?? 0} manifests (${r.totals.bytes ?? 0} bytes referenced)`,
    `kept: ${kept || 'nothing'}`,
  );
}

/** Prints a gc report (`--json`: as is) and returns its exit code; a report error gets one error line. */
export function finishGc(report: LifecycleReport, json: boolean): number {
  if (json) printJson(report);
  else printGcReport(report);
  if (!report.error) return 0;
  if (json) return exitCodeFor(knownCode(report.error.code));
  return reportError(new GantryError(knownCode(report.error.code), report.error.message), false);
}

/** The summary of one sync job and its items. */
export function printSyncReport(r: LifecycleReport): void {
  const t = r.totals;
  const seconds = ((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000).toFixed(1);
  const verb = r.dryRun ? 'would copy' : 'copied';
  const lines = [
    `Sync ${r.name}${r.dryRun ? ' (dry run, nothing written)' : ''}: ${verb} ${t.copied ?? 0} ${t.copied === 1 ? 'digest' : 'digests'} (${formatBytes(t.bytes ?? 0)}), ${r.dryRun ? 'would write' : 'wrote'} ${t.tagged ?? 0} ${t.tagged === 1 ? 'tag' : 'tags'}, ${r.kept.unchanged ?? 0} unchanged, in ${seconds}s${r.error ? ' (stopped early)' : ''}`,
  ];
  for (const i of r.items) {
    lines.push(
      i.action === 'copy'
        ? `  copy  ${i.repository}@${i.digest}  ${formatBytes(i.bytes ?? 0)}`
        : `  tag   ${i.repository}:${(i.tags ?? []).join(',')} → ${i.digest}${i.reason ? ` (${i.reason})` : ''}`,
    );
  }
  printLines(...lines);
}

/**
 * Prints the sync jobs' reports (`--json`: as an array) and returns the exit code of the first
 * one that stopped early; each such job gets one error line on stderr.
 */
export function finishSync(reports: readonly LifecycleReport[], json: boolean): number {
  if (json) printJson(reports);
  else for (const r of reports) printSyncReport(r);
  let code = 0;
  for (const r of reports) {
    if (!r.error) continue;
    if (!json)
      process.stderr.write(`gantry: sync ${r.name}: ${escapeControl(r.error.message)} [${r.error.code}]\n`);
    if (code === 0) code = exitCodeFor(knownCode(r.error.code));
  }
  return code;
}
