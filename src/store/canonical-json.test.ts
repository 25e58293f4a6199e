import { describe, expect, it } from 'vitest';
import { isGantryError } from '../core/index.js';
import { canonicalJson } from './canonical-json.js';

describe('canonicalJson', () => {
  it.each([
    [
      'sorts keys at every depth',
      { b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } },
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    ],
    [
      'orders keys by UTF-16 code units (RFC 8785)',
      { é: 1, z: 2, Z: 3, '10': 4, '9': 5 },
      '{"10":4,"9":5,"Z":3,"z":2,"é":1}',
    ],
    [
      'writes numbers in shortest round-trip form',
      { a: 1.5e21, b: 0.1, c: -0, d: 1e-7 },
      '{"a":1.5e+21,"b":0.1,"c":0,"d":1e-7}',
    ],
    [
      'escapes strings as JSON.stringify does',
      { s: 'line\n"quoted"\u2028' },
      '{"s":"line\\n\\"quoted\\"\u2028"}',
    ],
    ['leaves out undefined properties, as the database would', { a: undefined, b: true }, '{"b":true}'],
    ['keeps arrays in order', [3, 1, 2], '[3,1,2]'],
  ])('%s', (_name, value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it.each([
    ['NaN', { n: Number.NaN }, '$.n'],
    ['Infinity', [Number.POSITIVE_INFINITY], '$[0]'],
    ['an undefined array item', [undefined], '$[0]'],
    ['a bigint', { b: 1n }, '$.b'],
    ['a Date', { d: new Date(0) }, '$.d'],
    ['a function', { f: () => 1 }, '$.f'],
  ])('refuses %s', (_name, value, path) => {
    let thrown: unknown;
    try {
      canonicalJson(value);
    } catch (error) {
      thrown = error;
    }
    expect(isGantryError(thrown, 'INTERNAL')).toBe(true);
    expect((thrown as { details: { path: string } }).details.path).toBe(path);
  });
});
