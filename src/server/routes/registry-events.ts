/**
 * `POST /api/v1/registry-events`: registries report pushes (distribution's notifications, Harbor's
 * webhooks, or anything that can send `{repository, tag?, digest}`), and every pushed image that
 * is an application's repository in an environment becomes a candidate. Authenticated by an API
 * token (`registry`, `ci` or `admin`) or, instead, by `X-Gantry-Signature: sha256=<hex>`: an
 * HMAC-SHA256 of the raw body with the secret `events.secretEnv` names, compared in constant time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { GantryError } from '../../core/index.js';
import type { CandidateSink } from '../../jobs/index.js';
import { tokenCallerOf } from '../caller.js';
import type { ServerContext } from '../context.js';
import { targetsOf } from '../registry-event-targets.js';
import { parseRegistryNotification } from '../registry-events.js';
import { route, type AnyRoute } from '../route.js';

/** The header carrying the HMAC of a notification's body. */
export const SIGNATURE_HEADER = 'x-gantry-signature';

/** Largest notification body in bytes (distribution batches events). */
export const REGISTRY_EVENTS_BODY_LIMIT = 1024 * 1024;

/** The registry notification route. */
export function registryEventRoutes(ctx: ServerContext, sink: CandidateSink): AnyRoute[] {
  return [
    route({
      method: 'POST',
      url: '/api/v1/registry-events',
      summary:
        'A registry reports pushes (distribution notifications envelope, Harbor webhook, or {repository, tag?, digest}); pushed images of known repositories become candidates',
      access: 'notify',
      rawBody: true,
      status: 202,
      response: z.object({
        accepted: z.number().int().describe('candidates handed on (one per application and environment)'),
        ignored: z
          .number()
          .int()
          .describe('events that are not image pushes, or pushes to repositories of no application'),
      }),
      handler: async ({ request }) => {
        const raw = request.body;
        if (!Buffer.isBuffer(raw) || raw.length === 0)
          throw new GantryError('API_REQUEST_INVALID', 'invalid body: empty (expected JSON)', {
            details: { where: 'body' },
          });
        const app = ctx.app();
        const caller = tokenCallerOf(request);
        if (!caller) verifySignature(raw, request.headers[SIGNATURE_HEADER], app.notificationSecret());
        let json: unknown;
        try {
          json = JSON.parse(raw.toString('utf8'));
        } catch {
          throw new GantryError('API_REQUEST_INVALID', 'invalid body: not JSON', {
            details: { where: 'body' },
          });
        }
        const notification = parseRegistryNotification(json);
        const seenAt = ctx.now().toISOString();
        let accepted = 0;
        let ignored = notification.ignored;
        for (const push of notification.pushes) {
          const targets = push.host === undefined ? [] : targetsOf(app.config, push.host, push.repository);
          if (targets.length === 0) ignored += 1;
          for (const t of targets) {
            await sink.register({
              app: t.app,
              environment: t.environment,
              digest: push.digest,
              ...(push.tag !== undefined && { tag: push.tag }),
              source: notification.source,
              seenAt: push.at ?? seenAt,
              reportedBy: caller?.actor ?? `registry ${push.host ?? 'unknown'}`,
            });
            accepted += 1;
          }
        }
        request.log.info({ source: notification.source, accepted, ignored }, 'registry event accepted');
        return { accepted, ignored };
      },
    }),
  ];
}

/** Checks `sha256=<hex>` against the HMAC of `body`; 401 `API_UNAUTHENTICATED` otherwise. */
export function verifySignature(
  body: Buffer,
  header: string | string[] | undefined,
  secret: string | undefined,
): void {
  if (secret === undefined)
    throw refused('HMAC signatures are not accepted here (no events.secretEnv secret): use an API token');
  const value = Array.isArray(header) ? header[0] : header;
  const hex = /^sha256=([0-9a-f]{64})$/i.exec(value?.trim() ?? '')?.[1];
  if (hex === undefined) throw refused(`${SIGNATURE_HEADER} is not "sha256=<64 hex digits>"`);
  const expected = createHmac('sha256', secret).update(body).digest();
  if (!timingSafeEqual(expected, Buffer.from(hex, 'hex')))
    throw refused(`${SIGNATURE_HEADER} does not match the body`);
}

function refused(message: string): GantryError {
  return new GantryError('API_UNAUTHENTICATED', message, { details: { reason: 'signature' } });
}
