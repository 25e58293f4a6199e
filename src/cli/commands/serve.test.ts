import { describe, expect, it } from 'vitest';
import { isGantryError } from '../../core/index.js';
import { parseListen } from './serve.js';

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
      let error: unknown;
      try {
        parseListen(value);
      } catch (e) {
        error = e;
      }
      expect(isGantryError(error, 'USAGE_INVALID')).toBe(true);
    },
  );
});
