/**
 * `GET /api/v1/pipeline`: the environments as the graph their `from:` lists form, in file order,
 * with their gates, and the applications the caller may see. What the dashboard draws its
 * columns and arrows from; read from the configuration only (no registry I/O).
 */
import { z } from 'zod';
import { callerOf } from '../caller.js';
import type { ServerContext } from '../context.js';
import { route, type AnyRoute } from '../route.js';
import { visibleApplications } from '../teams.js';

const environmentSchema = z.object({
  name: z.string(),
  registry: z.string().describe('the registry host'),
  mode: z.enum(['copy', 'tag']),
  from: z.array(z.string()).describe('the environments it is promoted from'),
  auto: z.boolean().describe('new candidates are promoted on their own'),
  allowOverride: z.boolean(),
  gates: z.array(z.string()).describe('gate names, in the order they are checked'),
  protected: z.boolean().describe('no environment is promoted from this one (the last stage)'),
});

/** The pipeline route. */
export function pipelineRoutes(ctx: ServerContext): AnyRoute[] {
  return [
    route({
      method: 'GET',
      url: '/api/v1/pipeline',
      summary:
        'The environments in file order with their sources, mode and gates, and the applications the caller may see',
      access: 'read',
      query: z.strictObject({}),
      response: z.object({ environments: z.array(environmentSchema), applications: z.array(z.string()) }),
      handler: ({ request }) => {
        const config = ctx.app().config;
        const envs = [...config.environments.values()];
        const sources = new Set(envs.flatMap((e) => e.from));
        const visible = visibleApplications(config, callerOf(request).token);
        return Promise.resolve({
          environments: envs.map((e) => ({
            name: e.name,
            registry: e.registry.host,
            mode: e.mode,
            from: [...e.from],
            auto: e.auto,
            allowOverride: e.allowOverride,
            gates: e.gates.map((g) => g.name),
            protected: !sources.has(e.name),
          })),
          applications: [...config.applications.keys()].filter((a) => !visible || visible.has(a)),
        });
      },
    }),
  ];
}
