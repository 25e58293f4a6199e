/**
 * The HTTP API in process (Fastify `inject()`), against a real store: PGlite for every route, and
 * the token and ledger routes once more against a throw-away PostgreSQL. One store per backend for
 * the whole file (a PGlite first start takes seconds). Authentication is checked on every route
 * the OpenAPI document lists, so a route added later without a token check fails here.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { buildServer, type GantryServer } from '../../src/server/index.js';
import { openStore, type Store, type StoreDatabase } from '../../src/store/index.js';
import {
  injectApiToken,
  injectRequest,
  parseTestConfig,
  type InjectRequestOptions,
} from '../helpers/in-process.js';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';

const BOOTSTRAP = `gty_${'b'.repeat(64)}`;
const UNREACHABLE = '127.0.0.1:1';

const CONFIG = `registries:
  dev: { url: "http://${UNREACHABLE}" }
environments:
  dev: { registry: dev, prefix: team }
  prod: { registry: dev, prefix: prod, from: [dev] }
applications: [web, api]
teams:
  payments: [web]
  platform: [api]
`;

interface Harness {
  readonly store: Store;
  readonly server: GantryServer;
  readonly logs: string[];
  /** Moves the server's clock forward. */
  advance(ms: number): void;
  close(): Promise<void>;
}

