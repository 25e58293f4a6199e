/**
 * The webhook outbox and delivery worker on both databases: a delivery and its job are written in
 * the ledger entry's transaction (a rolled-back change leaves neither), and the worker signs,
 * retries, records every attempt and ends a delivery as delivered or dead.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookConfig, WebhookTarget } from '../../src/config/index.js';
import { isGantryError } from '../../src/core/index.js';
import { redeliver, webhookOutbox, WebhookWorker, WEBHOOK_JOB } from '../../src/jobs/index.js';
import { Ledger, Promotions, WebhookDeliveries, type Store } from '../../src/store/index.js';
import { pgliteBackend, postgresBackend, type StoreBackend } from './store-backends.js';

const backends: StoreBackend[] = [pgliteBackend(), postgresBackend()];
const KEY = Buffer.alloc(32, 9);

function endpoint(name: string, url: string, events: string[], attempts = 3): WebhookTarget {
  return {
    name,
    url,
    events,
    secretEnv: 'X',
    timeoutMs: 2000,
    attempts,
    backoffMs: 50,
    maxBackoffMs: 100,
    key: KEY,
  };
}

async function insertPromotion(store: Store, ledger: Ledger, id: string, fail = false): Promise<void> {
  await store.db.transaction().execute(async (trx) => {
    await new Promotions(store.db).insert(trx, {
      id,
      kind: 'promotion',
      apps: ['web'],
      subjects: [`web@sha256:${'a'.repeat(64)}`],
      version: '1.0.0',
      digest: `sha256:${'a'.repeat(64)}`,
      from: 'dev',
      to: 'prod',
      state: 'requested',
      requester: 'ci (t1)',
      requesterIdentity: 'ci',
      plan: { applications: [{ application: 'web', version: '1.0.0', digest: `sha256:${'a'.repeat(64)}` }] },
      progress: {
        state: 'requested',
        gates: [[{ name: 'labels', status: 'pass', reason: 'ok' }]],
        approvals: [[]],
      },
      time: new Date('2026-01-01T00:00:00Z'),
    });
    await ledger.append(trx, {
      type: 'promotion.requested',
      subject: id,
      actor: 'ci (t1)',
      time: new Date('2026-01-01T00:00:00Z'),
      payload: { environment: 'prod' },
    });
    if (fail) throw new Error('the state change fails after the append');
  });
}

describe.each(backends)('webhook outbox and worker on $name', (backend) => {
  let store: Store;
  let receiver: Server;
  let url = '';
  const seen: { headers: IncomingMessage['headers']; body: string }[] = [];
  let answers: number[] = [];
  /** Requests to /hang get no answer until the test ends them. */
  const hung: ServerResponse[] = [];

  beforeAll(async () => {
    store = await backend.start();
    receiver = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        if (req.url === '/hang') return void hung.push(res);
        seen.push({ headers: req.headers, body });
        res.statusCode = answers.shift() ?? 204;
        res.end('x'.repeat(100_000));
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  }, 120_000);

  afterAll(async () => {
    await store?.close();
    await backend.stop();
    for (const res of hung) res.destroy();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('writes a delivery and its job in the ledger transaction; a rolled-back change leaves none', async () => {
    const endpoints: WebhookConfig[] = [
      endpoint('all', url, ['promotion.*']),
      endpoint('failures-only', url, ['failures']),
    ];
    const ledger = new Ledger(store.db);
    ledger.onAppend(webhookOutbox({ endpoints: () => endpoints }));
    const deliveries = new WebhookDeliveries(store.db);

    await expect(insertPromotion(store, ledger, 'p-rolled-back', true)).rejects.toThrow(
      /fails after the append/,
    );
    expect((await deliveries.list({})).deliveries).toEqual([]);
    expect(await store.db.selectFrom('jobs').selectAll().where('kind', '=', WEBHOOK_JOB).execute()).toEqual(
      [],
    );

    await insertPromotion(store, ledger, 'p-1');
    const { deliveries: rows } = await deliveries.list({});
    expect(rows).toHaveLength(1); // the failures-only endpoint does not get promotion.requested
    const [row] = rows;
    const head = await ledger.head();
    expect(row).toMatchObject({
      endpoint: 'all',
      event: 'promotion.requested',
      subject: 'p-1',
      state: 'pending',
      ledger_seq: head.seq,
    });
    expect(row?.id).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(row?.body).toEqual({
      type: 'promotion.requested',
      id: row?.id,
      timestamp: '2026-01-01T00:00:00.000Z',
      ledger: { seq: head.seq, hash: head.hash },
      data: {
        promotion: 'p-1',
        kind: 'promotion',
        app: 'web',
        apps: ['web'],
        applications: [{ app: 'web', version: '1.0.0', digest: `sha256:${'a'.repeat(64)}` }],
        version: '1.0.0',
        digest: `sha256:${'a'.repeat(64)}`,
        from: 'dev',
        to: 'prod',
        requester: 'ci (t1)',
        actor: 'ci (t1)',
        approvals: [[]],
        gates: [[{ name: 'labels', status: 'pass', reason: 'ok' }]],
        state: 'requested',
      },
    });
    const jobs = await store.db.selectFrom('jobs').selectAll().where('kind', '=', WEBHOOK_JOB).execute();
    expect(jobs.map((j) => [j.payload, j.max_attempts, j.state])).toEqual([
      [{ delivery: row?.id }, 3, 'queued'],
    ]);
  });

  it('delivers signed, retries a 500, and dead-letters after the last attempt', async () => {
    const targets = [endpoint('all', url, ['promotion.*'], 3)];
    const worker = new WebhookWorker({ store, targets: () => targets, userAgent: 'gantry/test', idleMs: 20 });
    const deliveries = new WebhookDeliveries(store.db);
    const [first] = (await deliveries.list({})).deliveries;
    answers = [500];
    seen.length = 0;
    worker.start();
    try {
      await waitFor(async () => (await deliveries.get(first?.id ?? ''))?.state === 'delivered');
      // A second event to an endpoint that always fails ends dead after 3 attempts.
      answers = [503, 500, 502];
      const ledger = new Ledger(store.db);
      ledger.onAppend(webhookOutbox({ endpoints: () => targets, queued: () => worker.kick() }));
      await insertPromotion(store, ledger, 'p-2');
      await waitFor(async () => (await deliveries.list({ state: 'dead' })).deliveries.length === 1);
    } finally {
      await worker.stop();
    }
    const [delivered] = (await deliveries.list({ state: 'delivered' })).deliveries;
    expect(delivered?.attemptLog.map((a) => [a.status, a.outcome])).toEqual([
      [500, 'retry'],
      [204, 'delivered'],
    ]);
    expect(delivered?.delivered_at).toBeInstanceOf(Date);
    const [dead] = (await deliveries.list({ state: 'dead' })).deliveries;
    expect(dead?.attemptLog.map((a) => [a.status, a.outcome])).toEqual([
      [503, 'retry'],
      [500, 'retry'],
      [502, 'dead'],
    ]);
    expect(dead).toMatchObject({ attempts: 3, last_status: 502, last_error: 'HTTP 502' });
    expect(seen).toHaveLength(5);
    for (const s of seen) {
      const id = s.headers['webhook-id'] as string;
      const ts = s.headers['webhook-timestamp'] as string;
      const mac = createHmac('sha256', KEY).update(`${id}.${ts}.${s.body}`).digest('base64');
      expect(s.headers['webhook-signature']).toBe(`v1,${mac}`);
      expect(s.headers['user-agent']).toBe('gantry/test');
      expect(s.headers['content-type']).toBe('application/json');
      expect((JSON.parse(s.body) as { id: string }).id).toBe(id);
    }
    const jobs = await store.db
      .selectFrom('jobs')
      .select(['state'])
      .where('kind', '=', WEBHOOK_JOB)
      .execute();
    expect(jobs.map((j) => j.state).sort()).toEqual(['failed', 'succeeded']);
  }, 60_000);

  it('redelivers only a settled delivery to an endpoint still configured; a removed endpoint ends it dead', async () => {
    const deliveries = new WebhookDeliveries(store.db);
    const targets = [endpoint('all', url, ['promotion.*'], 2)];
    const code = async (p: Promise<unknown>): Promise<string> =>
      p.then(
        () => 'ok',
        (e: unknown) => (isGantryError(e) ? e.code : String(e)),
      );
    const [dead] = (await deliveries.list({ state: 'dead' })).deliveries;
    const id = dead?.id ?? '';
    expect(await code(redeliver(store.db, `msg_${'0'.repeat(32)}`, targets))).toBe('API_NOT_FOUND');
    expect(await code(redeliver(store.db, id, []))).toBe('WEBHOOK_ENDPOINT_UNKNOWN');
    expect((await deliveries.get(id))?.state).toBe('dead');
    expect(await code(redeliver(store.db, id, targets))).toBe('ok');
    expect((await deliveries.get(id))?.state).toBe('pending');
    // Asked again while it is pending: refused, and no second job is queued.
    expect(await code(redeliver(store.db, id, targets))).toBe('WEBHOOK_DELIVERY_PENDING');
    const queued = await store.db
      .selectFrom('jobs')
      .selectAll()
      .where('kind', '=', WEBHOOK_JOB)
      .where('state', '=', 'queued')
      .execute();
    expect(queued.map((j) => j.payload)).toEqual([{ delivery: id }]);
    // The endpoint was removed from the configuration before the worker got to it: dead, not sent.
    seen.length = 0;
    const worker = new WebhookWorker({ store, targets: () => [], userAgent: 'gantry/test', idleMs: 20 });
    worker.start();
    try {
      await waitFor(async () => (await deliveries.get(id))?.state === 'dead');
    } finally {
      await worker.stop();
    }
    expect(seen).toEqual([]);
    expect((await deliveries.get(id))?.last_error).toBe('endpoint "all" is no longer configured');
  }, 60_000);

  it('an endpoint that hangs until its timeout does not hold back the deliveries to another (issue 15)', async () => {
    const hang = {
      ...endpoint('hang', url.replace(/\/hook$/, '/hang'), ['promotion.*'], 1),
      timeoutMs: 30_000,
    };
    const fast = endpoint('fast', url, ['promotion.*'], 1);
    const deliveries = new WebhookDeliveries(store.db);
    // The hanging endpoint's delivery is queued first, so a single claim loop would take it first.
    for (const [subject, target] of [
      ['p-hang', hang],
      ['p-fast', fast],
    ] as const) {
      const ledger = new Ledger(store.db);
      ledger.onAppend(webhookOutbox({ endpoints: () => [target] }));
      await insertPromotion(store, ledger, subject);
    }
    const [slow] = (await deliveries.list({ endpoint: 'hang' })).deliveries;
    const [quick] = (await deliveries.list({ endpoint: 'fast' })).deliveries;
    const worker = new WebhookWorker({
      store,
      targets: () => [hang, fast],
      userAgent: 'gantry/test',
      idleMs: 20,
    });
    worker.start();
    try {
      await waitFor(() => Promise.resolve(hung.length === 1));
      // Before the change, one claim loop waited out the 30 s timeout before the other delivery.
      await waitFor(async () => (await deliveries.get(quick?.id ?? ''))?.state === 'delivered');
      expect((await deliveries.get(slow?.id ?? ''))?.state).toBe('pending');
      expect(hung[0]?.writableEnded).toBe(false);
    } finally {
      for (const res of hung) res.destroy();
      await worker.stop();
    }
  }, 60_000);
});

async function waitFor(check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}
