/**
 * `/api/v1/lifecycle`: the gc and sync runs of `gantry serve` (scheduled, or started here), their
 * outcome, and the configured schedules with their next time. Starting a run is for admins; it is
 * queued as a durable job that any replica's worker runs.
 */
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GantryError } from '../../core/index.js';
import { nextCronTime } from '../../config/index.js';
import { configuredJobs, requestLifecycleRun } from '../../jobs/index.js';
import { LifecycleRuns, type JsonObject, type LifecycleRunRow } from '../../store/index.js';
import { callerOf } from '../caller.js';
import type { ServerContext } from '../context.js';
import { route, type AnyRoute } from '../route.js';

const kindSchema = z.enum(['gc', 'sync']);
const nameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'an environment or sync job name from gantry.yaml');

const errorView = z.object({ code: z.string(), message: z.string() });

const runView = z.object({
  id: z.string(),
  kind: kindSchema,
  name: z.string().describe('the environment (gc) or the sync job'),
  trigger: z.enum(['schedule', 'api']),
  scheduledFor: z.string().nullable().describe('the cron slot of a scheduled run'),
  dryRun: z.boolean(),
  requestedBy: z.string(),
  state: z.enum(['queued', 'running', 'succeeded', 'failed']),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  totals: z.record(z.string(), z.number()).nullable().describe("the report's totals, once finished"),
  error: errorView.nullable(),
  report: z
    .record(z.string(), z.unknown())
    .nullable()
    .optional()
    .describe('the LifecycleReport (only when one run is asked for)'),
});

const scheduleView = z.object({
  kind: kindSchema,
  name: z.string(),
  schedule: z.string().describe('five-field cron, UTC'),
  nextRunAt: z.string().nullable(),
  lastRun: runView.nullable(),
});

const jobView = z.object({
  kind: kindSchema,
  name: z.string().describe('the environment (gc) or the sync job'),
  schedule: z.string().nullable().describe('five-field cron, UTC; null when it runs only on request'),
  nextRunAt: z.string().nullable(),
  protected: z.boolean().describe('gc of a protected environment is refused (GC_PROTECTED); false for sync'),
  lastRun: runView.nullable(),
});

const iso = (d: Date | null): string | null => (d === null ? null : new Date(d).toISOString());

function viewOf(r: LifecycleRunRow, withReport: boolean): z.infer<typeof runView> {
  const report = (r.report ?? null) as JsonObject | null;
  const totals = (report?.totals ?? null) as Record<string, number> | null;
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    trigger: r.trigger,
    scheduledFor: iso(r.scheduled_for),
    dryRun: r.dry_run,
    requestedBy: r.requested_by,
    state: r.state,
    createdAt: new Date(r.created_at).toISOString(),
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    totals,
    error: (r.error ?? null) as z.infer<typeof errorView> | null,
    ...(withReport && { report }),
  };
}

/** Runs name repositories of every team: a token limited to teams may not read them. */
function assertAllTeams(request: FastifyRequest): void {
  if (callerOf(request).token.teams.length > 0)
    throw new GantryError(
      'API_FORBIDDEN',
      'gc and sync runs cover every application: a token limited to teams cannot read them',
    );
}

