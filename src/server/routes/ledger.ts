/** `/api/v1/ledger`: read the hash-chained ledger in pages, and verify the whole chain. */
import { z } from 'zod';
import { GantryError } from '../../core/index.js';
import { callerOf } from '../caller.js';
import type { ServerContext } from '../context.js';
import { route, type AnyRoute } from '../route.js';

const seq = z
  .string()
  .regex(/^\d{1,15}$/, 'a non-negative integer')
  .transform(Number);

const listQuery = z.strictObject({
  after: seq.optional().describe('only entries after this sequence number (default 0)'),
  limit: z
    .string()
    .regex(/^\d{1,4}$/, 'an integer from 1 to 1000')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 1000, 'an integer from 1 to 1000')
    .optional()
    .describe('most entries returned (1–1000, default 100)'),
  subject: z.string().min(1).max(200).optional().describe('only entries about this subject'),
  before: seq
    .optional()
    .describe('only entries before this sequence number (the `next` of a newest-first page)'),
  type: z
    .string()
    .regex(
      /^[a-z][a-z0-9_-]{0,63}(?:\.[a-z0-9_-]{1,63}){0,7}(?:\.\*)?$/,
      'an event type (promotion.completed) or a prefix ending in .* (promotion.*)',
    )
    .optional()
    .describe('only entries of this type, or of every type under a prefix ending in `.*` (`promotion.*`)'),
  actor: z.string().min(1).max(300).optional().describe('only entries by this actor (exact)'),
  order: z
    .enum(['asc', 'desc'])
    .optional()
    .describe('`desc`: newest first, and `next` is the `before` of the following page (default `asc`)'),
});

const entry = z.object({
  seq: z.number(),
  time: z.string(),
  type: z.string(),
  subject: z.string(),
  actor: z.string(),
  payload: z.record(z.string(), z.unknown()),
  prev_hash: z.string(),
  hash: z.string(),
});

/** The ledger routes. */
export function ledgerRoutes(ctx: ServerContext): AnyRoute[] {
  return [
    route({
      method: 'GET',
      url: '/api/v1/ledger',
      summary:
        'Ledger entries in sequence order (newest first with `order=desc`), filtered by subject, type (or `prefix.*`) and actor; `next` is the `after` (with `order=desc`: the `before`) of the following page (not for a token limited to teams)',
      access: 'read',
      query: listQuery,
      response: z.object({ entries: z.array(entry), next: z.number().optional() }),
      handler: async ({ query, request }) => {
        // Entries name applications of every team: a token limited to teams may not read them.
        if (callerOf(request).token.teams.length > 0)
          throw new GantryError(
            'API_FORBIDDEN',
            'the ledger covers every application: a token limited to teams cannot read it',
          );
        const limit = query.limit ?? 100;
        const entries = [];
        for await (const e of ctx.ledger.entries({
          after: query.after ?? 0,
          pageSize: limit,
          ...(query.subject !== undefined && { subject: query.subject }),
          ...(query.before !== undefined && { before: query.before }),
          ...(query.type !== undefined &&
            (query.type.endsWith('.*') ? { typePrefix: query.type.slice(0, -1) } : { type: query.type })),
          ...(query.actor !== undefined && { actor: query.actor }),
          ...(query.order !== undefined && { order: query.order }),
        })) {
          entries.push({ ...e, time: e.time.toISOString() });
          if (entries.length === limit) break;
        }
        const last = entries.at(-1);
        return { entries, ...(entries.length === limit && last && { next: last.seq }) };
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/ledger/verify',
      summary: 'Check every entry of the hash chain; finds edited, removed and reordered entries',
      access: 'read',
      response: z.object({
        ok: z.boolean(),
        entries: z.number(),
        headHash: z.string(),
        firstBadSeq: z.number().optional(),
        reason: z.string().optional(),
      }),
      handler: () => ctx.ledger.verify(),
    }),
  ];
}
