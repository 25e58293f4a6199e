/**
 * `gantry sync [NAME...]`: runs the `sync:` jobs of gantry.yaml (every one, or those named), one
 * after the other. Progress goes to stderr, a summary per job to stdout; `--json` prints the
 * jobs' reports as an array. A job that stops early (a target refusing writes, a source that
 * cannot be listed) prints how far it got and one error line; the exit code is its error's.
 */
import { escapeControl } from '../../core/index.js';
import { runSync, syncJobs, type LifecycleReport } from '../../app.js';
import { withApp, type AppCommandOptions } from '../app-context.js';
import { finishSync, refuseLocalTimeout } from '../lifecycle-report.js';
import { progressMode } from '../progress.js';

/** Options of `gantry sync`. */
export interface SyncOptions extends AppCommandOptions {
  readonly dryRun?: boolean;
  /** `--timeout`: only with `--server` (commands/remote-lifecycle.ts). */
  readonly timeout?: string;
}

/** Runs `gantry sync`. */
export async function sync(names: string[], options: SyncOptions): Promise<number> {
  refuseLocalTimeout(options.timeout);
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
  return finishSync(reports, options.json === true);
}
