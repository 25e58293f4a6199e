/**
 * Outbound webhooks end to end with real processes (issue 12, point 1): a real `gantry serve`
 * promotes between real distribution registries through the API, and a webhook receiver (a node
 * HTTP server here) verifies the Standard Webhooks signature of every request, fails on purpose
 * at first and sees the retry succeed; a redelivery through the API arrives with the same
 * webhook-id and a valid new signature; the delivery log shows every attempt with its status.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createApiToken,
  makeImage,
  pushImage,
  startGantryServer,
  startRegistry,
  type GantryServerProcess,
  type RegistryProcess,
  writeDevProdConfig,
  waitUntil,
} from '../helpers/index.js';
import { runCli } from './run-cli.js';

const BOOTSTRAP = `gty_${'5'.repeat(64)}`;
const KEY = randomBytes(32);
const SECRET = `whsec_${KEY.toString('base64')}`;
const ALERT_KEY = randomBytes(24);
const ALERT_SECRET = `whsec_${ALERT_KEY.toString('base64')}`;

interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The signature checked out with the endpoint's key. */
  readonly verified: boolean;
  readonly answered: number;
}

interface Delivery {
  id: string;
  endpoint: string;
  event: string;
  subject: string;
  state: string;
  attempts: number;
  lastStatus: number | null;
  body: { type: string; id: string; data: Record<string, unknown>; ledger: { seq: number; hash: string } };
  attemptLog: { status: number | null; outcome: string; durationMs: number; startedAt: string }[];
}

