/**
 * The real {@link CredentialHelperRunner}: spawns `docker-credential-<name> <action>` (no shell),
 * writes the input on stdin and collects both outputs, with a timeout and an output cap.
 */
import { GantryError } from '../../core/index.js';
import {
  helperProgram,
  type CredentialHelperRequest,
  type CredentialHelperResult,
  type CredentialHelperRunner,
} from './credential-helper.js';

/**
 * Environment helpers get when the caller passes none: a fixed system `PATH` and nothing else.
 * Library code never reads `process.env`; the CLI should pass its whole environment, since real
 * helpers need more than `PATH` (`HOME`, `DBUS_SESSION_BUS_ADDRESS`, `AWS_*`, `GNUPGHOME`, …).
 */
export const DEFAULT_HELPER_ENV: Readonly<Record<string, string>> = Object.freeze({
  PATH: '/usr/local/bin:/usr/bin:/bin',
});

/** Default time a helper may run before it is killed, in milliseconds. */
export const DEFAULT_HELPER_TIMEOUT_MS = 10_000;

/** Largest output accepted on each of stdout and stderr, in bytes. */
const MAX_OUTPUT_BYTES = 1 << 20;

/** Options of {@link spawnHelperRunner}. */
export interface HelperProcessOptions {
  /**
   * The complete environment of helper processes; `PATH` in it is also where the helper is looked
   * up. Default: {@link DEFAULT_HELPER_ENV}.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Milliseconds before a helper is killed and the call fails. Default: {@link DEFAULT_HELPER_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
}

/** A runner spawning real `docker-credential-<name>` processes. */
export function spawnHelperRunner(options: HelperProcessOptions = {}): CredentialHelperRunner {
  const settings = Object.freeze({
    env: Object.freeze({ ...(options.env ?? DEFAULT_HELPER_ENV) }),
    timeoutMs: options.timeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS,
  });
  return (request) => runHelperProcess(request, settings.env, settings.timeoutMs);
}

async function runHelperProcess(
  request: CredentialHelperRequest,
  env: Readonly<Record<string, string>>,
  timeoutMs: number,
): Promise<CredentialHelperResult> {
  // Loaded only when a helper actually runs: most commands never need child processes.
  const { spawn } = await import('node:child_process');
  const program = helperProgram(request.helper);
  const fail = (reason: string): GantryError =>
    new GantryError(
      'AUTH_HELPER_FAILED',
      `credential helper ${program} ${request.action} failed: ${reason}`,
      {
        details: { helper: program, action: request.action },
      },
    );

  return new Promise((resolve, reject) => {
    let settled = false;
    const child = spawn(program, [request.action], {
      env: { ...env },
      stdio: 'pipe',
      shell: false,
      windowsHide: true,
    });
    const stdout = collect(child.stdout, () => abort(fail('it printed more than 1 MiB')));
    const stderr = collect(child.stderr, () => abort(fail('it printed more than 1 MiB')));
    const timer = setTimeout(() => abort(fail(`it did not finish within ${timeoutMs}ms`)), timeoutMs);

    function settle(action: () => void): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      action();
    }
    function abort(error: GantryError): void {
      // Reject at once: a grandchild may keep the pipes open long after the helper is killed.
      settle(() => reject(error));
      child.kill('SIGKILL');
      child.stdout.destroy();
      child.stderr.destroy();
    }

    child.on('error', (err: NodeJS.ErrnoException) => {
      const reason =
        err.code === 'ENOENT'
          ? 'it was not found on PATH'
          : err.code === 'EACCES'
            ? 'it is not executable'
            : `it could not be started (${err.code ?? 'unknown error'})`;
      settle(() => reject(fail(reason)));
    });
    child.on('close', (exitCode) => {
      settle(() => resolve({ exitCode, stdout: stdout.text(), stderr: stderr.text() }));
    });
    // A helper may exit without reading its input; the resulting EPIPE is not our failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(request.input);
  });
}

function collect(stream: NodeJS.ReadableStream, onOverflow: () => void): { text(): string } {
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (chunk: Buffer) => {
    size += chunk.byteLength;
    if (size > MAX_OUTPUT_BYTES) onOverflow();
    else chunks.push(chunk);
  });
  return { text: () => Buffer.concat(chunks).toString('utf8') };
}
