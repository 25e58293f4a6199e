/**
 * Orders strings by UTF-16 code unit, like `Array.prototype.sort` without a comparator: the same
 * on every machine, and right for digests, tags and ISO 8601 times. `localeCompare` is neither
 * stable across locales nor cheap (its first call loads ICU collation, ~10 ms of a short command).
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
