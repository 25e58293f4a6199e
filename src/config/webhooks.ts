/**
 * Outbound webhooks (`webhooks:` in gantry.yaml): endpoints, their event filters, the environment
 * variable holding each secret, and delivery settings. The schema and its semantic checks live
 * here; secrets are read from the environment only by the server ({@link webhookTargets}), so the
 * CLI never needs them.
 */
import { z } from 'zod';
import type { Config, WebhookConfig } from './config.js';
import { configError } from './config-error.js';
import { durationSchema } from './gates-schema.js';

/**
 * Event types a webhook can ask for (every promotion state change, approvals, rollbacks, and the
 * outcome of the server's gc and sync runs).
 */
export const WEBHOOK_EVENT_TYPES: readonly string[] = Object.freeze([
  'promotion.requested',
  'promotion.gated',
  'promotion.approval',
  'promotion.approved',
  'promotion.rejected',
  'promotion.copying',
  'promotion.completed',
  'promotion.failed',
  'promotion.cancelled',
  'rollback.completed',
  'gc.completed',
  'gc.failed',
  'sync.completed',
  'sync.failed',
]);

/** The event types `failures` stands for. */
export const FAILURE_EVENT_TYPES: readonly string[] = Object.freeze([
  'promotion.failed',
  'promotion.rejected',
  'promotion.cancelled',
  'gc.failed',
  'sync.failed',
]);

const eventFilter = z
  .string()
  .describe('an event type (promotion.completed), a wildcard (promotion.*, *), or failures');

/** One endpoint. */
export const webhookSchema = z.strictObject({
  url: z
    .string()
    .describe('https:// URL the events are POSTed to (http:// only for loopback or with insecure: true)'),
  events: z
    .array(eventFilter)
    .min(1)
    .default(['*'])
    .describe('which events to send (default all): types, wildcards such as promotion.*, or failures'),
  secretEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
    .describe('environment variable holding the signing secret (whsec_<base64>, or at least 32 characters)'),
  timeout: durationSchema.prefault('10s').describe('how long one delivery attempt may take (default 10s)'),
  attempts: z
    .number()
    .int()
    .min(1)
    .max(50)
    .default(8)
    .describe('delivery attempts before a delivery is dead (default 8)'),
  backoff: durationSchema
    .prefault('10s')
    .describe('delay before the first retry, doubled after every further failure (default 10s)'),
  maxBackoff: durationSchema.prefault('1h').describe('the longest delay between two attempts (default 1h)'),
  insecure: z.boolean().default(false).describe('allow a plain http:// URL to a host that is not loopback'),
});

/** `webhooks:` as parsed. */
export type RawWebhooks = Record<string, z.output<typeof webhookSchema>>;

/**
 * Whether event type `type` passes `filters`. Only the types of {@link WEBHOOK_EVENT_TYPES} are
 * ever sent: other ledger entries (tokens, configuration loads) match no filter, not even `*`.
 */
export function webhookMatches(filters: readonly string[], type: string): boolean {
  if (!WEBHOOK_EVENT_TYPES.includes(type)) return false;
  return filters.some((f) => {
    if (f === '*') return true;
    if (f === 'failures') return FAILURE_EVENT_TYPES.includes(type);
    if (f.endsWith('.*')) return type.startsWith(f.slice(0, -1));
    return f === type;
  });
}

const PREFIXES = new Set(WEBHOOK_EVENT_TYPES.map((t) => t.slice(0, t.indexOf('.'))));

/** Why `filter` can never match, or undefined. */
function filterProblem(filter: string): string | undefined {
  if (filter === '*' || filter === 'failures' || WEBHOOK_EVENT_TYPES.includes(filter)) return undefined;
  if (filter.endsWith('.*') && PREFIXES.has(filter.slice(0, -2))) return undefined;
  return `unknown event "${filter}" (expected one of: ${WEBHOOK_EVENT_TYPES.join(', ')}, ${[...PREFIXES].map((p) => `${p}.*`).join(', ')}, *, failures)`;
}

