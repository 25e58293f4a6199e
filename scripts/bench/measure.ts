/**
 * Running one command and measuring it: wall time from spawn to exit (monotonic clock) and peak
 * resident memory. Peak memory comes from GNU time (`/usr/bin/time -f %M`, the child's
 * `ru_maxrss` in KiB) when it is installed; otherwise `VmHWM` is polled from `/proc/<pid>/status`
 * every 10 ms. Output is collected; a non-zero exit is an error quoting stderr.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** What one measured run produced. */
export interface Measurement {
  /** Wall time in milliseconds. */
  wallMs: number;
  /** Peak resident set size in KiB (undefined when it could not be read). */
  maxRssKiB: number | undefined;
  stdout: string;
  stderr: string;
}

/** Options of {@link Meter.run}. */
export interface RunOptions {
  cwd?: string;
  /** Kill the command after this long (default 10 minutes). */
  timeoutMs?: number;
}

const GNU_TIME = '/usr/bin/time';

function hasGnuTime(): boolean {
  try {
    accessSync(GNU_TIME, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Runs commands one at a time, measuring each. */
export class Meter {
  /** How peak memory is measured: `gnu-time` or `proc-vmhwm`. */
  readonly rssMethod: 'gnu-time' | 'proc-vmhwm';
  readonly #scratch: string;
  #count = 0;

  /** `scratch` is a directory for GNU time's output files. */
  constructor(scratch: string) {
    this.#scratch = scratch;
    this.rssMethod = hasGnuTime() ? 'gnu-time' : 'proc-vmhwm';
  }

  /** Runs `command args…` to completion; rejects when it fails. */
  async run(command: string, args: readonly string[], options: RunOptions = {}): Promise<Measurement> {
    const rssFile = join(this.#scratch, `rss-${++this.#count}.txt`);
    const [file, argv] =
      this.rssMethod === 'gnu-time'
        ? [GNU_TIME, ['-f', '%M', '-o', rssFile, command, ...args]]
        : [command, [...args]];
    const started = process.hrtime.bigint();
    const child = spawn(file, argv, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    let peakKiB: number | undefined;
    const poller =
      this.rssMethod === 'proc-vmhwm' && child.pid !== undefined
        ? pollVmHwm(child.pid, (kib) => (peakKiB = Math.max(peakKiB ?? 0, kib)))
        : undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c, signal) => resolve(signal ? -1 : c));
    });
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    clearTimeout(timer);
    if (poller) clearInterval(poller);
    if (this.rssMethod === 'gnu-time') {
      // GNU time writes "Command exited with non-zero status N" before the value on failure.
      const text = await readFile(rssFile, 'utf8').catch(() => '');
      const last = text.trim().split('\n').pop() ?? '';
      peakKiB = /^\d+$/.test(last) ? Number(last) : undefined;
      await rm(rssFile, { force: true });
    }
    if (code !== 0) {
      throw new Error(
        `${[command, ...args].join(' ')} exited ${code}\n${stderr.trim()}\n${stdout.trim()}`.trimEnd(),
      );
    }
    return { wallMs, maxRssKiB: peakKiB, stdout, stderr };
  }
}

function pollVmHwm(pid: number, report: (kib: number) => void): NodeJS.Timeout {
  return setInterval(() => {
    readFile(`/proc/${pid}/status`, 'utf8').then(
      (status) => {
        const m = /^VmHWM:\s+(\d+) kB/m.exec(status);
        if (m?.[1]) report(Number(m[1]));
      },
      () => undefined,
    );
  }, 10);
}

/** The median of some numbers (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
