/**
 * `/api/v1/holds`: holds on auto-promotion. A rollback puts one on the application in the
 * environment (so automation never undoes it); a person releases it (`promote` access: admin or
 * ci), and the next candidate is auto-promoted again. Limited to the caller's teams.
 */
import { z } from 'zod';
import type { HoldDesk } from '../../jobs/index.js';
import { callerOf } from '../caller.js';
import type { ServerContext } from '../context.js';
import { route, type AnyRoute } from '../route.js';
import { assertVisible, visibleApplications } from '../teams.js';

const nameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a name from gantry.yaml');

const holdView = z.object({
  id: z.number(),
  application: z.string(),
  environment: z.string(),
  reason: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  releasedAt: z.string().optional(),
  releasedBy: z.string().optional(),
});

/** The hold routes, served by `holds`. */
export function holdRoutes(ctx: ServerContext, holds: HoldDesk): AnyRoute[] {
  return [
    route({
      method: 'GET',
      url: '/api/v1/holds',
      summary:
        "Holds on auto-promotion (active ones; `all=true` also released ones), newest first, limited to the token's teams",
      access: 'read',
      query: z.strictObject({
        app: nameSchema.optional().describe('only this application'),
        env: nameSchema.optional().describe('only this environment'),
        all: z.enum(['true', 'false']).optional().describe('also released holds'),
      }),
      response: z.object({ holds: z.array(holdView) }),
      handler: async ({ query, request }) => {
        const caller = callerOf(request);
        const config = ctx.app().config;
        if (query.app !== undefined) assertVisible(config, caller.token, query.app);
        const apps = visibleApplications(config, caller.token);
        return {
          holds: await holds.holds({
            ...(query.app !== undefined && { app: query.app }),
            ...(query.env !== undefined && { env: query.env }),
            all: query.all === 'true',
            ...(apps && { apps }),
          }),
        };
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/holds/release',
      summary:
        'Release the hold on auto-promotion of an application in an environment (404 when there is none): the next candidate is auto-promoted again',
      access: 'promote',
      body: z.strictObject({
        app: nameSchema.describe('application'),
        env: nameSchema.describe('environment'),
      }),
      response: holdView,
      handler: async ({ body, request }) => {
        const caller = callerOf(request);
        assertVisible(ctx.app().config, caller.token, body.app);
        return holds.release(body.app, body.env, {
          actor: caller.actor,
          identity: caller.token.name,
          groups: [...caller.token.groups],
        });
      },
    }),
  ];
}
