import { describe, expect, it } from 'vitest';
import { isGantryError } from '../core/index.js';
import { formatProblem, parseConfig, webhookMatches, webhookTargets } from './index.js';

const base = `registries:
  r: { url: https://r.example.com }
environments:
  dev: { registry: r }
applications: [web]
webhooks:
`;

function load(webhooks: string) {
  return parseConfig('gantry.yaml', base + webhooks);
}

function messages(webhooks: string): string[] {
  return load(webhooks).problems.map(formatProblem);
}

describe('webhooks: configuration', () => {
  it('normalises an endpoint with its defaults', () => {
    const { config, problems } = load(`  chat:\n    url: https://hooks.example.com/x\n    secretEnv: HOOK\n`);
    expect(problems).toEqual([]);
    expect(config?.webhooks?.get('chat')).toEqual({
      name: 'chat',
      url: 'https://hooks.example.com/x',
      events: ['*'],
      secretEnv: 'HOOK',
      timeoutMs: 10_000,
      attempts: 8,
      backoffMs: 10_000,
      maxBackoffMs: 3_600_000,
    });
  });

  it('refuses plain http to a host that is not loopback, unless insecure: true', () => {
    expect(messages(`  a: { url: 'http://hooks.example.com/x', secretEnv: H }\n`)).toEqual([
      expect.stringMatching(/^gantry\.yaml:7:\d+: webhooks\.a\.url: plain http:\/\/ to hooks\.example\.com/),
    ]);
    expect(messages(`  a: { url: 'http://hooks.example.com/x', secretEnv: H, insecure: true }\n`)).toEqual(
      [],
    );
    expect(messages(`  a: { url: 'http://127.0.0.1:9000/x', secretEnv: H }\n`)).toEqual([]);
    expect(messages(`  a: { url: 'http://[::1]:9000/x', secretEnv: H }\n`)).toEqual([]);
    expect(messages(`  a: { url: 'http://localhost:9000/x', secretEnv: H }\n`)).toEqual([]);
  });

  it('refuses other schemes, credentials in the URL, unknown events, unknown keys and bad durations', () => {
    expect(messages(`  a: { url: 'ftp://h.example.com/', secretEnv: H }\n`)[0]).toContain(
      'scheme must be https',
    );
    expect(messages(`  a: { url: 'https://u:p@h.example.com/', secretEnv: H }\n`)[0]).toContain(
      'must not contain credentials',
    );
    expect(
      messages(`  a: { url: 'https://h.example.com/', secretEnv: H, events: [promotion.done] }\n`)[0],
    ).toContain('webhooks.a.events[0]: unknown event "promotion.done"');
    expect(
      messages(`  a: { url: 'https://h.example.com/', secretEnv: H, events: [deploy.*] }\n`)[0],
    ).toContain('unknown event "deploy.*"');
    expect(messages(`  a: { url: 'https://h.example.com/', secretEnv: H, secret: x }\n`)[0]).toContain(
      'unknown key "secret"',
    );
    expect(messages(`  a: { url: 'https://h.example.com/', secretEnv: H, timeout: soon }\n`)[0]).toContain(
      'webhooks.a.timeout',
    );
    expect(messages(`  a: { url: 'https://h.example.com/' }\n`)[0]).toContain(
      'webhooks.a.secretEnv: required',
    );
    expect(
      messages(`  a: { url: 'https://h.example.com/', secretEnv: H, backoff: 1h, maxBackoff: 1m }\n`)[0],
    ).toContain('webhooks.a.maxBackoff: must not be shorter than backoff');
  });

  it('reads secrets from the environment: unset, empty or weak is CONFIG_INVALID naming the key, never the value', () => {
    const { config } = load(`  chat:\n    url: https://hooks.example.com/x\n    secretEnv: HOOK\n`);
    if (!config) throw new Error('expected a config');
    const refused = (env: NodeJS.ProcessEnv): string => {
      try {
        webhookTargets(config, env);
      } catch (error) {
        if (!isGantryError(error)) throw error;
        expect(error.code).toBe('CONFIG_INVALID');
        return error.message;
      }
      throw new Error('expected a refusal');
    };
    expect(refused({})).toBe(
      'gantry.yaml:9:16: webhooks.chat.secretEnv: environment variable HOOK is not set or empty',
    );
    expect(refused({ HOOK: '' })).toContain('HOOK is not set or empty');
    expect(refused({ HOOK: 'whsec_c2hvcnQ=' })).toContain('HOOK is not a usable secret');
    expect(refused({ HOOK: 'whsec_not base64!!' })).not.toContain('not base64');
    expect(refused({ HOOK: 'too-short' })).toContain('not a usable secret');
    const key = Buffer.alloc(24, 7);
    const [target] = webhookTargets(config, { HOOK: `whsec_${key.toString('base64')}` });
    expect(Buffer.from(target?.key ?? [])).toEqual(key);
    const [plain] = webhookTargets(config, { HOOK: 'x'.repeat(32) });
    expect(Buffer.from(plain?.key ?? []).toString()).toBe('x'.repeat(32));
  });
});

describe('webhookMatches', () => {
  it('matches types, wildcards and failures', () => {
    expect(webhookMatches(['promotion.completed'], 'promotion.completed')).toBe(true);
    expect(webhookMatches(['promotion.completed'], 'promotion.failed')).toBe(false);
    expect(webhookMatches(['promotion.*'], 'promotion.gated')).toBe(true);
    expect(webhookMatches(['promotion.*'], 'rollback.completed')).toBe(false);
    expect(webhookMatches(['*'], 'rollback.completed')).toBe(true);
    for (const t of ['promotion.failed', 'promotion.rejected', 'promotion.cancelled'])
      expect(webhookMatches(['failures'], t)).toBe(true);
    expect(webhookMatches(['failures'], 'promotion.completed')).toBe(false);
    expect(webhookMatches(['failures'], 'promotion.approved')).toBe(false);
    expect(webhookMatches(['failures', 'promotion.completed'], 'promotion.completed')).toBe(true);
    expect(webhookMatches(['promotion.*'], 'promotionx.completed')).toBe(false);
  });

  it('matches the outcome of gc and sync runs; failures include their failures, not item entries', () => {
    for (const t of ['gc.completed', 'gc.failed', 'sync.completed', 'sync.failed'])
      expect(webhookMatches(['*'], t)).toBe(true);
    expect(webhookMatches(['gc.*'], 'gc.failed')).toBe(true);
    expect(webhookMatches(['gc.*'], 'sync.failed')).toBe(false);
    expect(webhookMatches(['failures'], 'gc.failed')).toBe(true);
    expect(webhookMatches(['failures'], 'sync.failed')).toBe(true);
    expect(webhookMatches(['failures'], 'gc.completed')).toBe(false);
    for (const t of ['gc.deleted', 'sync.copied', 'sync.tagged'])
      expect(webhookMatches(['*'], t)).toBe(false);
    expect(
      messages(`  a: { url: 'https://h.example.com/', secretEnv: H, events: [gc.*, sync.failed] }\n`),
    ).toEqual([]);
  });

  it('never matches ledger entries that are not webhook events, not even with *', () => {
    for (const t of ['token.created', 'token.revoked', 'config.loaded', 'promotion.unknown'])
      expect(webhookMatches(['*', 'promotion.*', 'failures'], t)).toBe(false);
  });
});