async function harness(store: Store, onClose: () => Promise<void>): Promise<Harness> {
  let clock = Date.UTC(2026, 5, 1, 12);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const app: App = createApp({
    config: parseTestConfig(CONFIG),
    env: {},
    authFile: '/nonexistent/auth.json',
    actor: 'test',
  });
  const server = await buildServer({
    store,
    app: () => app,
    logger: pino({ level: 'info' }, sink),
    now: () => new Date(clock),
    version: 'test',
  });
  await server.tokens.seedBootstrap(BOOTSTRAP, { actor: 'test', time: new Date(clock) });
  return {
    store,
    server,
    logs,
    advance: (ms) => {
      clock += ms;
    },
    close: async () => {
      await server.http.close();
      await app.close();
      await store.close();
      await onClose();
    },
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

type Method = 'GET' | 'POST' | 'DELETE';
const call = (h: Harness, method: Method, url: string, options: InjectRequestOptions = {}) =>
  injectRequest(h.server, method, url, options);

const createToken = (h: Harness, body: Record<string, unknown>): Promise<{ id: string; token: string }> =>
  injectApiToken(h.server, BOOTSTRAP, body);

/** Token and ledger routes: run against both databases. */
function tokenAndLedgerSuite(open: () => Promise<Harness>): void {
  let h: Harness;
  beforeAll(async () => {
    h = await open();
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('creates a token, shows its secret once and stores only its SHA-256', async () => {
    const created = await createToken(h, {
      name: 'ci-web',
      roles: ['ci'],
      groups: ['ops'],
      teams: ['payments'],
    });
    expect(created.token).toMatch(/^gty_[A-Za-z0-9_-]{43}$/);
    const row = await h.store.db
      .selectFrom('tokens')
      .selectAll()
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    expect(row.token_hash).toBe(createHash('sha256').update(created.token).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(created.token);
    const list = await call(h, 'GET', '/api/v1/tokens', { token: BOOTSTRAP });
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(created.token);
    expect(list.text).not.toContain(row.token_hash);
    expect((list.body as { tokens: { id: string; roles: string[] }[] }).tokens).toContainEqual(
      expect.objectContaining({ id: created.id, name: 'ci-web', roles: ['ci'], teams: ['payments'] }),
    );
    // The new token works, and no log line holds a secret.
    expect((await call(h, 'GET', '/api/v1/ledger/verify', { token: created.token })).status).toBe(200);
    const logs = h.logs.join('');
    expect(logs).not.toContain(created.token);
    expect(logs).not.toContain(BOOTSTRAP);
    expect(logs).toMatch(/"reqId":"[0-9a-f-]{36}"/);
  });

  it('records token creation and revocation in the ledger, and refuses a revoked token', async () => {
    const created = await createToken(h, { name: 'short-lived', roles: ['viewer'] });
    expect((await call(h, 'GET', '/api/v1/ledger/verify', { token: created.token })).status).toBe(200);
    const revoked = await call(h, 'DELETE', `/api/v1/tokens/${created.id}`, { token: BOOTSTRAP });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: created.id, revokedAt: expect.any(String) as unknown });
    const refused = await call(h, 'GET', '/api/v1/ledger', { token: created.token });
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({
      error: { code: 'API_UNAUTHENTICATED', message: 'the API token has been revoked' },
    });
    const ledger = await call(h, 'GET', `/api/v1/ledger?subject=${created.id}`, { token: BOOTSTRAP });
    const entries = (ledger.body as { entries: { type: string; actor: string; payload: unknown }[] }).entries;
    expect(entries.map((e) => e.type)).toEqual(['token.created', 'token.revoked']);
    expect(entries[0]?.actor).toMatch(/^bootstrap \(tok_[0-9a-f]{16}\)$/);
    expect(JSON.stringify(entries)).not.toContain(created.token);
    // Revoking twice changes nothing and writes nothing; an unknown id is 404.
    expect((await call(h, 'DELETE', `/api/v1/tokens/${created.id}`, { token: BOOTSTRAP })).status).toBe(200);
    const again = await call(h, 'GET', `/api/v1/ledger?subject=${created.id}`, { token: BOOTSTRAP });
    expect((again.body as { entries: unknown[] }).entries).toHaveLength(2);
    const missing = await call(h, 'DELETE', '/api/v1/tokens/tok_0000000000000000', { token: BOOTSTRAP });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: { code: 'API_NOT_FOUND' } });
  });

  it('pages through the ledger with after and limit', async () => {
    const all = await call(h, 'GET', '/api/v1/ledger?limit=1000', { token: BOOTSTRAP });
    const entries = (all.body as { entries: { seq: number }[] }).entries;
    expect(entries.length).toBeGreaterThanOrEqual(3);
    const page = await call(h, 'GET', '/api/v1/ledger?after=1&limit=2', { token: BOOTSTRAP });
    expect(page.body).toMatchObject({ entries: [{ seq: 2 }, { seq: 3 }], next: 3 });
  });

  it('detects an entry edited with SQL, and a verify after repair is ok again', async () => {
    const before = await call(h, 'GET', '/api/v1/ledger/verify', { token: BOOTSTRAP });
    expect(before.body).toMatchObject({ ok: true });
    const row = await h.store.db
      .selectFrom('ledger')
      .select(['actor'])
      .where('seq', '=', 2)
      .executeTakeFirstOrThrow();
    await sql`update ledger set actor = 'mallory' where seq = 2`.execute(h.store.db);
    const after = await call(h, 'GET', '/api/v1/ledger/verify', { token: BOOTSTRAP });
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ ok: false, entries: 1, firstBadSeq: 2, reason: 'hash-mismatch' });
    await sql`update ledger set actor = ${row.actor} where seq = 2`.execute(h.store.db);
    await sql`delete from ledger where seq = 2`.execute(h.store.db);
    const removed = await call(h, 'GET', '/api/v1/ledger/verify', { token: BOOTSTRAP });
    expect(removed.body).toMatchObject({ ok: false, firstBadSeq: 2 });
  });
}

