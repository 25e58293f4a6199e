/**
 * What can be promoted into an environment, through the composition root's promotion service:
 * the images of its source environments, newest version first, each saying whether the
 * environment already holds it or runs it. Limited to the caller's teams' applications.
 */
import { z } from 'zod';
import { callerOf } from '../caller.js';
import type { ServerContext } from '../context.js';
import { route, type AnyRoute } from '../route.js';
import { assertVisible } from '../teams.js';

const nameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a name from gantry.yaml');

const candidateSchema = z.object({
  digest: z.string(),
  version: z.string().optional(),
  tags: z.array(z.string()),
  from: z.string().describe('the source environment'),
  inTarget: z.boolean().describe('the environment already holds this digest with a promotion record'),
  current: z.boolean().describe('the environment runs this digest now'),
});

/** The candidate routes. */
export function candidateRoutes(ctx: ServerContext): AnyRoute[] {
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
  ];
}