function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h);
}

/** A problem with its key path (normalize.ts's `PathProblem`). */
interface PathProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** Checks and normalises `webhooks:`; problems are pushed to `problems`. */
export function normalizeWebhooks(
  raw: RawWebhooks,
  problems: PathProblem[],
): ReadonlyMap<string, WebhookConfig> {
  const out = new Map<string, WebhookConfig>();
  for (const [name, w] of Object.entries(raw)) {
    const at = (...rest: (string | number)[]) => ['webhooks', name, ...rest];
    let url: URL | undefined;
    try {
      url = new URL(w.url);
    } catch {
      problems.push({ path: at('url'), message: `"${w.url}" is not a URL (expected https://host/path)` });
    }
    if (url) {
      if (url.protocol !== 'https:' && url.protocol !== 'http:')
        problems.push({ path: at('url'), message: `scheme must be https, got ${url.protocol}` });
      else if (url.protocol === 'http:' && !w.insecure && !isLoopback(url.hostname))
        problems.push({
          path: at('url'),
          message: `plain http:// to ${url.hostname} would send events unencrypted: use https://, or insecure: true`,
        });
      if (url.username !== '' || url.password !== '')
        problems.push({
          path: at('url'),
          message: 'a webhook URL must not contain credentials (the signature authenticates Gantry)',
        });
    }
    w.events.forEach((e, i) => {
      const why = filterProblem(e);
      if (why) problems.push({ path: at('events', i), message: why });
    });
    if (w.timeout <= 0) problems.push({ path: at('timeout'), message: 'must be longer than 0' });
    if (w.maxBackoff < w.backoff)
      problems.push({ path: at('maxBackoff'), message: 'must not be shorter than backoff' });
    out.set(
      name,
      Object.freeze({
        name,
        url: w.url,
        events: Object.freeze([...w.events]),
        secretEnv: w.secretEnv,
        timeoutMs: w.timeout,
        attempts: w.attempts,
        backoffMs: w.backoff,
        maxBackoffMs: w.maxBackoff,
      }),
    );
  }
  return out;
}

/** An endpoint with its secret, as the server delivers to it. */
export interface WebhookTarget extends WebhookConfig {
  /** The decoded signing key (never logged, stored or served). */
  readonly key: Uint8Array;
}

/**
 * Reads every endpoint's secret from `env`: `whsec_` followed by base64 (Standard Webhooks; the
 * key is the decoded bytes, at least 16), or any other text of at least 32 characters (its UTF-8
 * bytes). Throws `CONFIG_INVALID` naming the key when a variable is unset, empty or too short;
 * the secret itself is never part of the message.
 */
export function webhookTargets(config: Config, env: NodeJS.ProcessEnv): readonly WebhookTarget[] {
  const targets: WebhookTarget[] = [];
  for (const w of config.webhooks?.values() ?? []) {
    const path = ['webhooks', w.name, 'secretEnv'];
    const value = env[w.secretEnv];
    if (value === undefined || value === '')
      throw configError(config, path, `environment variable ${w.secretEnv} is not set or empty`);
    const key = decodeSecret(value);
    if (!key)
      throw configError(
        config,
        path,
        `environment variable ${w.secretEnv} is not a usable secret (expected whsec_ and base64 of at least 16 bytes, or at least 32 characters)`,
      );
    targets.push(Object.freeze({ ...w, key }));
  }
  return Object.freeze(targets);
}

/** The key bytes of a secret, or undefined when it is too weak or malformed. */
export function decodeSecret(value: string): Uint8Array | undefined {
  if (value.startsWith('whsec_')) {
    const b64 = value.slice('whsec_'.length);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) return undefined;
    const key = Buffer.from(b64, 'base64');
    return key.length >= 16 ? new Uint8Array(key) : undefined;
  }
  return value.length >= 32 ? new Uint8Array(Buffer.from(value, 'utf8')) : undefined;
}
