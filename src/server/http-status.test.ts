import { readFileSync } from 'node:fs';
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

describe('docs/errors.md', () => {
  it('documents every status the table gives', () => {
    const docs = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const section = docs.slice(docs.indexOf('## HTTP status'));
    const documented = new Map<string, number>();
    for (const m of section.matchAll(/^\| (\d{3}) \| (.+) \|$/gm))
      for (const code of (m[2] ?? '').matchAll(/`([A-Z0-9_]+)`/g))
        documented.set(code[1] ?? '', Number(m[1]));
    for (const code of ErrorCodes) expect([code, documented.get(code)]).toEqual([code, httpStatusFor(code)]);
  });
});
