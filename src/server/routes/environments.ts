/**
 * Read-only views of what the environments hold, through the composition root's promotion
 * service: the status matrix, an application's history in an environment, and a diff of two
 * environments. Each is limited to the caller's teams' applications.
 */
import { unreadableEnvironments, type App, type EnvironmentState } from '../../app.js';
import { z } from 'zod';
import { callerOf } from '../caller.js';
import type { ServerContext } from '../context.js';
import { assertVisible, visibleApplications } from '../teams.js';
import { route, type AnyRoute } from '../route.js';
import { SnapshotCache, type Snapshot } from '../snapshot.js';
import { deploymentBoard } from '../deployment-board.js';

const nameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a name from gantry.yaml');

/** The environment routes. */
export function environmentRoutes(ctx: ServerContext): AnyRoute[] {
  // One status snapshot per wired app (a reload starts a new one).
  let snapshots = new WeakMap<App, SnapshotCache<EnvironmentState[]>>();
  ctx.onStatusChange((reason) => {
    // A deployment report changes what runs, not what the registries hold (the board drops its own cache).
    if (reason !== 'deployment.reported') snapshots = new WeakMap();
  });
  const status = (app: App): Promise<Snapshot<EnvironmentState[]>> => {
    let cache = snapshots.get(app);
    if (!cache) {
      cache = new SnapshotCache(() => app.promotions.status(), ctx.statusCache);
      snapshots.set(app, cache);
    }
    return cache.get();
  };
  const bodies = new WeakMap<readonly EnvironmentState[], string>();
  const board = deploymentBoard(ctx);
  return [
    route({
      method: 'GET',
      url: '/api/v1/status',
      summary:
        'The environment × application matrix; cells of registries that cannot be read are "unknown" and `error` says why. `asOf`: when the registries were read (a snapshot shared by callers for a second or two). `targets` of a cell: the newest deployment report of each target of its environment and application: `[{target, digest, reportedAt, reportedBy, drift?}]`, `drift` `unpromoted` or `behind`',
      access: 'read',
      response: z.object({
        asOf: z.string(),
        cells: z.array(z.record(z.string(), z.unknown())),
        error: z
          .object({ code: z.string(), message: z.string(), environments: z.array(z.string()) })
          .optional(),
      }),
      handler: async ({ request, reply }) => {
        const app = ctx.app();
        const visible = visibleApplications(app.config, callerOf(request).token);
        const snapshot = await status(app);
        // What each target runs (store), merged into what the registries hold: see drift.ts.
        const all = board.merge(snapshot.value, (await board.current()).value);
        if (!visible) {
          // Every caller without teams gets the same body: serialise it once per merged matrix.
          let body = bodies.get(all);
          if (body === undefined) {
            body = JSON.stringify(statusBody(snapshot, all));
            bodies.set(all, body);
          }
          reply.type('application/json; charset=utf-8');
          return body;
        }
        const cells = all.filter((c) => !visible || visible.has(c.application));
        return statusBody(snapshot, cells);
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/applications/:app/history',
      summary: 'Promotions and rollbacks of an application in an environment, newest first',
      access: 'read',
      params: z.strictObject({ app: nameSchema }),
      query: z.strictObject({ env: nameSchema.describe('environment') }),
      response: z.object({
        application: z.string(),
        environment: z.string(),
        entries: z.array(z.record(z.string(), z.unknown())),
      }),
      handler: async ({ params, query, request }) => {
        const app = ctx.app();
        assertVisible(app.config, callerOf(request).token, params.app);
        const entries = await app.promotions.history(params.app, query.env);
        return { application: params.app, environment: query.env, entries };
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/diff',
      summary: 'Which applications differ between two environments',
      access: 'read',
      query: z.strictObject({
        left: nameSchema.describe('environment'),
        right: nameSchema.describe('environment to compare with'),
      }),
      response: z.object({
        left: z.string(),
        right: z.string(),
        same: z.boolean(),
        applications: z.array(z.record(z.string(), z.unknown())),
      }),
      handler: async ({ query, request }) => {
        const app = ctx.app();
        const visible = visibleApplications(app.config, callerOf(request).token);
        const rows = (await app.promotions.diff(query.left, query.right)).filter(
          (r) => !visible || visible.has(r.application),
        );
        return { left: query.left, right: query.right, same: rows.every((r) => r.same), applications: rows };
      },
    }),
  ];
}

/** The body of `GET /api/v1/status` for the cells a caller may see. */
function statusBody(snapshot: Snapshot<EnvironmentState[]>, cells: readonly EnvironmentState[]) {
  const unreadable = unreadableEnvironments(cells);
  return { asOf: snapshot.asOf.toISOString(), cells, ...(unreadable && { error: unreadable.error }) };
}
