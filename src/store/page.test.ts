import { describe, expect, it } from 'vitest';
import { isGantryError } from '../core/index.js';
import { decodePageCursor, encodePageCursor, pageLimit, pageOf } from './page.js';

describe('keyset pages', () => {
  it('round-trips a cursor and refuses one it did not give out', () => {
    const at = new Date(Date.UTC(2026, 11, 2, 3, 4, 5, 6));
    expect(decodePageCursor(encodePageCursor(at, 'p-1'))).toEqual({ time: at.toISOString(), id: 'p-1' });
    for (const bad of [
      '',
      'x',
      Buffer.from('[1,2]').toString('base64url'),
      Buffer.from('["no date","a"]').toString('base64url'),
    ]) {
      let error: unknown;
      try {
        decodePageCursor(bad);
      } catch (e) {
        error = e;
      }
      expect(isGantryError(error, 'API_REQUEST_INVALID')).toBe(true);
    }
  });

  it('keeps page sizes within 1–500 and gives a next cursor only when a row is left over', () => {
    expect([pageLimit(undefined), pageLimit(0), pageLimit(9999), pageLimit(7.9)]).toEqual([50, 1, 500, 7]);
    const rows = [3, 2, 1].map((n) => ({ id: `r${n}`, created_at: new Date(n * 1000) }));
    const full = pageOf(rows, 2);
    expect(full.page.map((r) => r.id)).toEqual(['r3', 'r2']);
    expect(decodePageCursor(full.next as string)).toEqual({ time: new Date(2000).toISOString(), id: 'r2' });
    expect(pageOf(rows, 3).next).toBeUndefined();
  });
});
