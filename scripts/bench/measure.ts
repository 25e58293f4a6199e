/**
 * Running one command and measuring it: wall time from spawn to exit (monotonic clock) and peak
 * resident memory.
 *
 * Commands are started by a small runner process (a bare `node` with a ~40 MB heap), not by the
 * benchmark process itself: forking a process that holds a large heap costs tens of milliseconds
 * more per spawn on this VM, which would be added to every measurement (and to `node -e 0` most of
 * all), and the benchmark's own event loop (registry log capture) stays out of the timings.
 *
 * Peak memory comes from GNU time (`/usr/bin/time -f %M`, the child's `ru_maxrss` in KiB) when it
 * is installed; otherwise `VmHWM` is polled from `/proc/<pid>/status` every 10 ms.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';

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

interface RunnerRequest {
  id: number;
  file: string;
  args: string[];
  cwd: string | undefined;
  timeoutMs: number;
  gnuTime: boolean;
}

interface RunnerReply {
  id: number;
  wallMs: number;
  code: number | null;
  maxRssKiB: number | null;
  stdout: string;
  stderr: string;
}

const GNU_TIME = '/usr/bin/time';

/** The runner: receives {@link RunnerRequest}s over IPC, answers {@link RunnerReply}s. Plain JS. */
const RUNNER = `
const { spawn } = require('node:child_process');
const { readFileSync, rmSync } = require('node:fs');
const { join } = require('node:path');
const { tmpdir } = require('node:os');
let n = 0;
let current;
const killGroup = (pid) => { try { process.kill(-pid, 'SIGKILL'); } catch {} };
process.on('message', (req) => {
  const rssFile = join(tmpdir(), 'gantry-bench-rss-' + process.pid + '-' + ++n);
  const [file, args] = req.gnuTime
    ? ['/usr/bin/time', ['-f', '%M', '-o', rssFile, req.file, ...req.args]]
    : [req.file, req.args];
  let stdout = '', stderr = '', peak = null, poll;
  const started = process.hrtime.bigint();
  // Its own process group, so that a timeout or an interrupted benchmark kills the whole tree.
  const child = spawn(file, args, { cwd: req.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  current = { child, rssFile };
  child.stdout.setEncoding('utf8').on('data', (s) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s) => (stderr += s));
  if (!req.gnuTime) poll = setInterval(() => {
    try {
      const m = /^VmHWM:\\s+(\\d+) kB/m.exec(readFileSync('/proc/' + child.pid + '/status', 'utf8'));
      if (m) peak = Math.max(peak || 0, Number(m[1]));
    } catch {}
  }, 10);
  const timer = setTimeout(() => killGroup(child.pid), req.timeoutMs);
  const done = (code) => {
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    current = undefined;
    clearTimeout(timer);
    clearInterval(poll);
    if (req.gnuTime) {
      let text = '';
      try { text = readFileSync(rssFile, 'utf8'); } catch {}
      rmSync(rssFile, { force: true });
      const last = text.trim().split('\\n').pop() || '';
      peak = /^\\d+$/.test(last) ? Number(last) : null;
    }
    process.send({ id: req.id, wallMs, code, maxRssKiB: peak, stdout, stderr });
  };
  child.once('error', (e) => { stderr += String(e); done(-1); });
  child.once('close', (code, signal) => done(signal ? -1 : code));
});
const shutdown = () => {
  if (current) {
    killGroup(current.child.pid);
    rmSync(current.rssFile, { force: true });
  }
  process.exit(0);
};
process.on('disconnect', shutdown);
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
`;

function hasGnuTime(): boolean {
  try {
    accessSync(GNU_TIME, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Runs commands one at a time through the runner process, measuring each. Call {@link Meter.close}. */
export class Meter {
  /** How peak memory is measured: `gnu-time` or `proc-vmhwm`. */
  readonly rssMethod: 'gnu-time' | 'proc-vmhwm' = hasGnuTime() ? 'gnu-time' : 'proc-vmhwm';
  readonly #runner: ChildProcess;
  readonly #pending = new Map<number, (reply: RunnerReply) => void>();
  #next = 0;

  constructor() {
    this.#runner = spawn(process.execPath, ['-e', RUNNER], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#runner.on('message', (reply: RunnerReply) => {
      this.#pending.get(reply.id)?.(reply);
      this.#pending.delete(reply.id);
    });
  }

  /** Runs `command args…` to completion; rejects when it fails. */
  async run(command: string, args: readonly string[], options: RunOptions = {}): Promise<Measurement> {
    const request: RunnerRequest = {
      id: ++this.#next,
      file: command,
      args: [...args],
      cwd: options.cwd,
      timeoutMs: options.timeoutMs ?? 600_000,
      gnuTime: this.rssMethod === 'gnu-time',
    };
    const reply = await new Promise<RunnerReply>((resolve, reject) => {
      this.#pending.set(request.id, resolve);
      this.#runner.send(request, (err) => {
        if (err) reject(err);
      });
    });
    if (reply.code !== 0) {
      const line = [command, ...args].join(' ');
      throw new Error(
        `${line} exited ${reply.code}\n${reply.stderr.trim()}\n${reply.stdout.trim()}`.trimEnd(),
      );
    }
    return {
      wallMs: reply.wallMs,
      maxRssKiB: reply.maxRssKiB ?? undefined,
      stdout: reply.stdout,
      stderr: reply.stderr,
    };
  }

  /** Stops the runner (which kills a command still running). */
  close(): void {
    if (this.#runner.connected) this.#runner.disconnect();
    else this.#runner.kill();
  }
}

/** The median of some numbers (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
