/**
 * `/api/v1/promotions`, `/releases` and `/rollbacks`: request, follow (also as server-sent
 * events), approve, reject and cancel promotions through the promotion desk (src/jobs). Roles
 * are checked before anything is read (`promote`: admin or ci; `approve`: admin or an
 * approver role, then `approver:<target environment>` once the promotion is loaded); teams limit
 * a token to its applications, and a promotion the caller may not see is as unknown as one that
 * does not exist (404), so ids do not leak what other teams promote.
 */
import { z } from 'zod';
import { isTerminal, PromotionStates } from '../../app.js';
import { GantryError } from '../../core/index.js';
import type { DeskCaller, PromotionDesk, PromotionStreamEvent, PromotionView } from '../../jobs/index.js';
import { callerOf, type Caller } from '../caller.js';
import type { ServerContext } from '../context.js';
import type { EventStreams } from '../event-stream.js';
import { mayApprove } from '../roles.js';
import { route, type AnyRoute } from '../route.js';
import { assertVisible, visibleApplications } from '../teams.js';

const nameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a name from gantry.yaml');
const versionSchema = z.string().regex(/^\w[\w.-]{0,127}$/, 'a tag: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}');
const digestSchema = z
  .string()
  .regex(/^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/, 'a digest: sha256:<64 lowercase hex>');
const idSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a promotion id');
const textSchema = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^\S[^\0]*$/u, 'must not be empty or start with white space');

/** Exactly one of `version` and `digest`. */
const oneReference = <T extends { version?: string | undefined; digest?: string | undefined }>(value: T) =>
  (value.version === undefined) !== (value.digest === undefined);
const ONE_REFERENCE = { message: 'exactly one of version and digest', path: ['version'] };

const promoteBody = z
  .strictObject({
    app: nameSchema.describe('application'),
    version: versionSchema.optional().describe('a tag of the candidate in the source environment'),
    digest: digestSchema.optional().describe('the candidate by digest'),
    to: nameSchema.describe('target environment'),
    from: nameSchema.optional().describe("source environment; default the target's only `from`"),
    override: textSchema(500)
      .optional()
      .describe('promote despite failing gates, for this reason (where the environment allows it)'),
  })
  .refine(oneReference, ONE_REFERENCE);

const releaseBody = z.strictObject({
  to: nameSchema.describe('target environment'),
  from: nameSchema.optional().describe('source environment'),
  applications: z
    .array(
      z
        .strictObject({
          app: nameSchema,
          version: versionSchema.optional(),
          digest: digestSchema.optional(),
        })
        .refine(oneReference, ONE_REFERENCE),
    )
    .min(1)
    .max(100)
    .refine((apps) => new Set(apps.map((a) => a.app)).size === apps.length, 'an application appears twice')
    .describe('the applications released together, all or nothing'),
});

const rollbackBody = z.strictObject({
  app: nameSchema.describe('application'),
  env: nameSchema.describe('environment'),
  to: z
    .union([versionSchema, digestSchema])
    .optional()
    .describe('a version or digest promoted to env before; default the previous one'),
});

const approvalBody = z.strictObject({ comment: textSchema(2000).optional() }).optional();
const rejectionBody = z.strictObject({ reason: textSchema(2000).describe('why it is rejected') });
const cancelBody = z.strictObject({ reason: textSchema(2000).optional() }).optional();

const listQuery = z.strictObject({
  app: nameSchema.optional().describe('only this application'),
  env: nameSchema.optional().describe('only promotions to this environment'),
  state: z.enum(PromotionStates).optional().describe('only promotions in this state'),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'an integer from 1 to 500')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 500, 'an integer from 1 to 500')
    .optional()
    .describe('most promotions returned (1–500, default 50)'),
  before: z
    .string()
    .regex(/^[\x21-\x7e]{1,200}$/, 'the `next` of the previous page')
    .optional()
    .describe('the `next` of the previous page'),
});

const idParams = z.strictObject({ id: idSchema });

