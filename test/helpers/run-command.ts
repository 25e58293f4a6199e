/** Running external commands (openssl, htpasswd) from test helpers, failing loudly. */
import { execFile } from 'node:child_process';

/** What a finished command printed. */
export interface CommandResult {
  /** Everything written to stdout. */
  stdout: string;
  /** Everything written to stderr. */
  stderr: string;
}

/**
 * Runs `command args…` without a shell and resolves with its output. Rejects with an error that
 * quotes the full command line, the exit status and stderr when the command is missing, fails or
 * takes longer than `timeoutMs` (default 30 s).
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      [...args],
      {
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 30_000,
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error) {
          const line = [command, ...args].join(' ');
          const code = (error as NodeJS.ErrnoException).code;
          const why = code === 'ENOENT' ? `${command} not found in PATH` : error.message;
          reject(new Error(`command failed: ${line}\n${why}\n${stderr}`.trimEnd(), { cause: error }));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}
