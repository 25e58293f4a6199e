/**
 * `gantry sync [NAME...]`: runs the `sync:` jobs of gantry.yaml (every one, or those named), one
 * after the other. Progress goes to stderr, a summary per job to stdout; `--json` prints the
 * jobs' reports as an array. A job that stops early (a target refusing writes, a source that
 * cannot be listed) prints how far it got and one error line; the exit code is its error's.
 */
import { escapeControl, type ErrorCode } from '../../core/index.js';
import { runSync, syncJobs, type LifecycleReport } from '../../app.js';
import { withApp, type AppCommandOptions } from '../app-context.js';
import { exitCodeFor } from '../exit-codes.js';
import { printJson, printLines } from '../output.js';
import { formatBytes, progressMode } from '../progress.js';

/** Options of `gantry sync`. */
export interface SyncOptions extends AppCommandOptions {
  readonly dryRun?: boolean;
}

/** Runs `gantry sync`. */
export async function sync(names: string[], options: SyncOptions): Promise<number> {
  const showProgress = progressMode(options) !== 'none';
  const reports = await withApp(options, async (app) => {
    const jobs = syncJobs(app, names);
    const out: LifecycleReport[] = [];
    for (const job of jobs) {
      out.push(
        await runSync(app, job.name, {
          dryRun: options.dryRun === true,
          ...(showProgress && {
            onProgress: (p) => {
              if (p.message !== undefined)
                process.stderr.write(`sync ${job.name} [${p.done}/${p.total}] ${escapeControl(p.message)}\n`);
            },
          }),
        }),
      );
    }
    return out;
  });
  if (options.json) printJson(reports);
  else for (const r of reports) printReport(r);
  let code = 0;
  for (const r of reports) {
    if (!r.error) continue;
    if (!options.json)
      process.stderr.write(`gantry: sync ${r.name}: ${escapeControl(r.error.message)} [${r.error.code}]\n`);
    if (code === 0) code = exitCodeFor(r.error.code as ErrorCode);
  }
  return code;
}

function printReport(r: LifecycleReport): void {
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
