/**
 * `/api/v1/webhooks/deliveries`: the delivery log of outbound webhooks (every delivery with its
 * attempts, status codes and timing), and redelivery. Neither secrets nor endpoint URLs are ever
 * served, and no route takes a URL: Gantry calls only the endpoints configured in gantry.yaml.
 */
import { z } from 'zod';
import { GantryError } from '../../core/index.js';
import { redeliver } from '../../jobs/index.js';
import { WebhookDeliveries, type DeliveryWithAttempts } from '../../store/index.js';
import { callerOf } from '../caller.js';
import type { ServerContext } from '../context.js';
import { route, type AnyRoute } from '../route.js';

const listQuery = z.strictObject({
  endpoint: z.string().min(1).max(100).optional().describe('only deliveries to this endpoint (its name)'),
  state: z.enum(['pending', 'delivered', 'dead']).optional().describe('only deliveries in this state'),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'an integer from 1 to 500')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 500, 'an integer from 1 to 500')
    .optional()
    .describe('most deliveries returned (1–500, default 50)'),
  before: z.string().min(1).max(500).optional().describe('the `next` cursor of the previous page'),
});

const idParams = z.strictObject({ id: z.string().regex(/^msg_[0-9a-f]{32}$/, 'a delivery id (msg_…)') });

const attempt = z.object({
  startedAt: z.string(),
  durationMs: z.number(),
  status: z.number().nullable(),
  error: z.string().nullable(),
  outcome: z.enum(['delivered', 'retry', 'dead']),
});

const delivery = z.object({
  id: z.string().describe('the webhook-id of every request of this delivery'),
  endpoint: z.string(),
  event: z.string(),
  subject: z.string(),
  ledgerSeq: z.number(),
  state: z.enum(['pending', 'delivered', 'dead']),
  attempts: z.number(),
  lastStatus: z.number().nullable(),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  deliveredAt: z.string().nullable(),
  body: z.record(z.string(), z.unknown()).describe('the JSON body sent'),
  attemptLog: z.array(attempt),
});

function viewOf(d: DeliveryWithAttempts): z.infer<typeof delivery> {
  return {
    id: d.id,
    endpoint: d.endpoint,
    event: d.event,
    subject: d.subject,
    ledgerSeq: d.ledger_seq,
    state: d.state,
    attempts: d.attempts,
    lastStatus: d.last_status,
    lastError: d.last_error,
    createdAt: d.created_at.toISOString(),
    updatedAt: d.updated_at.toISOString(),
    deliveredAt: d.delivered_at?.toISOString() ?? null,
    body: d.body as Record<string, unknown>,
    attemptLog: d.attemptLog.map((a) => ({
      startedAt: a.started_at.toISOString(),
      durationMs: a.duration_ms,
      status: a.status,
      error: a.error,
      outcome: a.outcome,
    })),
  };
}

/** The delivery log routes. */
export function webhookRoutes(ctx: ServerContext): AnyRoute[] {
  const deliveries = new WebhookDeliveries(ctx.store.db);
  return [
    route({
      method: 'GET',
      url: '/api/v1/webhooks/deliveries',
      summary: 'Webhook deliveries, newest first, with every attempt (status code, error, duration)',
      access: 'read',
      query: listQuery,
      response: z.object({ deliveries: z.array(delivery), next: z.string().optional() }),
      handler: async ({ query, request }) => {
        // Events name applications of every team: a token limited to teams may not read them.
        if (callerOf(request).token.teams.length > 0)
          throw new GantryError(
            'API_FORBIDDEN',
            'the webhook delivery log covers every application: a token limited to teams cannot read it',
          );
        const page = await deliveries.list({
          ...(query.endpoint !== undefined && { endpoint: query.endpoint }),
          ...(query.state !== undefined && { state: query.state }),
          ...(query.limit !== undefined && { limit: query.limit }),
          ...(query.before !== undefined && { before: query.before }),
        });
        return {
          deliveries: page.deliveries.map(viewOf),
          ...(page.next !== undefined && { next: page.next }),
        };
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/webhooks/deliveries/:id/redeliver',
      summary:
        'Send a delivery again to its configured endpoint: same webhook-id and body, new timestamp and signature',
      access: 'admin',
      params: idParams,
      status: 202,
      response: delivery,
      handler: async ({ params }) => {
        await redeliver(ctx.store.db, params.id, ctx.webhooks());
        const [d] = (await deliveries.list({ limit: 1, id: params.id })).deliveries;
        if (!d) throw new GantryError('API_NOT_FOUND', `no webhook delivery ${params.id}`);
        return viewOf(d);
      },
    }),
  ];
}
