/**
 * `bigint` (int8) values read as JS numbers on both drivers. `pg` returns strings by default and
 * PGlite returns numbers (bigints above 2^53); the store's int8 columns (ledger seq, fencing
 * tokens, counts) stay far below 2^53, so a larger value is a corrupted row, not a number to keep.
 */
import { GantryError } from '../core/index.js';

/** PostgreSQL's type OID for int8. */
export const INT8_OID = 20;

/** Parses an int8's text form into a safe integer, or throws `INTERNAL`. */
export function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new GantryError('INTERNAL', `store: int8 value ${text} is outside the safe integer range`);
  }
  return value;
}
