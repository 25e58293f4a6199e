import { describe, expect, it } from 'vitest';
import { isGantryError } from '../../core/index.js';
import { parseJobLease, parseListen } from './serve.js';

describe('parseListen', () => {
  it.each([
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['[::1]:9000', { host: '::1', port: 9000 }],
    ['gantry.internal:443', { host: 'gantry.internal', port: 443 }],
  ])('%s', (value, expected) => {
    expect(parseListen(value)).toEqual(expected);
  });

  it.each(['8080', 'localhost', ':8080', '127.0.0.1:65536', '::1:8080', 'a b:80', '127.0.0.1:80x'])(
    'refuses %j with USAGE_INVALID',
    (value) => {
      expect(
        isGantryError(
          errorOf(() => parseListen(value)),
          'USAGE_INVALID',
        ),
      ).toBe(true);
    },
  );
});

describe('parseJobLease', () => {
  it.each([
    [undefined, 15_000],
    ['3s', 3_000],
    ['15s', 15_000],
    ['1m30s', 90_000],
    ['10m', 600_000],
  ])('%s is %d ms', (value, ms) => {
    expect(parseJobLease(value)).toBe(ms);
  });

  it.each(['2s', '11m', '0s', 'soon', '', '-5s', '15'])('refuses %j with one USAGE_INVALID line', (value) => {
    const error = errorOf(() => parseJobLease(value));
    expect(isGantryError(error, 'USAGE_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(/^--job-lease must be a duration from 3s to 10m/);
  });
});

/** What `f` throws (undefined when it returns). */
function errorOf(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}
