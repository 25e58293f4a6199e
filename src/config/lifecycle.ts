/**
 * Lifecycle settings in gantry.yaml (issue 14): per-environment `retention:` for `gantry gc`,
 * `protected:` environments that gc refuses, and the top-level `sync:` jobs of `gantry sync`
 * (mirroring repositories such as golden base images into other registries). Either may carry a
 * `schedule:` (five-field cron, UTC) that `gantry serve` runs as a durable job, once across
 * replicas.
 */
import { Cron } from 'croner';
import { z } from 'zod';
import { durationSchema } from './gates-schema.js';

/** A problem with its key path (normalize.ts's `PathProblem`). */
interface PathProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const cronSchema = z
  .string()
  .describe('a five-field cron expression in UTC, e.g. "0 3 * * *" (03:00 every day); gantry serve runs it');

/** `retention:` of an environment. */
export const retentionSchema = z.strictObject({
  keep: z
    .number()
    .int()
    .min(0)
    .max(10_000)
    .default(20)
    .describe('the newest N candidates of each application are always kept (default 20)'),
  olderThan: durationSchema
    .prefault('30d')
    .describe('only candidates older than this may be deleted (default 30d)'),
  schedule: cronSchema.optional(),
});

/** Where a sync job copies from. */
const syncSourceSchema = z.strictObject({
  registry: z.string().describe('a key of registries'),
  repositories: z
    .array(z.string().min(1))
    .min(1)
    .describe('repositories to mirror; a trailing /* or * matches by prefix, e.g. base/*'),
  tags: z
    .array(z.string().min(1))
    .optional()
    .describe('tags to mirror (exact, or a prefix ending in *); default every tag'),
});

/** Where a sync job copies to. */
const syncTargetSchema = z.strictObject({
  registry: z.string().describe('a key of registries'),
  prefix: z.string().default('').describe('prepended to each repository path in this registry'),
});

/** One `sync:` job. */
export const syncSchema = z.strictObject({
  from: syncSourceSchema,
  to: z.array(syncTargetSchema).min(1),
  schedule: cronSchema.optional(),
});

/** Normalised retention policy. */
export interface RetentionConfig {
  readonly keep: number;
  readonly olderThanMs: number;
  /** Cron expression (UTC) for `gantry serve`. */
  readonly schedule?: string;
}

/** Normalised sync job. */
export interface SyncConfig {
  readonly name: string;
  readonly from: {
    /** Registry name (a key of `registries`). */
    readonly registry: string;
    readonly repositories: readonly string[];
    /** Absent: every tag. */
    readonly tags?: readonly string[];
  };
  readonly to: readonly { readonly registry: string; readonly prefix: string }[];
  readonly schedule?: string;
}

/** A problem with `expr` as a cron expression, or undefined. */
export function cronProblem(expr: string): string | undefined {
  if (expr.trim().split(/\s+/).length !== 5)
    return `"${expr}" is not a five-field cron expression (minute hour day-of-month month day-of-week), e.g. "0 3 * * *"`;
  try {
    new Cron(expr, { paused: true, timezone: 'UTC' });
    return undefined;
  } catch (error) {
    return `"${expr}" is not a valid cron expression: ${error instanceof Error ? error.message : 'unreadable'}`;
  }
}

/** The first time after `after` that `expr` names (UTC); undefined if never. */
export function nextCronTime(expr: string, after: Date): Date | undefined {
  return new Cron(expr, { paused: true, timezone: 'UTC' }).nextRun(after) ?? undefined;
}

/** Normalises an environment's `retention:`; `at(...)` builds problem paths. */
export function normalizeRetention(
  raw: z.infer<typeof retentionSchema> | undefined,
  at: (...rest: (string | number)[]) => (string | number)[],
  problems: PathProblem[],
): RetentionConfig | undefined {
  if (!raw) return undefined;
  const why = raw.schedule !== undefined ? cronProblem(raw.schedule) : undefined;
  if (why) problems.push({ path: at('retention', 'schedule'), message: why });
  return Object.freeze({
    keep: raw.keep,
    olderThanMs: raw.olderThan,
    ...(raw.schedule !== undefined && { schedule: raw.schedule }),
  });
}

/** Normalises `sync:`; registries must exist. */
export function normalizeSync(
  raw: Record<string, z.infer<typeof syncSchema>>,
  registries: ReadonlySet<string>,
  problems: PathProblem[],
): ReadonlyMap<string, SyncConfig> {
  const out = new Map<string, SyncConfig>();
  for (const [name, s] of Object.entries(raw)) {
    const at = (...rest: (string | number)[]) => ['sync', name, ...rest];
    if (!registries.has(s.from.registry))
      problems.push({ path: at('from', 'registry'), message: `unknown registry "${s.from.registry}"` });
    s.from.repositories.forEach((r, i) => {
      if (!/^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?:\/?\*)?$/.test(r))
        problems.push({
          path: at('from', 'repositories', i),
          message: `"${r}" is not a repository path, or one ending in /* or *`,
        });
    });
    s.to.forEach((t, i) => {
      if (!registries.has(t.registry))
        problems.push({ path: at('to', i, 'registry'), message: `unknown registry "${t.registry}"` });
      else if (t.registry === s.from.registry && t.prefix === '')
        problems.push({
          path: at('to', i),
          message: 'a sync target must differ from its source: another registry, or a prefix',
        });
    });
    const why = s.schedule !== undefined ? cronProblem(s.schedule) : undefined;
    if (why) problems.push({ path: at('schedule'), message: why });
    out.set(
      name,
      Object.freeze({
        name,
        from: Object.freeze({
          registry: s.from.registry,
          repositories: Object.freeze([...s.from.repositories]),
          ...(s.from.tags && { tags: Object.freeze([...s.from.tags]) }),
        }),
        to: Object.freeze(s.to.map((t) => Object.freeze({ registry: t.registry, prefix: t.prefix }))),
        ...(s.schedule !== undefined && { schedule: s.schedule }),
      }),
    );
  }
  return out;
}