const promotionView = z.object({
  id: z.string(),
  kind: z.enum(['promotion', 'release']),
  state: z.enum(PromotionStates),
  environment: z.string(),
  from: z.string(),
  requestedBy: z.string(),
  requestedAt: z.string(),
  updatedAt: z.string(),
  applications: z.array(z.record(z.string(), z.unknown())),
  decisions: z.array(
    z.object({
      approver: z.string(),
      decision: z.enum(['approved', 'rejected']),
      comment: z.string().optional(),
      time: z.string(),
    }),
  ),
  reason: z.string().optional(),
  error: z
    .object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() })
    .optional(),
  cancelRequested: z.boolean().optional(),
  waiting: z
    .array(z.object({ application: z.string(), gate: z.string(), reason: z.string() }))
    .optional()
    .describe('while it waits: the pending gates and why (e.g. whose approval is missing)'),
});

/** True when a token seeing `visible` (undefined: everything) may see every application of `view`. */
function visibleIn(visible: ReadonlySet<string> | undefined, view: PromotionView): boolean {
  if (!visible) return true;
  return view.applications.length > 0 && view.applications.every((a) => visible.has(a.application));
}

/** What the desk is told about the caller. */
function deskCaller(caller: Caller): DeskCaller {
  return { actor: caller.actor, identity: caller.token.name, groups: [...caller.token.groups] };
}

