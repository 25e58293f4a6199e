/** Errors that say which side of a copy failed, on which object, and why. */
import { GantryError, toGantryError } from '../core/index.js';

/** Which end of a copy an error came from. */
export type CopySide = 'source' | 'destination';

/**
 * Wraps an error from one side of a copy. The original code is kept (so exit codes still say
 * "not found", "auth", "integrity"…) and the message says side and object first.
 */
export function copyError(side: CopySide, object: string, err: unknown): GantryError {
  const e = toGantryError(err);
  if (e.details.side !== undefined) return e;
  return new GantryError(e.code, `${side} ${object}: ${e.message}`, {
    cause: e,
    details: { ...e.details, side, object },
  });
}

/** Runs `fn`, attributing any failure to `side` and `object`. */
export async function onSide<T>(side: CopySide, object: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw copyError(side, object, err);
  }
}
