/**
 * Copy progress on the terminal: one bar per blob in flight and an overall bar with throughput
 * (cli-progress, loaded only when stderr is a terminal); plain lines otherwise; nothing with --json.
 */
import type { SingleBar } from 'cli-progress';
import type { CopyEvent, CopyListener } from '../app.js';

/** How progress is shown. */
export type ProgressMode = 'bars' | 'lines' | 'none';

/** Picks the mode: bars on a terminal, plain lines when piped, none for JSON or --quiet. */
export function progressMode(options: { json?: boolean; quiet?: boolean }): ProgressMode {
  if (options.json || options.quiet) return 'none';
  return process.stderr.isTTY ? 'bars' : 'lines';
}

/** A progress sink: the listener to pass to the copy, and `stop()` when it is over. */
export interface Progress {
  readonly listener: CopyListener | undefined;
  stop(): void;
}

const short = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12);

/** Formats a byte count (`12.3 MB`). */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** Creates the progress display for a mode. */
export async function createProgress(mode: ProgressMode): Promise<Progress> {
  if (mode === 'none') return { listener: undefined, stop: () => undefined };
  if (mode === 'lines') {
    const write = (s: string): void => void process.stderr.write(`${s}\n`);
    return {
      listener: (e: CopyEvent) => {
        if (e.type === 'blob-start') write(`Copying blob ${short(e.digest)} (${formatBytes(e.size)})`);
        else if (e.type === 'blob-done' && e.action !== 'copied')
          write(`Blob ${short(e.digest)} ${e.action === 'mounted' ? 'mounted' : 'already present'}`);
        else if (e.type === 'blob-retry')
          write(`Retrying blob ${short(e.digest)} (attempt ${e.attempt + 1}): ${e.reason}`);
        else if (e.type === 'manifest-done' && !e.reference.includes(':')) write(`Wrote tag ${e.reference}`);
        else if (e.type === 'image-done') write(`Copied ${e.image}@${e.digest}`);
      },
      stop: () => undefined,
    };
  }
  const { MultiBar, Presets } = (await import('cli-progress')).default;
  const multi = new MultiBar(
    {
      clearOnComplete: true,
      hideCursor: true,
      stream: process.stderr,
      format: ' {name} [{bar}] {percentage}% {done}/{size} {speed}',
      barsize: 24,
      autopadding: true,
    },
    Presets.shades_classic,
  );
  const started = Date.now();
  let total = 0;
  let done = 0;
  const overall = multi.create(1, 0, { name: 'total       ', done: '0 B', size: '0 B', speed: '' });
  const bars = new Map<string, { bar: SingleBar; value: number; size: number }>();
  const update = (): void => {
    const secs = Math.max(0.001, (Date.now() - started) / 1000);
    overall.setTotal(Math.max(1, total));
    overall.update(done, {
      done: formatBytes(done),
      size: formatBytes(total),
      speed: `${formatBytes(done / secs)}/s`,
    });
  };
  return {
    listener: (e: CopyEvent) => {
      if (e.type === 'plan') {
        total += e.bytes;
        update();
      } else if (e.type === 'blob-start') {
        bars.set(e.digest, {
          bar: multi.create(Math.max(1, e.size), 0, {
            name: short(e.digest),
            done: '0 B',
            size: formatBytes(e.size),
            speed: '',
          }),
          value: 0,
          size: e.size,
        });
      } else if (e.type === 'blob-bytes') {
        const b = bars.get(e.digest);
        done += e.bytes;
        if (b) {
          b.value += e.bytes;
          b.bar.update(b.value, { done: formatBytes(b.value) });
        }
        update();
      } else if (e.type === 'blob-retry') {
        const b = bars.get(e.digest);
        if (b) {
          done -= b.value;
          b.value = 0;
          b.bar.update(0, { done: '0 B' });
        }
      } else if (e.type === 'blob-done') {
        const b = bars.get(e.digest);
        if (b) {
          multi.remove(b.bar);
          bars.delete(e.digest);
        }
        if (e.action !== 'copied') {
          done += e.size;
          update();
        }
      }
    },
    stop: () => multi.stop(),
  };
}
