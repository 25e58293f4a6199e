/**
 * `/api/v1/deployments`: deploy tooling reports what it deployed where (`gantry deployed`, a CD
 * hook, a CI step), and anyone reads the reports. A report names a configured environment and
 * application (the caller's team's) and a digest; it is kept with a `deployment.reported` ledger
 * entry, and `GET /api/v1/status` shows each target's newest report next to what the environment
 * holds, with drift flagged (drift.ts).
 */
import { z } from 'zod';
import { GantryError } from '../../core/index.js';
import type { Deployment } from '../../store/index.js';
import { callerOf } from '../caller.js';
import type { ServerContext } from '../context.js';
import { deploymentBoard } from '../deployment-board.js';
import { route, type AnyRoute } from '../route.js';
import { assertVisible, visibleApplications } from '../teams.js';

const nameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a name from gantry.yaml');
const digestSchema = z
  .string()
  .regex(/^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/, 'a digest: sha256:<64 lowercase hex>');
/** A deployment target: a cluster, region or host group. */
export const targetSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/,
    'a target: 1–128 letters, digits and . _ : / -, starting with a letter or digit',
  );

const reportBody = z.strictObject({
  env: nameSchema.describe('the environment the target belongs to'),
  app: nameSchema.describe('the application'),
  digest: digestSchema.describe('the digest the target runs now'),
  target: targetSchema.describe('where it runs: a cluster, region or host group (e.g. cluster-a)'),
});

const deploymentSchema = z.object({
  id: z.number(),
  environment: z.string(),
  application: z.string(),
  target: z.string(),
  digest: z.string(),
  reportedBy: z.string(),
  reportedAt: z.string(),
});

/** The deployment routes. */
export function deploymentRoutes(ctx: ServerContext): AnyRoute[] {
  const board = deploymentBoard(ctx);
  return [
    route({
      method: 'POST',
      url: '/api/v1/deployments',
      summary:
        'Report that a target runs a digest of an application in an environment (recorded in the ledger); `GET /status` shows it, with drift',
      access: 'deploy',
      body: reportBody,
      status: 201,
      response: deploymentSchema,
      handler: async ({ body, request }) => {
        const app = ctx.app();
        const caller = callerOf(request);
        const config = app.config;
        if (!config.environments.has(body.env))
          throw invalid(`env: there is no environment "${body.env}" in ${config.file}`);
        // A team token learns nothing about other teams' applications: 403 before "unknown".
        assertVisible(config, caller.token, body.app);
        if (!config.applications.has(body.app))
          throw invalid(`app: there is no application "${body.app}" in ${config.file}`);
        const stored = await board.store.report(
          { environment: body.env, app: body.app, target: body.target, digest: body.digest },
          { actor: caller.actor, time: ctx.now() },
        );
        ctx.statusChanged('deployment.reported');
        return view(stored);
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/deployments',
      summary: "Deployment reports, newest first (a target's history), limited to the token's teams",
      access: 'read',
      query: z.strictObject({
        env: nameSchema.optional().describe('environment'),
        app: nameSchema.optional().describe('application'),
        target: targetSchema.optional(),
        limit: z.coerce.number().int().min(1).max(1000).optional().describe('default 100'),
      }),
      response: z.object({ deployments: z.array(deploymentSchema) }),
      handler: async ({ query, request }) => {
        const config = ctx.app().config;
        const token = callerOf(request).token;
        if (query.app !== undefined) assertVisible(config, token, query.app);
        const visible = visibleApplications(config, token);
        const rows = await board.store.list({
          ...(query.env !== undefined && { environment: query.env }),
          ...(query.app !== undefined && { app: query.app }),
          ...(query.target !== undefined && { target: query.target }),
          ...(visible && { apps: [...visible] }),
          ...(query.limit !== undefined && { limit: query.limit }),
        });
        return { deployments: rows.map(view) };
      },
    }),
  ];
}

function view(d: Deployment): z.infer<typeof deploymentSchema> {
  return {
    id: d.id,
    environment: d.environment,
    application: d.app,
    target: d.target,
    digest: d.digest,
    reportedBy: d.reportedBy,
    reportedAt: d.reportedAt.toISOString(),
  };
}

function invalid(message: string): GantryError {
  return new GantryError('API_REQUEST_INVALID', `invalid body: ${message}`, { details: { where: 'body' } });
}