/** The lifecycle routes; `kick` tells this replica's worker a run was queued. */
export function lifecycleRoutes(ctx: ServerContext, kick: () => void = () => undefined): AnyRoute[] {
  const runs = new LifecycleRuns(ctx.store.db);
  /** Every job of the configuration, in its order, with its next time and last run. */
  const jobViews = async (): Promise<z.infer<typeof jobView>[]> => {
    const latest = await runs.latest();
    const now = ctx.now();
    return configuredJobs(ctx.app().config).map(({ schedule, ...job }) => {
      const last = latest.find((r) => r.kind === job.kind && r.name === job.name);
      return {
        ...job,
        schedule: schedule ?? null,
        nextRunAt: schedule === undefined ? null : (nextCronTime(schedule, now)?.toISOString() ?? null),
        lastRun: last ? viewOf(last, false) : null,
      };
    });
  };
  return [
    route({
      method: 'GET',
      url: '/api/v1/lifecycle/runs',
      summary:
        'Gc and sync runs (scheduled or started through the API), newest first (not for a token limited to teams)',
      access: 'read',
      query: z.strictObject({
        kind: kindSchema.optional().describe('only gc or only sync runs'),
        name: nameSchema.optional().describe('only runs of this environment or sync job'),
        limit: z
          .string()
          .regex(/^\d{1,3}$/, 'an integer from 1 to 500')
          .transform(Number)
          .refine((n) => n >= 1 && n <= 500, 'an integer from 1 to 500')
          .optional()
          .describe('most runs returned (1–500, default 50)'),
      }),
      response: z.object({ runs: z.array(runView) }),
      handler: async ({ query, request }) => {
        assertAllTeams(request);
        return {
          runs: (
            await runs.list({
              ...(query.kind !== undefined && { kind: query.kind }),
              ...(query.name !== undefined && { name: query.name }),
              ...(query.limit !== undefined && { limit: query.limit }),
            })
          ).map((r) => viewOf(r, false)),
        };
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/lifecycle/runs/:id',
      summary: 'One gc or sync run with its report (not for a token limited to teams)',
      access: 'read',
      params: z.strictObject({ id: z.string().regex(/^run_[0-9a-f]{32}$/, 'a run id (run_…)') }),
      response: runView,
      handler: async ({ params, request }) => {
        assertAllTeams(request);
        const run = await runs.get(params.id);
        if (!run)
          throw new GantryError('API_NOT_FOUND', `no lifecycle run ${params.id}`, {
            details: { run: params.id },
          });
        return viewOf(run, true);
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/lifecycle/schedules',
      summary:
        'Every configured gc and sync schedule with its next time and its last run (not for a token limited to teams)',
      access: 'read',
      response: z.object({ schedules: z.array(scheduleView) }),
      handler: async ({ request }) => {
        assertAllTeams(request);
        const jobs = await jobViews();
        return {
          schedules: jobs.flatMap(({ protected: _protected, schedule, ...job }) =>
            schedule === null ? [] : [{ ...job, schedule }],
          ),
        };
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/lifecycle/jobs',
      summary:
        'Every job a run can be asked for: gc of each environment and each sync job, with its schedule (or null), next time and last run (not for a token limited to teams)',
      access: 'read',
      response: z.object({ jobs: z.array(jobView) }),
      handler: async ({ request }) => {
        assertAllTeams(request);
        return { jobs: await jobViews() };
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/lifecycle/runs',
      summary:
        'Run gc of an environment or a sync job now (queued as a durable job; 202 with the run). dryRun plans only',
      access: 'admin',
      status: 202,
      body: z.strictObject({
        kind: kindSchema,
        name: nameSchema.describe('the environment (gc) or the sync job'),
        dryRun: z.boolean().optional().describe('plan only: nothing is deleted or copied (default false)'),
      }),
      response: runView,
      handler: async ({ body, request }) => {
        const config = ctx.app().config;
        const known =
          body.kind === 'gc' ? config.environments.has(body.name) : (config.sync?.has(body.name) ?? false);
        if (!known) {
          const what = body.kind === 'gc' ? 'environment' : 'sync job';
          throw new GantryError('API_NOT_FOUND', `no ${what} "${body.name}" in the configuration`, {
            details: { kind: body.kind, name: body.name },
          });
        }
        const run = await requestLifecycleRun(ctx.store.db, {
          kind: body.kind,
          name: body.name,
          trigger: 'api',
          dryRun: body.dryRun ?? false,
          requestedBy: callerOf(request).actor,
        });
        if (!run) throw new GantryError('INTERNAL', 'the run was not created');
        kick();
        return viewOf(run, false);
      },
    }),
  ];
}
