import { describe, expect, it } from 'vitest';
import { GantryError } from '../../core/index.js';
import { bodyError, connectionError } from './classify.js';
import { RegistryError, isTemporary, responseError } from './registry-error.js';

const url = new URL('https://registry.example/v2/app/blobs/sha256:00');

describe('RegistryError.temporary, decided where the error is made', () => {
  it.each([
    [408, true],
    [429, true],
    [500, true],
    [503, true],
    [400, false],
    [401, false],
    [403, false],
    [404, false],
  ])('a %i response is temporary: %s', (status, temporary) => {
    const err = responseError('GET', url, status, '');
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.temporary).toBe(temporary);
    expect(isTemporary(err)).toBe(temporary);
  });

  it.each([
    ['ECONNRESET', 'REGISTRY_UNREACHABLE', true],
    ['ECONNREFUSED', 'REGISTRY_UNREACHABLE', true],
    ['UND_ERR_HEADERS_TIMEOUT', 'REGISTRY_TIMEOUT', true],
    ['ENOTFOUND', 'REGISTRY_UNREACHABLE', false],
  ])('a connection error %s is %s, temporary: %s', (code, gantryCode, temporary) => {
    const err = connectionError('GET', url, Object.assign(new Error(code), { code }));
    expect(err.code).toBe(gantryCode);
    expect(isTemporary(err)).toBe(temporary);
  });

  it('a body cut mid-way is temporary; a body aborted by its reader is not', () => {
    const cut = Object.assign(new Error('other side closed'), {
      name: 'SocketError',
      code: 'UND_ERR_SOCKET',
    });
    expect(isTemporary(bodyError(cut, 'blob'))).toBe(true);
    const aborted = Object.assign(new Error('aborted'), { code: 'UND_ERR_ABORTED' });
    expect(isTemporary(bodyError(aborted, 'blob'))).toBe(false);
  });

  it('keeps the answer when the error is wrapped with more context (details survive)', () => {
    const inner = responseError('PUT', url, 503, '');
    const wrapped = new GantryError(inner.code, `destination: ${inner.message}`, {
      cause: inner,
      details: { ...inner.details, side: 'destination' },
    });
    expect(isTemporary(wrapped)).toBe(true);
  });

  it('passes on an error Gantry raised while a request body streamed (undici wraps it)', () => {
    const own = new RegistryError('REGISTRY_DIGEST_MISMATCH', 'source blob hashes to …', { temporary: true });
    const wrapped = Object.assign(new Error('request body failed'), { cause: own });
    expect(connectionError('PUT', url, wrapped)).toBe(own);
  });
});
