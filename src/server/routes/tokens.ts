/** `/api/v1/tokens`: create (secret shown once), list (never secrets or hashes), revoke. Admin only. */
import { z } from 'zod';
import { parseDuration } from '../../config/index.js';
import { GantryError } from '../../core/index.js';
import type { TokenInfo } from '../../store/index.js';
import { callerOf } from '../caller.js';
import type { ServerContext } from '../context.js';
import { approverEnvironment, roleSchema } from '../roles.js';
import { route, type AnyRoute } from '../route.js';

const MAX_EXPIRY_MS = 10 * 366 * 86_400_000;

const nameSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[^\s].*$/u, 'must not start with white space');
const teamSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a team name from gantry.yaml');
const groupSchema = z.string().regex(/^[\w.@+-]{1,64}$/, 'letters, digits and . @ + - _ only');

const createBody = z.strictObject({
  name: nameSchema.describe('what the token is for, e.g. "ci-web"'),
  roles: z.array(roleSchema).min(1).max(20).describe('admin, ci, deployer, viewer or approver:<environment>'),
  groups: z.array(groupSchema).max(50).optional().describe('approval groups the holder belongs to'),
  teams: z.array(teamSchema).max(50).optional().describe("limit the token to these teams' applications"),
  expiresIn: z
    .string()
    .max(32)
    .optional()
    .describe('lifetime such as 90d, 24h or 1h30m; default: never expires'),
});

const tokenInfo = z.object({
  id: z.string(),
  name: z.string(),
  roles: z.array(z.string()),
  groups: z.array(z.string()),
  teams: z.array(z.string()),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});

const idParams = z.strictObject({ id: z.string().regex(/^tok_[0-9a-f]{16}$/, 'a token id (tok_…)') });

/** The token routes. */
export function tokenRoutes(ctx: ServerContext): AnyRoute[] {
  return [
    route({
      method: 'POST',
      url: '/api/v1/tokens',
      summary: 'Create an API token; its secret is in this response and nowhere else',
      access: 'admin',
      body: createBody,
      status: 201,
      response: tokenInfo.extend({ token: z.string() }),
      handler: async ({ body, request }) => {
        const config = ctx.app().config;
        for (const role of body.roles) {
          const env = approverEnvironment(role);
          if (env !== undefined && !config.environments.has(env))
            throw invalid(`roles: ${role}: there is no environment "${env}" in ${config.file}`);
        }
        for (const team of body.teams ?? [])
          if (!config.teams?.has(team)) throw invalid(`teams: there is no team "${team}" in ${config.file}`);
        const now = ctx.now();
        let expiresAt: Date | undefined;
        if (body.expiresIn !== undefined) {
          const ms = parseDuration(body.expiresIn);
          if (ms === undefined || ms <= 0 || ms > MAX_EXPIRY_MS)
            throw invalid('expiresIn: a positive duration of at most ten years, such as 90d, 24h or 1h30m');
          expiresAt = new Date(now.getTime() + ms);
        }
        const created = await ctx.tokens.create(
          {
            name: body.name,
            roles: [...new Set(body.roles)],
            ...(body.groups && { groups: [...new Set(body.groups)] }),
            ...(body.teams && { teams: [...new Set(body.teams)] }),
            ...(expiresAt && { expiresAt }),
          },
          { actor: callerOf(request).actor, time: now },
        );
        return { ...view(created), token: created.token };
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/tokens',
      summary: 'List API tokens (never their secrets or hashes)',
      access: 'admin',
      response: z.object({ tokens: z.array(tokenInfo) }),
      handler: async () => ({ tokens: (await ctx.tokens.list()).map(view) }),
    }),
    route({
      method: 'DELETE',
      url: '/api/v1/tokens/:id',
      summary: 'Revoke an API token (recorded in the ledger)',
      access: 'admin',
      params: idParams,
      response: tokenInfo,
      handler: async ({ params, request }) => {
        const revoked = await ctx.tokens.revoke(params.id, {
          actor: callerOf(request).actor,
          time: ctx.now(),
        });
        if (!revoked) throw new GantryError('API_NOT_FOUND', `no token ${params.id}`);
        return view(revoked);
      },
    }),
  ];
}

function view(t: TokenInfo): z.infer<typeof tokenInfo> {
  return {
    id: t.id,
    name: t.name,
    roles: [...t.roles],
    groups: [...t.groups],
    teams: [...t.teams],
    createdAt: t.createdAt.toISOString(),
    expiresAt: t.expiresAt?.toISOString() ?? null,
    revokedAt: t.revokedAt?.toISOString() ?? null,
  };
}

function invalid(message: string): GantryError {
  return new GantryError('API_REQUEST_INVALID', `invalid body: ${message}`, { details: { where: 'body' } });
}