describe('HTTP API on PGlite', () => {
  let root = '';
  let h: Harness;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'gantry-server-api-'));
    const store = await openStore({ dataDir: join(root, 'data') });
    h = await harness(store, () => rm(root, { recursive: true, force: true }));
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('answers 401 on every authenticated route without a valid token, and 403 without the role', async () => {
    const doc = (await call(h, 'GET', '/openapi.json')).body as {
      paths: Record<string, Record<string, { security?: unknown; description?: string }>>;
    };
    const viewer = await createToken(h, { name: 'viewer', roles: ['viewer'] });
    const expiring = await createToken(h, { name: 'expiring', roles: ['admin'], expiresIn: '1h' });
    const revoked = await createToken(h, { name: 'revoked', roles: ['admin'] });
    expect((await call(h, 'DELETE', `/api/v1/tokens/${revoked.id}`, { token: BOOTSTRAP })).status).toBe(200);
    h.advance(2 * 3_600_000);
    const bad: [string, Record<string, string>, string][] = [
      ['missing', {}, 'missing'],
      ['empty', { authorization: '' }, 'missing'],
      ['basic', { authorization: 'Basic dXNlcjpwYXNz' }, 'malformed'],
      ['no prefix', { authorization: `Bearer ${'a'.repeat(43)}` }, 'malformed'],
      ['unknown', bearer(`gty_${'x'.repeat(43)}`), 'unknown'],
      ['expired', bearer(expiring.token), 'expired'],
      ['revoked', bearer(revoked.token), 'revoked'],
    ];
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({
        method: method.toUpperCase() as Method,
        url: path.replace('{id}', 'tok_0000000000000000').replace('{app}', 'web'),
        op,
      })),
    );
    const secured = routes.filter((r) => r.op.security !== undefined);
    expect(secured.map((r) => `${r.method} ${r.url}`).sort()).toEqual([
      'DELETE /api/v1/tokens/tok_0000000000000000',
      'GET /api/v1/applications/web/candidates',
      'GET /api/v1/applications/web/candidates/{digest}',
      'GET /api/v1/applications/web/history',
      'GET /api/v1/deployments',
      'GET /api/v1/diff',
      'GET /api/v1/events',
      'GET /api/v1/ledger',
      'GET /api/v1/ledger/verify',
      'GET /api/v1/lifecycle/jobs',
      'GET /api/v1/lifecycle/runs',
      'GET /api/v1/lifecycle/runs/tok_0000000000000000',
      'GET /api/v1/lifecycle/schedules',
      'GET /api/v1/pipeline',
      'GET /api/v1/session',
      'GET /api/v1/status',
      'GET /api/v1/tokens',
      'GET /api/v1/webhooks/deliveries',
      'GET /metrics',
      'POST /api/v1/deployments',
      'POST /api/v1/lifecycle/runs',
      'POST /api/v1/registry-events',
      'POST /api/v1/tokens',
      'POST /api/v1/webhooks/deliveries/tok_0000000000000000/redeliver',
    ]);
    expect(
      routes
        .filter((r) => r.op.security === undefined)
        .map((r) => r.url)
        .sort(),
    ).toEqual(['/healthz', '/openapi.json', '/readyz']);
    for (const r of secured) {
      for (const [what, headers, reason] of bad) {
        const res = await call(h, r.method, r.url, { headers, ...(r.method === 'POST' && { body: {} }) });
        expect(res.status, `${r.method} ${r.url} with ${what} token`).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer realm="gantry"');
        expect(res.body).toMatchObject({ error: { code: 'API_UNAUTHENTICATED' } });
        expect((res.body as { error: { message: string } }).error.message).toContain(
          {
            missing: 'needs an API token',
            malformed: 'not "Bearer gty_',
            unknown: 'not known',
            expired: 'expired',
            revoked: 'revoked',
          }[reason],
        );
      }
      if (r.method === 'GET') {
        const head = await h.server.http.inject({ method: 'HEAD', url: r.url });
        expect(head.statusCode, `HEAD ${r.url}`).toBe(401);
      }
      if (r.op.description === 'Needs the admin role.') {
        const res = await call(h, r.method, r.url, {
          token: viewer.token,
          ...(r.method === 'POST' && { body: {} }),
        });
        expect(res.status, `${r.method} ${r.url} as viewer`).toBe(403);
        expect(res.body).toMatchObject({ error: { code: 'API_FORBIDDEN' } });
      }
    }
  });

  it('answers 400 with a code, never 5xx, for malformed bodies and queries', async () => {
    const cases: [Method, string, { body?: unknown; payload?: string; headers?: Record<string, string> }][] =
      [
        ['POST', '/api/v1/tokens', { payload: '{"name":', headers: { 'content-type': 'application/json' } }],
        ['POST', '/api/v1/tokens', { payload: '', headers: { 'content-type': 'application/json' } }],
        ['POST', '/api/v1/tokens', { payload: 'name=x', headers: { 'content-type': 'text/plain' } }],
        ['POST', '/api/v1/tokens', { body: [] }],
        ['POST', '/api/v1/tokens', { body: { roles: ['ci'] } }],
        ['POST', '/api/v1/tokens', { body: { name: 'x', roles: [] } }],
        ['POST', '/api/v1/tokens', { body: { name: 'x', roles: ['root'] } }],
        ['POST', '/api/v1/tokens', { body: { name: 'x', roles: ['ci'], extra: 1 } }],
        ['POST', '/api/v1/tokens', { body: { name: 'x', roles: ['approver:moon'] } }],
        ['POST', '/api/v1/tokens', { body: { name: 'x', roles: ['ci'], teams: ['nobody'] } }],
        ['POST', '/api/v1/tokens', { body: { name: 'x', roles: ['ci'], expiresIn: 'soon' } }],
        ['POST', '/api/v1/tokens', { body: { name: 'x', roles: ['ci'], expiresIn: '0s' } }],
        ['POST', '/api/v1/tokens', { body: { name: 'x', roles: ['ci'], expiresIn: '99999w' } }],
        ['DELETE', '/api/v1/tokens/not-a-token-id', {}],
        ['GET', '/api/v1/ledger?limit=0', {}],
        ['GET', '/api/v1/ledger?limit=1001', {}],
        ['GET', '/api/v1/ledger?after=-1', {}],
        ['GET', '/api/v1/ledger?after=1e3', {}],
        ['GET', '/api/v1/ledger?page=2', {}],
        ['GET', '/api/v1/ledger?after=1&after=2', {}],
        ['GET', '/api/v1/applications/web/history', {}],
        ['GET', '/api/v1/applications/web/history?env=..%2F', {}],
        ['GET', '/api/v1/diff?left=dev', {}],
      ];
    for (const [method, url, options] of cases) {
      const res = await call(h, method, url, { token: BOOTSTRAP, ...options });
      expect(res.status, `${method} ${url} ${JSON.stringify(options)}`).toBe(400);
      expect(res.body).toMatchObject({
        error: { code: 'API_REQUEST_INVALID', requestId: expect.any(String) as unknown },
      });
      expect(res.text).not.toMatch(/\n\s+at /);
    }
    const big = await call(h, 'POST', '/api/v1/tokens', {
      token: BOOTSTRAP,
      body: { name: 'x', roles: ['ci'], groups: ['g'.repeat(70_000)] },
    });
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ error: { code: 'API_REQUEST_INVALID' } });
  });

  it('never answers 5xx to any JSON body or ledger query (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), async (body) => {
        const res = await call(h, 'POST', '/api/v1/tokens', {
          token: BOOTSTRAP,
          payload: JSON.stringify(body),
          headers: { 'content-type': 'application/json' },
        });
        expect([201, 400]).toContain(res.status);
      }),
      { numRuns: 60 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom('after', 'limit', 'subject', 'x'), fc.string({ maxLength: 12 })),
        async (query) => {
          const res = await call(h, 'GET', `/api/v1/ledger?${new URLSearchParams(query).toString()}`, {
            token: BOOTSTRAP,
          });
          expect([200, 400]).toContain(res.status);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('maps an unreachable registry to 502 REGISTRY_UNREACHABLE, and limits a team token to its applications', async () => {
    const payments = await createToken(h, { name: 'payments', roles: ['viewer'], teams: ['payments'] });
    const history = await call(h, 'GET', '/api/v1/applications/web/history?env=prod', {
      token: payments.token,
    });
    expect(history.status).toBe(502);
    expect(history.body).toMatchObject({ error: { code: 'REGISTRY_UNREACHABLE' } });
    expect(history.text).not.toMatch(/\n\s+at /);
    const other = await call(h, 'GET', '/api/v1/applications/api/history?env=prod', {
      token: payments.token,
    });
    expect(other.status).toBe(403);
    expect(other.body).toMatchObject({ error: { code: 'API_FORBIDDEN' } });
    const unknownEnv = await call(h, 'GET', '/api/v1/applications/web/history?env=moon', {
      token: BOOTSTRAP,
    });
    expect(unknownEnv.status).toBe(404);
    const status = await call(h, 'GET', '/api/v1/status', { token: payments.token });
    expect(status.status).toBe(200);
    const body = status.body as { cells: { application: string; state: string }[]; error: { code: string } };
    expect([...new Set(body.cells.map((c) => c.application))]).toEqual(['web']);
    expect(body.cells).toContainEqual(expect.objectContaining({ application: 'web', state: 'unknown' }));
    expect(body.error.code).toBe('REGISTRY_UNREACHABLE');
    const all = await call(h, 'GET', '/api/v1/status', { token: BOOTSTRAP });
    expect(new Set((all.body as typeof body).cells.map((c) => c.application))).toEqual(
      new Set(['web', 'api']),
    );
  }, 60_000);

  it('serves health, readiness, metrics and the OpenAPI document', async () => {
    expect(await call(h, 'GET', '/healthz')).toMatchObject({ status: 200, body: { ok: true } });
    expect(await call(h, 'GET', '/readyz')).toMatchObject({
      status: 200,
      body: { ok: true, store: 'pglite' },
    });
    const metrics = await call(h, 'GET', '/metrics', { token: BOOTSTRAP });
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(
      /^gantry_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+$/m,
    );
    expect(metrics.text).toContain('gantry_http_request_duration_seconds_bucket');
    expect(metrics.text).toContain('gantry_process_cpu_user_seconds_total');
    const doc = (await call(h, 'GET', '/openapi.json')).body as {
      openapi: string;
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: { required: string[] } }> } }>
      >;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(
      doc.paths['/api/v1/tokens']?.post?.requestBody?.content['application/json']?.schema.required,
    ).toEqual(['name', 'roles']);
    const missing = await call(h, 'GET', '/api/v1/nothing', { token: BOOTSTRAP });
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'API_NOT_FOUND' } } });
    expect(missing.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('is not ready while the store is unreachable', async () => {
    const db = new Kysely<StoreDatabase>({
      dialect: new PostgresDialect({
        pool: new pg.Pool({ connectionString: `postgres://gantry@${UNREACHABLE}/gantry` }),
      }),
    });
    const app = createApp({
      config: parseTestConfig(CONFIG),
      env: {},
      authFile: '/nonexistent/auth.json',
      actor: 'test',
    });
    const down = await buildServer({
      store: { db, kind: 'postgres', migrated: [], close: () => db.destroy() },
      app: () => app,
    });
    try {
      const res = await down.http.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({
        ok: false,
        store: 'postgres',
        reason: expect.stringMatching(/^store unreachable: /) as unknown,
      });
      expect((await down.http.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await down.http.close();
      await app.close();
      await db.destroy();
    }
  });

  describe('tokens and ledger', () => {
    tokenAndLedgerSuite(async () => {
      const dir = await mkdtemp(join(tmpdir(), 'gantry-server-api-ledger-'));
      return harness(await openStore({ dataDir: join(dir, 'data') }), () =>
        rm(dir, { recursive: true, force: true }),
      );
    });
  });
});

describe('HTTP API on PostgreSQL: tokens and ledger', () => {
  let cluster: PostgresCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);
  tokenAndLedgerSuite(async () => {
    cluster = await startPostgres();
    const url = await cluster.createDatabase('gantry_server_api');
    return harness(await openStore({ databaseUrl: url }), () => Promise.resolve());
  });
});
