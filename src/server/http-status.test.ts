import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../core/index.js';
import { httpStatusFor, mappedCodes } from './http-status.js';

describe('error → HTTP status table', () => {
  it('maps every error code explicitly (a new code must choose its status)', () => {
    expect([...mappedCodes()].sort()).toEqual([...ErrorCodes].sort());
  });

  it.each([
    ['API_REQUEST_INVALID', 400],
    ['API_UNAUTHENTICATED', 401],
    ['API_FORBIDDEN', 403],
    ['API_NOT_FOUND', 404],
    ['PROMOTION_UNKNOWN', 404],
    ['PROMOTION_GATES_FAILED', 409],
    // Gantry's own registry credentials refused: the caller's token is fine, so not 401/403.
    ['REGISTRY_UNAUTHORIZED', 502],
    ['REGISTRY_DENIED', 502],
    ['REGISTRY_UNREACHABLE', 502],
    ['REGISTRY_TOO_MANY_REQUESTS', 503],
    ['REGISTRY_TIMEOUT', 504],
    ['STORE_UNREACHABLE', 503],
    ['INTERNAL', 500],
  ] as const)('%s → %i', (code, status) => {
    expect(httpStatusFor(code)).toBe(status);
  });
});
