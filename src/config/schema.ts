/**
 * The schema of `gantry.yaml` (see ../shared/DESIGN.md "Configuration"). Unknown keys are errors.
 * Semantic checks (references between sections, regexes, cycles) live in normalize.ts.
 */
import { z } from 'zod';
import { gateSchema, gateSchemas } from './gates-schema.js';
import { webhookSchema } from './webhooks.js';
import { retentionSchema, syncSchema } from './lifecycle.js';

const name = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,62}$/,
    'must be lowercase letters, digits, "-" or "_", starting with a letter or digit',
  );

/** Where a registry's credentials come from. */
export const credentialsSchema = z.union([
  z.strictObject({ helper: z.string().min(1).describe('docker-credential-<helper> program') }),
  z.strictObject({ env: z.string().min(1).describe('environment variable holding USER:PASSWORD') }),
  z.strictObject({
    usernameEnv: z.string().min(1).describe('environment variable holding the user name'),
    passwordEnv: z.string().min(1).describe('environment variable holding the password or token'),
  }),
  z.strictObject({ dockerConfig: z.string().min(1).describe('path of a docker config.json / auth.json') }),
]);

/** One registry. */
export const registrySchema = z.strictObject({
  url: z.string().describe('https://host[:port] (http:// means plain HTTP)'),
  credentials: credentialsSchema.optional(),
  tls: z
    .strictObject({
      verify: z.boolean().default(true).describe('verify the certificate (false also allows plain HTTP)'),
      ca: z.string().optional().describe('path of a PEM CA bundle to trust for this registry'),
    })
    .optional(),
  concurrency: z
    .number()
    .int()
    .min(1)
    .max(64)
    .optional()
    .describe('promotions writing into this registry at once, across server replicas (default 4)'),
});

/** Tag policy of an environment. */
export const tagPolicySchema = z.strictObject({
  immutable: z
    .array(z.string())
    .default([])
    .describe('regexes of tags that may never move to another digest'),
  floating: z
    .array(z.string())
    .default([])
    .describe('tags moved to the promoted digest at the end of a promotion'),
});

/** One environment. */
export const environmentSchema = z.strictObject({
  registry: name.describe('a key of registries'),
  prefix: z.string().default('').describe('repository prefix, e.g. team-a'),
  mode: z
    .enum(['copy', 'tag'])
    .default('copy')
    .describe('copy: own registry or repository; tag: same repository, an environment tag moves'),
  tag: z.string().optional().describe('the environment tag (mode: tag)'),
  from: z.array(name).default([]).describe('environments this one may be promoted from'),
  tags: tagPolicySchema.optional(),
  gates: z.array(gateSchema).default([]),
  auto: z
    .boolean()
    .default(false)
    .describe(
      'gantry serve promotes each new candidate of a `from` environment as it arrives (needs from; gates apply; a rollback holds it)',
    ),
  allowOverride: z
    .boolean()
    .default(false)
    .describe('allow `promote --override --reason` past failing gates (recorded in the attestation)'),
  poll: z
    .string()
    .optional()
    .describe(
      'gantry serve lists the tags of every application repository this often (e.g. 1m; at least 10s) and registers new or moved tags as candidates, for registries that cannot send notifications',
    ),
  protected: z
    .boolean()
    .optional()
    .describe(
      'gantry gc refuses this environment (default: true for a last stage, one no other environment promotes from)',
    ),
  retention: retentionSchema
    .optional()
    .describe(
      'what gantry gc may delete here: candidates never promoted, beyond the newest keep, older than olderThan',
    ),
});

/** One application: a name, or a name with its repository path under each environment prefix. */
export const applicationSchema = z.union([
  name,
  z.strictObject({
    name,
    repository: z.string().optional().describe('repository path under the prefix; default: the name'),
  }),
]);

/** Promotion attestation signing. */
export const attestationSchema = z.strictObject({
  key: z
    .string()
    .optional()
    .describe('path of a PEM private key (ECDSA P-256 or Ed25519) to sign attestations'),
  keyEnv: z.string().optional().describe('environment variable holding the PEM private key'),
  publicKey: z
    .string()
    .min(1)
    .optional()
    .describe(
      'path of the PEM public key of the signing key: read-only commands verify promotion records with it, no private key needed',
    ),
  trustedKeys: z
    .array(z.string().min(1))
    .optional()
    .describe('paths of further PEM public keys whose promotion records count (e.g. a retired signing key)'),
});

/** A person (or team key) whose signed approvals count for approval gates. */
export const approverSchema = z.strictObject({
  groups: z
    .array(z.string().min(1))
    .default([])
    .describe('groups this approver belongs to, e.g. product-owner'),
  key: z
    .string()
    .min(1)
    .describe("path of the approver's public key (PEM); approvals are signed with its private key"),
});

/** Inbound registry notifications (`POST /api/v1/registry-events`). */
export const eventsSchema = z.strictObject({
  secretEnv: z
    .string()
    .min(1)
    .optional()
    .describe(
      'environment variable holding the HMAC-SHA256 secret of X-Gantry-Signature on registry notifications (else only API tokens are accepted)',
    ),
});

/** The whole file. */
export const configSchema = z.strictObject({
  registries: z.record(name, registrySchema),
  environments: z.record(name, environmentSchema),
  applications: z.array(applicationSchema).min(1),
  attestation: attestationSchema.optional(),
  approvers: z
    .record(z.string().regex(/^[\w.@+-]{1,64}$/, 'letters, digits and . @ + - _ only'), approverSchema)
    .default({}),
  teams: z
    .record(name, z.array(z.string().min(1)).describe('applications of this team'))
    .default({})
    .describe('teams and their applications: an API token with teams sees only their applications'),
  webhooks: z
    .record(name, webhookSchema)
    .default({})
    .describe('endpoints `gantry serve` sends signed promotion events to (Standard Webhooks)'),
  events: eventsSchema.optional(),
  sync: z
    .record(name, syncSchema)
    .default({})
    .describe('gantry sync jobs: repositories (e.g. golden base images) mirrored into other registries'),
});

/** `gantry.yaml` as parsed, before semantic checks. */
export type RawConfig = z.infer<typeof configSchema>;

/** The published JSON Schema of `gantry.yaml`. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  // Gates are validated by name in code; give editors the precise shape of each one.
  const env = (
    schema.properties as Record<string, { additionalProperties: { properties: Record<string, unknown> } }>
  ).environments;
  if (env) {
    env.additionalProperties.properties.gates = {
      type: 'array',
      items: {
        oneOf: Object.entries(gateSchemas).map(([name, gate]) => ({
          type: 'object',
          properties: {
            [name]: withoutDialect(z.toJSONSchema(gate, { io: 'input', unrepresentable: 'any' })),
          },
          required: [name],
          additionalProperties: false,
        })),
      },
    };
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://gantry.dev/schema/gantry.schema.json',
    title: 'gantry.yaml',
    ...schema,
  };
}

function withoutDialect(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}
