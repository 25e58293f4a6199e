/**
 * Issue 15, "Faults" (webhooks): a REAL `gantry serve` sends every event to five receivers that
 * misbehave in different ways — one that accepts and never answers (`timeout`), one that always
 * answers 500, one that vanishes half-way (its listening socket closed: connection refused), one
 * that fails the first two attempts of every delivery and then accepts (`flap`), and a healthy one.
 * A batch of promotions (completing, and failing on a registry that refuses uploads) produces the
 * events; once, while deliveries are pending, the server is killed with SIGKILL and started again.
 *
 * The promise: none is lost. For each endpoint, the ledger entries it subscribes to (ground truth:
 * `GET /api/v1/ledger`) equal its delivered ∪ dead deliveries (`GET /api/v1/webhooks/deliveries`),
 * every delivered one was received (deduplicated by `webhook-id`; at least once, duplicates
 * counted), and every dead one carries an attempt log saying why.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_EVENT_TYPES } from '../../src/config/webhooks.js';
import {
  api,
  makeImage,
  pushImage,
  recordFigures,
  rng,
  scale,
  seedOf,
  startFaultProxy,
  startGantryServer,
  startRegistry,
  type FaultProxy,
  type GantryServerProcess,
  type RegistryProcess,
} from '../helpers/index.js';
import { BOOTSTRAP, makeToken, waitForPromotion } from './serve-helpers.js';

const SEED = seedOf();
const random = rng(SEED);
const PROMOTIONS = scale(4, 40);
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

type Behaviour = 'healthy' | 'timeout' | 'error500' | 'vanish' | 'flap';
const BEHAVIOURS: readonly Behaviour[] = ['healthy', 'timeout', 'error500', 'vanish', 'flap'];
/** The vanishing receiver closes its socket after this many requests. */
const VANISH_AFTER = 4;

interface Receiver {
  behaviour: Behaviour;
  server: Server;
  port: number;
  /** Requests by webhook-id. */
  seen: Map<string, number>;
  /** webhook-ids answered 2xx, and how often (more than once: a duplicate). */
  accepted: Map<string, number>;
  requests: number;
  /** When the last new webhook-id was accepted. */
  lastAcceptedAt: number;
  hung: ServerResponse[];
}

interface Delivery {
  id: string;
  endpoint: string;
  event: string;
  state: string;
  attempts: number;
  lastError?: string | null;
  body: { type: string; id: string; ledger: { seq: number } };
  attemptLog: { status: number | null; error?: string | null; outcome: string }[];
}

async function startReceiver(behaviour: Behaviour): Promise<Receiver> {
  const r: Receiver = {
    behaviour,
    server: undefined as unknown as Server,
    port: 0,
    seen: new Map(),
    accepted: new Map(),
    requests: 0,
    lastAcceptedAt: 0,
    hung: [],
  };
  r.server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      const n = (r.seen.get(id) ?? 0) + 1;
      r.seen.set(id, n);
      r.requests++;
      const accept = (): void => {
        if (!r.accepted.has(id)) r.lastAcceptedAt = Date.now();
        r.accepted.set(id, (r.accepted.get(id) ?? 0) + 1);
        res.statusCode = 204;
        res.end();
      };
      if (behaviour === 'healthy') return accept();
      if (behaviour === 'timeout') return void r.hung.push(res);
      if (behaviour === 'flap' && n > 2) return accept();
      if (behaviour === 'vanish') {
        accept();
        if (r.requests === VANISH_AFTER) {
          // Gone: no new connection is accepted (refused), open ones are cut.
          r.server.close();
          r.server.closeAllConnections();
        }
        return;
      }
      res.statusCode = 500;
      res.end('failing on purpose');
    });
  });
  await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
  r.port = (r.server.address() as AddressInfo).port;
  return r;
}

