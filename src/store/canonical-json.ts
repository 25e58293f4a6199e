/**
 * Canonical JSON: one byte sequence per JSON value, so a hash over it is stable across writers,
 * databases and machines. Object keys are sorted by UTF-16 code units and numbers use ECMAScript's
 * shortest round-trip form, which is the serialisation of RFC 8785 (JSON Canonicalization Scheme)
 * for the values Gantry stores (https://www.rfc-editor.org/rfc/rfc8785#section-3.2).
 */
import { GantryError } from '../core/index.js';

/** A JSON value as stored in a `jsonb` column. */
export type JsonValue =
  null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** A JSON object (ledger payloads, job payloads). */
export type JsonObject = { readonly [key: string]: JsonValue };

/**
 * Serialises `value` canonically. Object properties that are `undefined` are left out (as
 * `JSON.stringify` does, so the hash matches what the database stores). Throws `INTERNAL` for
 * anything else JSON cannot carry unchanged: `undefined` array items, functions, symbols, bigints,
 * non-finite numbers, and objects that are not plain (a `Date`, a `Buffer`, a `RegExp`).
 */
export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

function write(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw notJson(path, 'a non-finite number');
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw notJson(path, `a ${typeof value}`);
  }
  if (Array.isArray(value)) {
    return `[${value.map((item, i) => write(item, `${path}[${i}]`)).join(',')}]`;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) throw notJson(path, 'not a plain object');
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  const parts: string[] = [];
  for (const key of keys) {
    const item = record[key];
    if (item === undefined) continue; // as JSON.stringify: an absent property
    parts.push(`${JSON.stringify(key)}:${write(item, `${path}.${key}`)}`);
  }
  return `{${parts.join(',')}}`;
}

function notJson(path: string, what: string): GantryError {
  return new GantryError('INTERNAL', `value at ${path} is ${what}, which JSON cannot store`, {
    details: { path },
  });
}
