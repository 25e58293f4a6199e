/**
 * What can be promoted into an environment, through the composition root's promotion service:
 * the images of its source environments, newest version first, each saying whether the
 * environment already holds it or runs it; and everything an approver reviews about one of them
 * (image details, referrers, vulnerabilities, the environment's gates evaluated now, decisions
 * and promotions so far). Limited to the caller's teams' applications. Reads only.
 */
import { z } from 'zod';
import { imageDetails, sameIdentity, type App } from '../../app.js';
import { repositoryOf } from '../../config/index.js';
import { GantryError } from '../../core/index.js';
import { Promotions, type PromotionRow } from '../../store/index.js';
import { callerOf } from '../caller.js';
import type { ServerContext } from '../context.js';
import { route, type AnyRoute } from '../route.js';
import { assertVisible, visibleApplications } from '../teams.js';

const nameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a name from gantry.yaml');
const digestSchema = z.string().regex(/^sha256:[a-f0-9]{64}$/, 'a digest: sha256:<64 lowercase hex>');

const candidateSchema = z.object({
  digest: z.string(),
  version: z.string().optional(),
  tags: z.array(z.string()),
  from: z.string().describe('the source environment'),
  inTarget: z.boolean().describe('the environment already holds this digest with a promotion record'),
  current: z.boolean().describe('the environment runs this digest now'),
});

const detailSchema = z.object({
  application: z.string(),
  environment: z.string(),
  from: z.string().describe('the source environment the candidate was found in'),
  digest: z.string(),
  version: z.string().optional(),
  tags: z.array(z.string()).describe('its tags in the source'),
  mediaType: z.string(),
  size: z.number().describe('bytes of manifest, config and layers; for an index, the sum over its platforms'),
  created: z.string().optional(),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()),
  platforms: z.array(z.object({ platform: z.string(), digest: z.string(), size: z.number() })),
  referrers: z.array(
    z.object({
      digest: z.string(),
      mediaType: z.string(),
      artifactType: z.string().optional(),
      size: z.number(),
      kind: z.enum([
        'signature',
        'sbom',
        'vulnerability-report',
        'attestation',
        'promotion-record',
        'approval',
        'other',
      ]),
      annotations: z.record(z.string(), z.string()).optional(),
    }),
  ),
  vulnerabilities: z
    .object({
      scanner: z.string(),
      createdAt: z.string().optional(),
      critical: z.number(),
      high: z.number(),
      medium: z.number(),
      low: z.number(),
      unknown: z.number(),
      reportDigest: z.string().optional(),
    })
    .optional()
    .describe('the newest vulnerability report among the referrers, findings counted by severity'),
  gates: z.array(
    z.object({ name: z.string(), status: z.enum(['pass', 'fail', 'pending']), reasons: z.array(z.string()) }),
  ),
  approvals: z.array(
    z.object({
      approver: z.string(),
      decision: z.enum(['approved', 'rejected']),
      comment: z.string().optional(),
      time: z.string(),
      source: z.enum(['api', 'signed']),
    }),
  ),
  promotions: z
    .array(
      z.object({
        id: z.string(),
        state: z.string(),
        environment: z.string(),
        requestedBy: z.string(),
        requestedAt: z.string(),
      }),
    )
    .describe('promotions of this digest of the application, newest first (at most 20)'),
});

const WAITING = new Set(['requested', 'gated', 'awaiting-approval']);

