/**
 * Which lifecycle slots are due (pure): the schedules a configuration declares (an environment's
 * `retention.schedule` runs gc of it; a `sync:` job's `schedule` runs it) and, for each, the one
 * slot to create now. Only the latest cron time at or before now counts: slots missed while no
 * replica ran are not run one by one (at most one catches up), and a slot already created (the
 * last one the store knows) is never due again, so a restart runs nothing twice.
 */
import { Cron } from 'croner';
import type { Config } from '../config/index.js';

/** A job a lifecycle run can be asked for: gc of an environment, or a sync job. */
export interface LifecycleJob {
  readonly kind: 'gc' | 'sync';
  /** The environment (gc) or the sync job. */
  readonly name: string;
  /** Five-field cron, UTC; undefined when it runs only on request. */
  readonly schedule: string | undefined;
  /** gc of a protected environment is refused; false for sync. */
  readonly protected: boolean;
}

/** A configured schedule. */
export interface LifecycleSchedule {
  readonly kind: 'gc' | 'sync';
  /** The environment (gc) or the sync job. */
  readonly name: string;
  /** Five-field cron, UTC. */
  readonly schedule: string;
}

/** Every job of `config`: gc of each environment first, then each sync job, in file order. */
export function configuredJobs(config: Config): LifecycleJob[] {
  return [
    ...[...config.environments].map(([name, env]) => ({
      kind: 'gc' as const,
      name,
      schedule: env.retention?.schedule,
      protected: env.protected,
    })),
    ...[...(config.sync ?? [])].map(([name, job]) => ({
      kind: 'sync' as const,
      name,
      schedule: job.schedule,
      protected: false,
    })),
  ];
}

/** Every schedule of `config`: gc of environments first, then sync jobs, each in file order. */
export function configuredSchedules(config: Config): LifecycleSchedule[] {
  return configuredJobs(config).flatMap(({ kind, name, schedule }) =>
    schedule === undefined ? [] : [{ kind, name, schedule }],
  );
}

/** The latest time `expr` names at or before `now` (UTC), or undefined. */
export function latestSlot(expr: string, now: Date): Date | undefined {
  // previousRuns excludes the reference itself: a millisecond later includes a slot at `now`.
  const [slot] = new Cron(expr, { paused: true, timezone: 'UTC' }).previousRuns(
    1,
    new Date(now.getTime() + 1),
  );
  return slot;
}

/**
 * The slot to create now, or undefined: the latest cron time at or before `now`, when it is after
 * `after` (the last slot created, or when the schedule was first seen if none was).
 */
export function dueSlot(expr: string, after: Date, now: Date): Date | undefined {
  const slot = latestSlot(expr, now);
  return slot !== undefined && slot.getTime() > after.getTime() ? slot : undefined;
}
