/**
 * Options of the built-in gates, validated with the rest of gantry.yaml so a typo in a gate is a
 * configuration error with file, line and key, not a surprise at promotion time.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { suggest } from './problems.js';
import { compileSafeRegex } from './safe-regex.js';

/**
 * A duration such as `24h`, `30m`, `1h30m`, converted to milliseconds when the configuration
 * loads: gates read a number and never parse the text again.
 */
export const durationSchema = z
  .string()
  .refine((s) => parseDuration(s) !== undefined, {
    message: 'expected a duration such as 90s, 30m, 1m30s, 24h, 7d',
  })
  .transform((s) => parseDuration(s) ?? 0);

const regexSchema = z.string().superRefine((s, ctx) => {
  const compiled = compileSafeRegex(s);
  if (!(compiled instanceof RegExp)) ctx.addIssue({ code: 'custom', message: compiled.problem });
});

/** `approval`: N distinct approvers, one from each group, never the requester, expiring. */
export const approvalGateSchema = z.strictObject({
  count: z.number().int().min(1).default(1),
  groups: z.array(z.string().min(1)).default([]).describe('at least one approver from each of these groups'),
  expires: durationSchema.prefault('72h').describe('approvals older than this no longer count'),
});

/** `labels`: required labels (image config labels or manifest annotations) matching patterns. */
export const labelsGateSchema = z.strictObject({ required: z.record(z.string(), regexSchema) });

/** `previous-env`: the digest was promoted to this environment before. */
export const previousEnvGateSchema = z.strictObject({ env: z.string().min(1) });

/** `soak`: the digest has been in `env` for at least `duration`. */
export const soakGateSchema = z.strictObject({ env: z.string().min(1), duration: durationSchema });

/** `vulnerabilities`: scanner report thresholds (see promotion/gates/vulnerabilities.ts). */
const limit = z.number().int().min(0);
const isoDateOrDateTime = z
  .string()
  .refine((s) => z.iso.date().safeParse(s).success || z.iso.datetime({ offset: true }).safeParse(s).success, {
    message: 'expected an ISO date (2026-01-31) or date-time with a zone (2026-01-31T12:00:00Z)',
  });

export const vulnerabilitiesGateSchema = z.strictObject({
  max: z
    .strictObject({
      critical: limit.optional(),
      high: limit.optional(),
      medium: limit.optional(),
      low: limit.optional(),
      unknown: limit.optional(),
    })
    .default({})
    .describe('most findings allowed per severity; a severity not listed has no limit'),
  fixable: z.boolean().default(false).describe('count only findings that have a fix'),
  ignore: z
    .array(
      z.strictObject({
        id: z.string().min(1).describe('vulnerability id, e.g. CVE-2024-3094 (any package)'),
        reason: z.string().min(1).describe('why it is accepted; recorded with the gate result'),
        expires: isoDateOrDateTime
          .optional()
          .describe('stops applying at this instant (a date means 00:00 UTC of that day)'),
      }),
    )
    .default([]),
});

/** `signature`: a cosign signature by one of these public keys. */
export const signatureGateSchema = z.strictObject({
  keys: z
    .array(
      z
        .strictObject({
          name: z.string().optional(),
          key: z.string().optional(),
          path: z.string().optional(),
        })
        .refine((k) => (k.key === undefined) !== (k.path === undefined), {
          message: 'give exactly one of key (PEM) or path',
        }),
    )
    .min(1),
});

/** `evidence`: required attachments and annotations. */
export const evidenceGateSchema = z.strictObject({
  artifacts: z
    .array(
      z.strictObject({
        type: z.string().min(1).describe('artifactType of a referrer'),
        description: z.string().optional(),
      }),
    )
    .default([]),
  annotations: z
    .record(z.string(), regexSchema)
    .default({})
    .describe('annotations (on the image or a referrer) matching patterns'),
});

/** `policy`: an external HTTP policy service (e.g. OPA) answering allow/deny. */
export const policyGateSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  timeout: durationSchema.prefault('5s').describe('how long to wait for an answer (default 5s)'),
});

/** Every built-in gate by name. */
export const gateSchemas = {
  approval: approvalGateSchema,
  labels: labelsGateSchema,
  'previous-env': previousEnvGateSchema,
  soak: soakGateSchema,
  vulnerabilities: vulnerabilitiesGateSchema,
  signature: signatureGateSchema,
  evidence: evidenceGateSchema,
  policy: policyGateSchema,
} as const;

/** A gate name. */
export type GateName = keyof typeof gateSchemas;

/** A validated gate definition. */
export type GateConfig = {
  [K in GateName]: { readonly name: K; readonly options: z.output<(typeof gateSchemas)[K]> };
}[GateName];

/** One gate as written in YAML: `{ <name>: options }`, checked against that gate's own schema. */
export const gateSchema = z.record(z.string(), z.unknown()).superRefine((gate, ctx) => {
  const keys = Object.keys(gate);
  const names = Object.keys(gateSchemas);
  if (keys.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      message: `a gate is an object with exactly one key, one of: ${names.join(', ')}`,
    });
    return;
  }
  const name = keys[0] as string;
  // Own keys only: `in` also finds `constructor`, `toString`… on the prototype (a crash, not a problem).
  if (!Object.hasOwn(gateSchemas, name)) {
    const hint = suggest(name, names);
    ctx.addIssue({
      code: 'custom',
      path: [name],
      message: `unknown gate "${name}"${hint ? ` (did you mean "${hint}"?)` : ` (known: ${names.join(', ')})`}`,
    });
    return;
  }
  const result = gateSchemas[name as GateName].safeParse(gate[name] ?? {});
  if (result.success) return;
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        ctx.addIssue({ code: 'custom', path: [name, ...issue.path, key], message: `unknown key "${key}"` });
      }
    } else {
      ctx.addIssue({ code: 'custom', path: [name, ...issue.path], message: issue.message });
    }
  }
});

/** Validates and types a gate already accepted by {@link gateSchema}. */
export function toGateConfig(gate: Readonly<Record<string, unknown>>): GateConfig {
  const name = Object.keys(gate)[0] as GateName;
  return { name, options: gateSchemas[name].parse(gate[name] ?? {}) } as GateConfig;
}