describe(`webhook receivers that time out, fail, vanish or flap lose no event (seed ${SEED})`, () => {
  let dev: RegistryProcess;
  let prod: RegistryProcess;
  let refusing: FaultProxy;
  const receivers = new Map<Behaviour, Receiver>();
  let server: GantryServerProcess | undefined;
  let dir = '';
  let config = '';
  let token = '';
  const env = { TEST_WEBHOOK_SECRET: SECRET };

  beforeAll(async () => {
    [dev, prod] = await Promise.all([startRegistry(), startRegistry()]);
    // A target that refuses uploads (403, not retried): promotions into it fail.
    refusing = await startFaultProxy({
      target: prod.url,
      fault: (req) =>
        req.method === 'POST' && req.url.includes('/blobs/uploads/')
          ? { status: 403, body: { errors: [{ code: 'DENIED', message: 'read-only' }] } }
          : 'pass',
    });
    for (const b of BEHAVIOURS) receivers.set(b, await startReceiver(b));
    dir = await mkdtemp(join(tmpdir(), 'gantry-webhook-faults-'));
    config = join(dir, 'gantry.yaml');
    const hook = (b: Behaviour): string =>
      `  ${b}:
    url: http://127.0.0.1:${receivers.get(b)?.port}/hook
    secretEnv: TEST_WEBHOOK_SECRET
    timeout: ${b === 'timeout' ? '400ms' : '2s'}
    attempts: 4
    backoff: 200ms
    maxBackoff: 800ms
`;
    await writeFile(
      config,
      `registries:
  dev: { url: "${dev.url}" }
  prod: { url: "${prod.url}" }
  readonly: { url: "${refusing.url}" }
environments:
  dev: { registry: dev, prefix: dev }
  prod: { registry: prod, prefix: prod, from: [dev] }
  frozen: { registry: readonly, prefix: frozen, from: [dev] }
applications: [web, api]
webhooks:
${BEHAVIOURS.map(hook).join('')}`,
    );
    server = await startGantryServer({ config, dataDir: join(dir, 'data'), bootstrapToken: BOOTSTRAP, env });
    token = await makeToken(server, 'ci-webhooks', ['ci']);
  }, 120_000);

  afterAll(async () => {
    for (const r of receivers.values()) for (const res of r.hung) res.destroy();
    await server?.kill();
    for (const r of receivers.values()) {
      r.server.closeAllConnections();
      await new Promise((resolve) => r.server.close(resolve));
    }
    await refusing?.stop();
    await Promise.all([dev?.stop(), prod?.stop()]);
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, 60_000);

  async function allDeliveries(s: GantryServerProcess): Promise<Delivery[]> {
    const out: Delivery[] = [];
    let before: string | undefined;
    for (;;) {
      const q = `limit=500${before === undefined ? '' : `&before=${encodeURIComponent(before)}`}`;
      const r = await api<{ deliveries: Delivery[]; next?: string }>(
        s,
        BOOTSTRAP,
        'GET',
        `/api/v1/webhooks/deliveries?${q}`,
      );
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      out.push(...r.body.deliveries);
      if (r.body.next === undefined) return out;
      before = r.body.next;
    }
  }

  async function webhookLedger(s: GantryServerProcess): Promise<{ seq: number; type: string }[]> {
    const out: { seq: number; type: string }[] = [];
    let after = 0;
    for (;;) {
      const r = await api<{ entries: { seq: number; type: string }[]; next?: number }>(
        s,
        BOOTSTRAP,
        'GET',
        `/api/v1/ledger?after=${after}&limit=1000`,
      );
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      out.push(...r.body.entries.filter((e) => WEBHOOK_EVENT_TYPES.includes(e.type)));
      if (r.body.next === undefined || r.body.entries.length === 0) return out;
      after = r.body.next;
    }
  }

  it('every subscribed event is delivered or dead-lettered, across a kill -9; none lost', async () => {
    let s = server as GantryServerProcess;
    const ids: string[] = [];
    const failing = new Set<number>();
    for (let i = 0; i < PROMOTIONS; i++) {
      const app = random.pick(['web', 'api']);
      const version = `3.${i}.0`;
      const image = makeImage({
        seed: `webhook-faults-${SEED}-${i}`,
        layers: [{ size: random.int(1, 8) * 1024, seed: `webhook-faults-${SEED}-${i}` }],
      });
      await pushImage(dev, `dev/${app}`, image, version);
      const fail = i % 3 === 2;
      if (fail) failing.add(i);
      const posted = await api<{ id: string }>(s, token, 'POST', '/api/v1/promotions', {
        app,
        version,
        to: fail ? 'frozen' : 'prod',
      });
      expect(posted.status, JSON.stringify(posted.body)).toBe(202);
      ids.push(posted.body.id);
    }
    const states: Record<string, number> = {};
    for (const id of ids) {
      const v = await waitForPromotion(s, token, id, 120_000);
      states[v.state] = (states[v.state] ?? 0) + 1;
    }
    expect(states, `seed ${SEED}`).toEqual({
      completed: PROMOTIONS - failing.size,
      ...(failing.size > 0 && { failed: failing.size }),
    });

    const ended = Date.now();
    // Deliveries to the failing receivers are still retrying: kill -9 now, and start again.
    const pendingAtKill = (await allDeliveries(s)).filter((d) => d.state === 'pending').length;
    expect(pendingAtKill, `seed ${SEED}: the kill must come while deliveries are pending`).toBeGreaterThan(0);
    await s.kill();
    s = await startGantryServer({
      config,
      dataDir: join(dir, 'data'),
      bootstrapToken: BOOTSTRAP,
      env,
      port: s.port,
    });
    server = s;

    // Every delivery terminal.
    const deadline = Date.now() + scale(120_000, 600_000);
    let deliveries = await allDeliveries(s);
    while (deliveries.some((d) => d.state === 'pending')) {
      if (Date.now() > deadline)
        throw new Error(
          `seed ${SEED}: still pending: ${deliveries.filter((d) => d.state === 'pending').length}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 500));
      deliveries = await allDeliveries(s);
    }

    const ledger = await webhookLedger(s);
    const generated = new Set(ledger.map((e) => e.seq));
    const figures: Record<string, number> = {
      promotions: PROMOTIONS,
      promotionsFailed: failing.size,
      events: generated.size,
      pendingAtKill,
      serverKills: 1,
    };
    let lost = 0;
    let deliveredTotal = 0;
    let deadTotal = 0;
    let duplicates = 0;
    for (const b of BEHAVIOURS) {
      const r = receivers.get(b) as Receiver;
      const mine = deliveries.filter((d) => d.endpoint === b);
      const delivered = mine.filter((d) => d.state === 'delivered');
      const dead = mine.filter((d) => d.state === 'dead');
      const covered = new Set(mine.map((d) => d.body.ledger.seq));
      const missing = [...generated].filter((seq) => !covered.has(seq));
      lost += missing.length;
      expect(missing, `seed ${SEED}: ${b}: events with no delivery`).toEqual([]);
      expect(mine.length, `${b}: one delivery per event`).toBe(generated.size);
      // Delivered means the receiver accepted it (at least once).
      const unseen = delivered.filter((d) => !r.accepted.has(d.id)).map((d) => d.id);
      expect(unseen, `seed ${SEED}: ${b}: delivered but never accepted`).toEqual([]);
      // Dead means every attempt failed, and the log says why.
      for (const d of dead) {
        expect(d.attemptLog.length, `${b} ${d.id}`).toBeGreaterThan(0);
        expect(d.attemptLog.at(-1)?.outcome, `${b} ${d.id}`).toBe('dead');
        for (const a of d.attemptLog) {
          const why = a.status !== null ? `status ${a.status}` : (a.error ?? '');
          expect(why, `${b} ${d.id}: ${JSON.stringify(a)}`).not.toBe('');
        }
        expect(r.accepted.has(d.id), `${b} ${d.id}: dead but accepted`).toBe(false);
      }
      const dup = [...r.accepted.values()].reduce((sum, n) => sum + n - 1, 0);
      duplicates += dup;
      figures[`${b}.duplicates`] = dup;
      deliveredTotal += delivered.length;
      deadTotal += dead.length;
      figures[`${b}.delivered`] = delivered.length;
      figures[`${b}.dead`] = dead.length;
      figures[`${b}.requests`] = r.requests;
    }
    // What each behaviour must come to.
    expect(figures['healthy.dead'], `seed ${SEED}`).toBe(0);
    expect(figures['flap.dead'], `seed ${SEED}`).toBe(0);
    expect(figures['error500.delivered'], `seed ${SEED}`).toBe(0);
    expect(figures['timeout.delivered'], `seed ${SEED}`).toBe(0);
    expect(figures['vanish.dead'], `seed ${SEED}: deliveries after it vanished`).toBeGreaterThan(0);
    expect(lost).toBe(0);

    // How long after the last promotion ended the healthy receiver had every event (a slow
    // endpoint must not hold the others back for long).
    figures.healthyAllDeliveredAfterMs = (receivers.get('healthy') as Receiver).lastAcceptedAt - ended;
    figures.allTerminalAfterMs = Date.now() - ended;
    figures.deliveries = deliveries.length;
    figures.delivered = deliveredTotal;
    figures.deadLettered = deadTotal;
    figures.lost = lost;
    figures.duplicates = duplicates;
    console.log(JSON.stringify(recordFigures('webhook-faults', figures, SEED)));
  }, 300_000);
});