/** Verifies a Standard Webhooks signature the way a receiver would, independently of Gantry's code. */
function verify(key: Buffer, headers: IncomingHttpHeaders, body: string): boolean {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sig = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof ts !== 'string' || typeof sig !== 'string') return false;
  if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest();
  return sig.split(' ').some((s) => {
    const [version, value] = s.split(',');
    const given = Buffer.from(value ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

const until = <T>(what: string, get: () => Promise<T | undefined>, ms = 60_000): Promise<T> =>
  waitUntil(what, get, { timeoutMs: ms, intervalMs: 100 });

describe('webhooks out through gantry serve (real processes)', () => {
  let dev: RegistryProcess;
  let prod: RegistryProcess;
  let receiver: Server;
  let server: GantryServerProcess | undefined;
  let dir = '';
  let config = '';
  const received: Received[] = [];
  /** How many more requests to each path are answered 500 on purpose. */
  const failures = new Map<string, number>([['/hook', 2]]);
  /** While set, requests to /hook get no answer (kept here to end at cleanup). */
  let hang = false;
  const hung: ServerResponse[] = [];

  beforeAll(async () => {
    [dev, prod] = await Promise.all([startRegistry(), startRegistry()]);
    for (const app of ['web', 'api']) {
      const image = makeImage({ seed: `serve-webhooks-${app}`, layers: [{ size: 2048, seed: `wh-${app}` }] });
      await pushImage(dev, `dev/${app}`, image, '1.0.0');
    }
    receiver = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        const path = req.url ?? '';
        if (hang && path === '/hook') {
          received.push({
            path,
            headers: req.headers,
            body,
            verified: verify(KEY, req.headers, body),
            answered: 0,
          });
          hung.push(res);
          return;
        }
        const verified = verify(path === '/alerts' ? ALERT_KEY : KEY, req.headers, body);
        const left = failures.get(path) ?? 0;
        const answered = !verified ? 401 : left > 0 ? 500 : 204;
        if (verified && left > 0) failures.set(path, left - 1);
        received.push({ path, headers: req.headers, body, verified, answered });
        res.statusCode = answered;
        res.end(answered === 500 ? 'failing on purpose' : '');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as AddressInfo).port;
    dir = await mkdtemp(join(tmpdir(), 'gantry-serve-webhooks-'));
    config = await writeDevProdConfig(dir, {
      dev: dev.url,
      prod: prod.url,
      applications: ['web', 'api'],
      floating: false,
      environments: `  gated:
    registry: prod
    prefix: gated
    from: [dev]
    gates:
      - approval: { count: 1, groups: [ops] }
`,
      rest: `teams:
  web-team: [web]
webhooks:
  hook:
    url: http://127.0.0.1:${port}/hook
    events: [promotion.completed]
    secretEnv: TEST_WEBHOOK_SECRET
    backoff: 300ms
    maxBackoff: 1s
    attempts: 5
  alerts:
    url: http://127.0.0.1:${port}/alerts
    events: [failures]
    secretEnv: TEST_ALERT_SECRET
    backoff: 300ms
`,
    });
    server = await startGantryServer({
      config,
      dataDir: join(dir, 'data'),
      bootstrapToken: BOOTSTRAP,
      env: { TEST_WEBHOOK_SECRET: SECRET, TEST_ALERT_SECRET: ALERT_SECRET },
    });
  }, 120_000);

  afterAll(async () => {
    for (const res of hung) res.destroy();
    await server?.kill();
    await new Promise((resolve) => receiver?.close(resolve));
    await Promise.all([dev?.stop(), prod?.stop()]);
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('refuses to start when a webhook secret variable is unset: one CONFIG_INVALID line naming the key', async () => {
    const r = await runCli(
      ['serve', '--config', config, '--data-dir', join(dir, 'other'), '--listen', '127.0.0.1:0'],
      {
        env: { TEST_WEBHOOK_SECRET: SECRET, TEST_ALERT_SECRET: '' },
      },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /webhooks\.alerts\.secretEnv: environment variable TEST_ALERT_SECRET is not set or empty/,
    );
    expect(r.stderr).not.toContain('    at ');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }, 60_000);

  it('delivers a signed promotion.completed, retried after two 500s; the log shows each attempt', async () => {
    const s = server as GantryServerProcess;
    const posted = await api<{ id: string }>(s, BOOTSTRAP, 'POST', '/api/v1/promotions', {
      app: 'web',
      version: '1.0.0',
      to: 'prod',
    });
    expect(posted.status, JSON.stringify(posted.body)).toBe(202);
    const id = posted.body.id;
    const delivered = await until('the delivery to hook', async () => {
      const r = await api<{ deliveries: Delivery[] }>(
        s,
        BOOTSTRAP,
        'GET',
        '/api/v1/webhooks/deliveries?endpoint=hook',
      );
      return r.body.deliveries.find((d) => d.subject === id && d.state === 'delivered');
    });
    const hooks = received.filter((r) => r.path === '/hook');
    expect(hooks.map((r) => [r.verified, r.answered])).toEqual([
      [true, 500],
      [true, 500],
      [true, 204],
    ]);
    // Every attempt carries the same id; each is signed anew.
    expect(new Set(hooks.map((r) => r.headers['webhook-id']))).toEqual(new Set([delivered.id]));
    for (const r of hooks) {
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['user-agent']).toMatch(/^gantry\/\S+$/);
    }
    const body = JSON.parse(hooks[2]?.body ?? '{}') as Delivery['body'];
    expect(body.type).toBe('promotion.completed');
    expect(body.id).toBe(delivered.id);
    expect(body.data).toMatchObject({
      promotion: id,
      app: 'web',
      version: '1.0.0',
      from: 'dev',
      to: 'prod',
      state: 'completed',
    });
    expect(body.data.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(Array.isArray(body.data.gates)).toBe(true);
    // The event's ledger entry is the one in the ledger, with its hash.
    const ledger = await api<{ entries: { seq: number; type: string; hash: string }[] }>(
      s,
      BOOTSTRAP,
      'GET',
      `/api/v1/ledger?subject=${id}`,
    );
    const completed = ledger.body.entries.find((e) => e.type === 'promotion.completed');
    expect(body.ledger).toEqual({ seq: completed?.seq, hash: completed?.hash });

    expect(delivered.attempts).toBe(3);
    expect(delivered.attemptLog.map((a) => [a.status, a.outcome])).toEqual([
      [500, 'retry'],
      [500, 'retry'],
      [204, 'delivered'],
    ]);
    // No other event of the promotion went to an endpoint asking only for promotion.completed.
    expect(received.filter((r) => r.path === '/hook')).toHaveLength(3);
    expect(received.filter((r) => r.path === '/alerts')).toHaveLength(0);
  }, 120_000);

  it('redelivers through the API with the same webhook-id and a valid new signature; only admins may', async () => {
    const s = server as GantryServerProcess;
    const viewer = await createApiToken(s, BOOTSTRAP, { name: 'viewer', roles: ['viewer'] });
    const list = await api<{ deliveries: Delivery[] }>(
      s,
      viewer,
      'GET',
      '/api/v1/webhooks/deliveries?state=delivered',
    );
    expect(list.status).toBe(200);
    const [delivery] = list.body.deliveries;
    if (!delivery) throw new Error('expected a delivered delivery');
    const before = received.filter((r) => r.headers['webhook-id'] === delivery.id);
    const lastBefore = before.at(-1) as Received;
    // Let the clock pass a second, so the new timestamp (seconds) and signature differ.
    await new Promise((r) => setTimeout(r, 1100));

    const refused = await api<{ error: { code: string } }>(
      s,
      viewer,
      'POST',
      `/api/v1/webhooks/deliveries/${delivery.id}/redeliver`,
    );
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('API_FORBIDDEN');
    const unknown = await api<{ error: { code: string } }>(
      s,
      BOOTSTRAP,
      'POST',
      `/api/v1/webhooks/deliveries/msg_${'0'.repeat(32)}/redeliver`,
    );
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'API_NOT_FOUND']);

    const again = await api<Delivery>(
      s,
      BOOTSTRAP,
      'POST',
      `/api/v1/webhooks/deliveries/${delivery.id}/redeliver`,
    );
    expect(again.status, JSON.stringify(again.body)).toBe(202);
    expect(again.body).toMatchObject({ id: delivery.id, state: 'pending' });
    const redelivered = await until('the redelivery', () =>
      Promise.resolve(received.filter((r) => r.headers['webhook-id'] === delivery.id).at(before.length)),
    );
    expect(redelivered.verified).toBe(true);
    expect(redelivered.answered).toBe(204);
    expect(redelivered.body).toBe(lastBefore.body);
    expect(Number(redelivered.headers['webhook-timestamp'])).toBeGreaterThan(
      Number(lastBefore.headers['webhook-timestamp']),
    );
    expect(redelivered.headers['webhook-signature']).not.toBe(lastBefore.headers['webhook-signature']);

    const log = await until('the redelivery in the log', async () => {
      const r = await api<{ deliveries: Delivery[] }>(
        s,
        viewer,
        'GET',
        '/api/v1/webhooks/deliveries?endpoint=hook',
      );
      const d = r.body.deliveries.find((x) => x.id === delivery.id);
      return d?.state === 'delivered' && d.attempts === 4 ? d : undefined;
    });
    expect(log.attemptLog.map((a) => [a.status, a.outcome])).toEqual([
      [500, 'retry'],
      [500, 'retry'],
      [204, 'delivered'],
      [204, 'delivered'],
    ]);
    for (const a of log.attemptLog) expect(a.durationMs).toBeGreaterThanOrEqual(0);
  }, 60_000);

  it('sends a rejection to the failures-only endpoint, and never logs or serves a secret', async () => {
    const s = server as GantryServerProcess;
    const posted = await api<{ id: string }>(s, BOOTSTRAP, 'POST', '/api/v1/promotions', {
      app: 'api',
      version: '1.0.0',
      to: 'gated',
    });
    expect(posted.status, JSON.stringify(posted.body)).toBe(202);
    const id = posted.body.id;
    await until('awaiting approval', async () => {
      const r = await api<{ state: string }>(s, BOOTSTRAP, 'GET', `/api/v1/promotions/${id}`);
      return r.body.state === 'awaiting-approval' ? true : undefined;
    });
    const approver = await createApiToken(s, BOOTSTRAP, {
      name: 'ops',
      roles: ['approver:gated'],
      groups: ['ops'],
    });
    const rejected = await api(s, approver, 'POST', `/api/v1/promotions/${id}/rejections`, {
      reason: 'not today',
    });
    expect(rejected.status, JSON.stringify(rejected.body)).toBeLessThan(300);
    const alert = await until('the alert', () =>
      Promise.resolve(received.find((r) => r.path === '/alerts' && r.answered === 204)),
    );
    expect(alert.verified).toBe(true);
    const body = JSON.parse(alert.body) as Delivery['body'];
    expect(body.type).toBe('promotion.rejected');
    expect(body.data).toMatchObject({
      promotion: id,
      app: 'api',
      to: 'gated',
      state: 'rejected',
      reason: 'not today',
    });
    // The completed-only endpoint got nothing for this promotion.
    expect(received.filter((r) => r.path === '/hook' && r.body.includes(id))).toEqual([]);

    const all = await api(s, BOOTSTRAP, 'GET', '/api/v1/webhooks/deliveries?limit=500');
    const out = s.output();
    for (const text of [JSON.stringify(all.body), out.stdout, out.stderr]) {
      expect(text).not.toContain(KEY.toString('base64'));
      expect(text).not.toContain(ALERT_KEY.toString('base64'));
    }
    const metrics = await (
      await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${BOOTSTRAP}` } })
    ).text();
    expect(metrics).toMatch(/gantry_webhook_deliveries_total\{endpoint="hook",outcome="retry"\} 2/);
    expect(metrics).toMatch(/gantry_webhook_deliveries_total\{endpoint="alerts",outcome="delivered"\} 1/);
  }, 60_000);

  it('delivers a committed event after the server is killed (kill -9) in the middle of the attempt', async () => {
    let s = server as GantryServerProcess;
    hang = true;
    const posted = await api<{ id: string }>(s, BOOTSTRAP, 'POST', '/api/v1/promotions', {
      app: 'api',
      version: '1.0.0',
      to: 'prod',
    });
    expect(posted.status, JSON.stringify(posted.body)).toBe(202);
    const id = posted.body.id;
    const first = await until('the attempt in flight', () =>
      Promise.resolve(received.find((r) => r.path === '/hook' && r.body.includes(id))),
    );
    expect(first.verified).toBe(true);
    await s.kill();
    hang = false;
    s = server = await startGantryServer({
      config,
      dataDir: join(dir, 'data'),
      env: { TEST_WEBHOOK_SECRET: SECRET, TEST_ALERT_SECRET: ALERT_SECRET },
    });
    const delivered = await until('the delivery after the restart', async () => {
      const r = await api<{ deliveries: Delivery[] }>(
        s,
        BOOTSTRAP,
        'GET',
        '/api/v1/webhooks/deliveries?endpoint=hook',
      );
      return r.body.deliveries.find((d) => d.subject === id && d.state === 'delivered');
    });
    expect(delivered.id).toBe(first.headers['webhook-id']);
    const again = received.filter((r) => r.headers['webhook-id'] === delivered.id);
    expect(again.map((r) => [r.verified, r.answered])).toEqual([
      [true, 0],
      [true, 204],
    ]);
    // The attempt cut off by the kill left no row; the one that delivered did.
    expect(delivered.attemptLog.map((a) => [a.status, a.outcome])).toEqual([[204, 'delivered']]);
  }, 120_000);
});