/** The candidate routes. */
export function candidateRoutes(ctx: ServerContext): AnyRoute[] {
  const promotions = new Promotions(ctx.store.db);
  return [
    route({
      method: 'GET',
      url: '/api/v1/applications/:app/candidates',
      summary:
        'What can be promoted into an environment: the images of its source environments, newest version first (at most 50)',
      access: 'read',
      params: z.strictObject({ app: nameSchema }),
      query: z.strictObject({ env: nameSchema.describe('the environment to promote into') }),
      response: z.object({
        application: z.string(),
        environment: z.string(),
        candidates: z.array(candidateSchema),
        truncated: z.boolean(),
      }),
      handler: async ({ params, query, request }) => {
        const app = ctx.app();
        assertVisible(app.config, callerOf(request).token, params.app);
        return app.promotions.candidates(params.app, query.env);
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/applications/:app/candidates/:digest',
      summary:
        "One candidate for promotion into an environment, as an approver reviews it: image details, referrers by kind, the newest vulnerability report's counts, the environment's gates evaluated now (nothing is written), decisions and promotions of the digest. 404 API_NOT_FOUND when the digest is not among the candidates listed for the environment",
      access: 'read',
      params: z.strictObject({ app: nameSchema, digest: digestSchema }),
      query: z.strictObject({ env: nameSchema.describe('the environment to promote into') }),
      response: detailSchema,
      handler: async ({ params, query, request }) => {
        const app = ctx.app();
        const caller = callerOf(request);
        assertVisible(app.config, caller.token, params.app);
        const list = await app.promotions.candidates(params.app, query.env);
        const found = list.candidates.find((c) => c.digest === params.digest);
        if (!found)
          throw new GantryError(
            'API_NOT_FOUND',
            `${params.digest} is not a candidate of ${params.app} for ${query.env} (not among the images of ${app.promotions.environment(query.env).from.join(', ') || 'its sources'})`,
            { details: { application: params.app, environment: query.env, digest: params.digest } },
          );
        const source = repositoryOf(
          app.promotions.environment(found.from),
          app.promotions.application(params.app),
        );
        const visible = visibleApplications(app.config, caller.token);
        const rows = (await promotions.ofSubject(`${params.app}@${params.digest}`, 20)).filter(
          (r) => !visible || r.apps.every((a) => visible.has(a)),
        );
        const details = await imageDetails(app.client, source, found.digest);
        const review = await reviewOf(app, promotions, rows, {
          app: params.app,
          env: query.env,
          digest: params.digest,
          from: found.from,
          identity: caller.token.name,
          now: ctx.now(),
        });
        return {
          application: params.app,
          environment: query.env,
          from: found.from,
          digest: params.digest,
          ...(found.version !== undefined && { version: found.version }),
          tags: found.tags,
          mediaType: details.mediaType,
          size: details.size,
          ...(details.created !== undefined && { created: details.created }),
          labels: details.labels,
          annotations: details.annotations,
          platforms: details.platforms,
          referrers: details.referrers,
          ...(details.vulnerabilities && { vulnerabilities: details.vulnerabilities }),
          ...review,
          promotions: rows.map((r) => ({
            id: r.id,
            state: r.state,
            environment: r.to_env,
            requestedBy: r.requester,
            requestedAt: r.created_at.toISOString(),
          })),
        };
      },
    }),
  ];
}

interface ReviewRequest {
  readonly app: string;
  readonly env: string;
  readonly digest: string;
  readonly from: string;
  /** The caller's identity. */
  readonly identity: string;
  readonly now: Date;
}

/**
 * The gates of `env` evaluated now for the digest, and the decisions on it: those given through
 * the API on its promotions to `env`, and signed approvals the approval gate counted. The gates
 * are evaluated as the requester of a waiting promotion of the digest asked (their own approval
 * never counts), or else as the caller would request it.
 */
async function reviewOf(app: App, promotions: Promotions, rows: readonly PromotionRow[], req: ReviewRequest) {
  const toEnv = rows.filter((r) => r.to_env === req.env);
  const waiting = toEnv.find((r) => WAITING.has(r.state));
  const evaluation = await app.promotions.evaluate({
    app: req.app,
    reference: req.digest,
    to: req.env,
    from: req.from,
    actor: waiting?.requester_identity ?? req.identity,
    now: req.now,
  });
  const api = (await promotions.decisions(toEnv.map((r) => r.id))).map((d) => ({
    approver: d.approver,
    decision: d.decision,
    ...(d.comment !== null && { comment: d.comment }),
    time: d.created_at.toISOString(),
    source: 'api' as const,
  }));
  const signed = evaluation.approvals
    .filter((a) => !api.some((d) => d.decision === 'approved' && sameIdentity(d.approver, a.approver)))
    .map((a) => ({
      approver: a.approver,
      decision: 'approved' as const,
      time: a.time,
      source: 'signed' as const,
    }));
  return {
    gates: evaluation.gates.map((g) => ({
      name: g.gate,
      // No override is asked for: a gate passes, fails or waits.
      status: g.status === 'overridden' ? ('pass' as const) : g.status,
      reasons: [...g.reasons],
    })),
    approvals: [...api, ...signed].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0)),
  };
}
