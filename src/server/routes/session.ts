/**
 * `GET /api/v1/session`: who the caller is and what the dashboard may offer them (promote,
 * report deployments, administer, approve into which environments). Never the token's secret:
 * the store keeps only its hash.
 */
import { z } from 'zod';
import { callerOf } from '../caller.js';
import type { ServerContext } from '../context.js';
import { grants, mayApprove } from '../roles.js';
import { route, type AnyRoute } from '../route.js';

const sessionSchema = z.object({
  actor: z.string().describe('how the caller appears in the ledger: `<token name> (<token id>)`'),
  identity: z.string().describe('the token name (approval gates and self-approval compare it)'),
  token: z.object({
    id: z.string(),
    name: z.string(),
    roles: z.array(z.string()),
    groups: z.array(z.string()),
    teams: z.array(z.string()),
    createdAt: z.string(),
    expiresAt: z.string().optional(),
  }),
  may: z.object({
    promote: z.boolean().describe('request promotions, releases, rollbacks and cancellations'),
    deploy: z.boolean().describe('report deployments'),
    admin: z.boolean(),
    approve: z.array(z.string()).describe('the environments whose promotions the caller may approve'),
  }),
});

/** The session route. */
export function sessionRoutes(ctx: ServerContext): AnyRoute[] {
  return [
    route({
      method: 'GET',
      url: '/api/v1/session',
      summary: 'Who the caller is (token, roles, groups, teams) and what they may do',
      access: 'read',
      query: z.strictObject({}),
      response: sessionSchema,
      handler: ({ request }) => {
        const { token, actor } = callerOf(request);
        const roles = token.roles;
        return Promise.resolve({
          actor,
          identity: token.name,
          token: {
            id: token.id,
            name: token.name,
            roles: [...roles],
            groups: [...token.groups],
            teams: [...token.teams],
            createdAt: token.createdAt.toISOString(),
            ...(token.expiresAt && { expiresAt: token.expiresAt.toISOString() }),
          },
          may: {
            promote: grants(roles, 'promote'),
            deploy: grants(roles, 'deploy'),
            admin: grants(roles, 'admin') && token.teams.length === 0,
            approve: [...ctx.app().config.environments.keys()].filter((env) => mayApprove(roles, env)),
          },
        });
      },
    }),
  ];
}
