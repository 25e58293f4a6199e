/**
 * Writing results: human text by default, one JSON document with `--json`. Errors are one line on
 * stderr (`gantry: CODE: message`), or a JSON object `{error: {code, message}}` with `--json`.
 */
import { escapeControl, toGantryError, type GantryError } from '../core/index.js';
import { exitCodeFor } from './exit-codes.js';

/** Prints a JSON document to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints lines of human output to stdout. */
export function printLines(...lines: string[]): void {
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Reports an error in one line and returns the exit code to use. */
export function reportError(err: unknown, json: boolean): number {
  const e: GantryError = toGantryError(err);
  // One line, and no control character from anywhere (registry text included) reaches the terminal.
  const message = escapeControl(e.message.split('\n')[0] ?? e.message);
  if (json) {
    process.stdout.write(`${JSON.stringify({ error: { code: e.code, message, ...e.details } })}\n`);
  } else {
    process.stderr.write(`gantry: ${message} [${e.code}]\n`);
  }
  if (e.code === 'INTERNAL' && process.env.GANTRY_DEBUG) process.stderr.write(`${String(e.cause)}\n`);
  return exitCodeFor(e.code);
}
