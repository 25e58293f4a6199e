/**
 * Keyset pages of lists shown newest first (promotions, webhook deliveries): ordered by
 * `(created_at, id)` descending; the cursor of the next page names the last row shown, opaque to
 * callers (base64url). A cursor this server did not give out is `API_REQUEST_INVALID`.
 */
import { GantryError } from '../core/index.js';

/** A page size: `limit` (default 50) kept within 1–500. */
export function pageLimit(limit: number | undefined): number {
  return Math.min(Math.max(Math.trunc(limit ?? 50), 1), 500);
}

/** The cursor after the row created at `createdAt` with `id`. */
export function encodePageCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([createdAt.toISOString(), id])).toString('base64url');
}

/** The `(created_at, id)` a cursor names; `API_REQUEST_INVALID` for anything else. */
export function decodePageCursor(cursor: string): { time: string; id: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      typeof v[0] === 'string' &&
      typeof v[1] === 'string' &&
      !Number.isNaN(Date.parse(v[0]))
    )
      return { time: v[0], id: v[1] };
  } catch {
    // reported below
  }
  throw new GantryError('API_REQUEST_INVALID', 'the page cursor "before" is not one this server gave out');
}

/** The first `limit` of `rows` (read with `limit + 1`) and the next page's cursor when there is one. */
export function pageOf<R extends { created_at: Date; id: string }>(
  rows: readonly R[],
  limit: number,
): { page: R[]; next?: string } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return rows.length > limit && last ? { page, next: encodePageCursor(last.created_at, last.id) } : { page };
}
