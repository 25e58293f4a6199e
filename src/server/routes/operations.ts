/** `/healthz`, `/readyz`, `/metrics` and `/openapi.json`. */
import type { Kysely } from 'kysely';
import { Migrator } from 'kysely/migration';
import { z } from 'zod';
import { migrations } from '../../store/index.js';
import type { ServerContext } from '../context.js';
import { route, type AnyRoute } from '../route.js';

/** The operational routes; `document` returns the OpenAPI document of every route. */
export function operationRoutes(ctx: ServerContext, document: () => unknown): AnyRoute[] {
  return [
    route({
      method: 'GET',
      url: '/healthz',
      summary: 'The process is up (no token needed)',
      access: 'public',
      response: z.object({ ok: z.literal(true) }),
      handler: () => Promise.resolve({ ok: true as const }),
    }),
    route({
      method: 'GET',
      url: '/readyz',
      summary: 'The store is reachable and its schema is migrated (503 otherwise; no token needed)',
      access: 'public',
      response: z.object({ ok: z.boolean(), store: z.string(), reason: z.string().optional() }),
      handler: async ({ reply }) => {
        const reason = await notReady(ctx.store.db as unknown as Kysely<unknown>);
        if (reason !== undefined) reply.code(503);
        return { ok: reason === undefined, store: ctx.store.kind, ...(reason !== undefined && { reason }) };
      },
    }),
    route({
      method: 'GET',
      url: '/metrics',
      summary: 'Prometheus metrics (gantry_ prefix); needs a token with any role',
      access: 'read',
      produces: 'text/plain; version=0.0.4',
      handler: () => ctx.metrics.registry.metrics(),
    }),
    route({
      method: 'GET',
      url: '/openapi.json',
      summary: 'This API as an OpenAPI 3.1 document (no token needed)',
      access: 'public',
      handler: () => Promise.resolve(document()),
    }),
  ];
}

async function notReady(db: Kysely<unknown>): Promise<string | undefined> {
  try {
    const provider = { getMigrations: () => Promise.resolve({ ...migrations }) };
    const known = await new Migrator({ db, provider }).getMigrations();
    const pending = known.filter((m) => m.executedAt === undefined).map((m) => m.name);
    return pending.length > 0 ? `migrations not applied: ${pending.join(', ')}` : undefined;
  } catch (error) {
    return `store unreachable: ${error instanceof Error ? error.message.split('\n')[0] : 'unknown error'}`;
  }
}
