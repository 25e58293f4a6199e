/**
 * Which lifecycle slots are due (pure): the schedules a configuration declares (an environment's
 * `retention.schedule` runs gc of it; a `sync:` job's `schedule` runs it) and, for each, the one
 * slot to create now. Only the latest cron time at or before now counts: slots missed while no
 * replica ran are not run one by one (at most one catches up), and a slot already created (the
 * last one the store knows) is never due again, so a restart runs nothing twice.
 */
import { Cron } from 'croner';
import type { Config } from '../config/index.js';

/** A configured schedule. */
export interface LifecycleSchedule {
  readonly kind: 'gc' | 'sync';
  /** The environment (gc) or the sync job. */
  readonly name: string;
  /** Five-field cron, UTC. */
  readonly schedule: string;
}

/** Every schedule of `config`: gc of environments first, then sync jobs, each in file order. */
export function configuredSchedules(config: Config): LifecycleSchedule[] {
  const out: LifecycleSchedule[] = [];
  for (const [name, env] of config.environments) {
    const schedule = env.retention?.schedule;
    if (schedule !== undefined) out.push({ kind: 'gc', name, schedule });
  }
  for (const [name, job] of config.sync ?? []) {
    if (job.schedule !== undefined) out.push({ kind: 'sync', name, schedule: job.schedule });
  }
  return out;
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
