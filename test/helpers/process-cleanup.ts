/**
 * Last-resort cleanup of child processes and temp dirs that test helpers start, so that nothing
 * survives the test run even when a test forgets to call `stop()` or throws before it.
 */
import { rmSync } from 'node:fs';

/** Something to undo synchronously when the Node process exits. */
export type ExitCleanup = () => void;

const cleanups = new Set<ExitCleanup>();
let installed = false;

function runAll(): void {
  for (const cleanup of [...cleanups]) {
    cleanups.delete(cleanup);
    try {
      cleanup();
    } catch {
      // best effort: the process is exiting anyway
    }
  }
}

/**
 * Registers `cleanup` to run (synchronously) on the process `exit` event and returns a function
 * that unregisters it — call that once the resource was released normally.
 */
export function onProcessExit(cleanup: ExitCleanup): () => void {
  if (!installed) {
    installed = true;
    process.on('exit', runAll);
  }
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
  };
}

/** Sends `signal` to a whole process group, ignoring "no such process". */
export function killProcessGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Removes a directory tree synchronously, ignoring errors (for exit handlers). */
export function removeDirSync(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // best effort
  }
}