/** The promotion routes, served by `desk`; `streams` holds their event streams. */
export function promotionRoutes(ctx: ServerContext, desk: PromotionDesk, streams: EventStreams): AnyRoute[] {
  /** The promotion `id` as `caller` may see it; 404 when unknown or another team's. */
  const load = async (caller: Caller, id: string): Promise<PromotionView> => {
    const view = await desk.get(id);
    if (!view || !visibleIn(visibleApplications(ctx.app().config, caller.token), view))
      throw new GantryError('API_NOT_FOUND', `no promotion ${id}`);
    return view;
  };
  /** Loads `id` and checks that `caller` may approve or reject promotions to its environment. */
  const loadForDecision = async (caller: Caller, id: string): Promise<PromotionView> => {
    const view = await load(caller, id);
    if (!mayApprove(caller.token.roles, view.environment))
      throw new GantryError(
        'API_FORBIDDEN',
        `deciding on promotions to "${view.environment}" needs the admin or approver:${view.environment} role`,
      );
    return view;
  };
  const located = (reply: { header(k: string, v: string): unknown }, view: PromotionView): PromotionView => {
    reply.header('location', `/api/v1/promotions/${encodeURIComponent(view.id)}`);
    return view;
  };

  return [
    route({
      method: 'POST',
      url: '/api/v1/promotions',
      summary:
        'Request a promotion of one application (by version or digest); it runs as a durable job. `Location` names it',
      access: 'promote',
      body: promoteBody,
      status: 202,
      response: promotionView,
      handler: async ({ body, request, reply }) => {
        const caller = callerOf(request);
        assertVisible(ctx.app().config, caller.token, body.app);
        return located(reply, await desk.promote(body, deskCaller(caller)));
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/promotions',
      summary:
        "Promotions and releases, newest first, limited to the token's teams; `next` pages on (`before`)",
      access: 'read',
      query: listQuery,
      response: z.object({ promotions: z.array(promotionView), next: z.string().optional() }),
      handler: async ({ query, request }) => {
        const caller = callerOf(request);
        const config = ctx.app().config;
        if (query.app !== undefined) assertVisible(config, caller.token, query.app);
        const apps = visibleApplications(config, caller.token);
        const page = await desk.list({ ...query, ...(apps && { apps }) });
        return {
          promotions: page.promotions.filter((p) => visibleIn(apps, p)),
          ...(page.next !== undefined && { next: page.next }),
        };
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/promotions/:id',
      summary: 'A promotion or release (404 also for one of another team)',
      access: 'read',
      params: idParams,
      response: promotionView,
      handler: ({ params, request }) => load(callerOf(request), params.id),
    }),
    route({
      method: 'GET',
      url: '/api/v1/promotions/:id/events',
      summary:
        'Server-sent events of a promotion: `state` (first the current one), `progress` of copies, then `end` with the promotion, and the stream closes',
      access: 'read',
      params: idParams,
      produces: 'text/event-stream',
      handler: async ({ params, request, reply }) => {
        const caller = callerOf(request);
        // Subscribe before reading the state, so nothing between the read and the subscription is lost.
        const early: PromotionStreamEvent[] = [];
        const relay: { to?: (event: PromotionStreamEvent) => void } = {};
        const unsubscribe = desk.watch(params.id, (event) => {
          if (relay.to) relay.to(event);
          else early.push(event);
        });
        let view: PromotionView;
        try {
          view = await load(caller, params.id);
        } catch (error) {
          unsubscribe();
          throw error;
        }
        if (request.method === 'HEAD') {
          unsubscribe();
          reply.header('cache-control', 'no-store');
          return '';
        }
        const stream = streams.open(request, reply);
        stream.onClose(unsubscribe);
        stream.send('state', { type: 'state', id: view.id, state: view.state, time: view.updatedAt });
        if (isTerminal(view.state)) {
          stream.send('end', { type: 'end', id: view.id, promotion: view });
          stream.end();
          return;
        }
        const send = (event: PromotionStreamEvent): void => {
          if (stream.closed) return;
          stream.send(event.type, event);
          if (event.type === 'end') stream.end();
        };
        // States reported before the read that the read already shows are not sent again.
        const rank = PromotionStates.indexOf(view.state);
        for (const event of early)
          if (event.type !== 'state' || PromotionStates.indexOf(event.state) > rank) send(event);
        relay.to = send;
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/promotions/:id/approvals',
      summary:
        'Approve a promotion (admin or approver:<target environment>; never the requester: 403 PROMOTION_SELF_APPROVAL)',
      access: 'approve',
      params: idParams,
      body: approvalBody,
      status: 201,
      response: promotionView,
      handler: async ({ params, body, request }) => {
        const caller = callerOf(request);
        await loadForDecision(caller, params.id);
        return desk.approve(params.id, deskCaller(caller), body?.comment);
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/promotions/:id/rejections',
      summary: 'Reject a waiting promotion (admin or approver:<target environment>)',
      access: 'approve',
      params: idParams,
      body: rejectionBody,
      status: 201,
      response: promotionView,
      handler: async ({ params, body, request }) => {
        const caller = callerOf(request);
        await loadForDecision(caller, params.id);
        return desk.reject(params.id, deskCaller(caller), body.reason);
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/promotions/:id/cancel',
      summary:
        'Cancel a promotion before its tags are written; one that is copying stops at its next step (`cancelRequested`)',
      access: 'promote',
      params: idParams,
      body: cancelBody,
      status: 202,
      response: promotionView,
      handler: async ({ params, body, request }) => {
        const caller = callerOf(request);
        await load(caller, params.id);
        return desk.cancel(params.id, deskCaller(caller), body?.reason);
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/releases',
      summary:
        'Request a release: several applications into one environment, all or nothing (tags are written last). `Location` names it',
      access: 'promote',
      body: releaseBody,
      status: 202,
      response: promotionView,
      handler: async ({ body, request, reply }) => {
        const caller = callerOf(request);
        const config = ctx.app().config;
        for (const a of body.applications) assertVisible(config, caller.token, a.app);
        return located(reply, await desk.release(body, deskCaller(caller)));
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/rollbacks',
      summary:
        'Roll an application in an environment back to a digest promoted there before (a tag move, no copy)',
      access: 'promote',
      body: rollbackBody,
      response: z.object({
        application: z.string(),
        environment: z.string(),
        repository: z.string(),
        digest: z.string(),
        version: z.string().optional(),
        previousDigest: z.string().optional(),
        tags: z.array(z.string()),
        attestation: z.string(),
      }),
      handler: async ({ body, request }) => {
        const caller = callerOf(request);
        assertVisible(ctx.app().config, caller.token, body.app);
        const outcome = await desk.rollback(body, deskCaller(caller));
        ctx.statusChanged('rollback.completed');
        return outcome;
      },
    }),
  ];
}
