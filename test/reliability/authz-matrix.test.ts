/**
 * The authorisation matrix: every operation the server's own `/openapi.json` lists × every kind
 * of caller (no token, a malformed header, unknown, expired and revoked tokens, each role, an
 * approver of another environment, a team-limited token). The expected answer comes from the
 * operation's `x-gantry-access` and the caller's roles (`grants`), so a route added later is
 * checked without editing this file, except for its minimal request in {@link REQUESTS} (a
 * missing entry fails). Runs in-process over the fake desk (whose self-approval rule is the real
 * `sameIdentity`), on a real store and a real, empty registry. Prints the number of checks.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { GantryError } from '../../src/core/index.js';
import type { HoldDesk } from '../../src/jobs/index.js';
import { buildServer, type GantryServer } from '../../src/server/index.js';
import { grants, type Access } from '../../src/server/roles.js';
import { openStore, type Store } from '../../src/store/index.js';
import { injectApiToken, injectRequest, parseTestConfig } from '../helpers/in-process.js';
import { recordFigures, startRegistry, type RegistryProcess } from '../helpers/index.js';
import { FakeDesk } from '../integration/fake-desk.js';

const BOOTSTRAP = `gty_${'b'.repeat(64)}`;
const DIGEST = `sha256:${'d'.repeat(64)}`;
const HOUR = 3_600_000;

/** Over a real, empty registry: routes that read it answer about images that are not there (never 5xx). */
const config = (registryUrl: string): string => `registries:
  dev: { url: "${registryUrl}" }
environments:
  dev: { registry: dev, prefix: dev }
  staging: { registry: dev, prefix: staging, from: [dev] }
  prod: { registry: dev, prefix: prod, from: [staging] }
applications: [web, api]
teams:
  payments: [web]
  platform: [api]
`;

type Method = 'GET' | 'HEAD' | 'POST' | 'DELETE';

interface Reply {
  readonly status: number;
  readonly body: { error?: { code?: string; message?: string } } | undefined;
}

let root = '';
let registry: RegistryProcess | undefined;
let store: Store;
let app: App;
let server: GantryServer;
let clock = Date.UTC(2026, 5, 1, 12);

const call = (
  method: Method,
  url: string,
  options: { headers?: Record<string, string>; token?: string; body?: unknown } = {},
): Promise<Reply> => injectRequest<NonNullable<Reply['body']>>(server, method, url, options);

const createToken = (spec: Record<string, unknown>): Promise<{ id: string; token: string }> =>
  injectApiToken(server, BOOTSTRAP, spec);

/** A promotion of web to `to` (default prod), awaiting approval, requested by a ci token. */
async function freshPromotion(to = 'prod'): Promise<string> {
  const res = await call('POST', '/api/v1/promotions', {
    token: tokens.requester,
    body: { app: 'web', version: '1.4.2', to },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return (res.body as unknown as { id: string }).id;
}

/** A minimal valid request of one operation: where, and with which body. */
interface Request {
  readonly url: string;
  readonly body?: unknown;
}

/**
 * How to call each operation (keyed `METHOD /path/{param}` as the OpenAPI document names it).
 * - `app`: the request is about application `web` (team payments); a token of another team is
 *   refused (403 `API_FORBIDDEN`, or 404 where an id would reveal that it exists).
 * - `everyTeam`: a log naming applications of every team; a team-limited token is refused (403).
 * - `absent`: names something this test never made; a served caller gets 404 `API_NOT_FOUND`
 *   (every other served request must get 2xx).
 * - `stream`: a server-sent event stream; a served caller asks with HEAD (same checks, no endless body).
 */
const REQUESTS: Record<
  string,
  {
    app?: boolean;
    everyTeam?: boolean;
    absent?: boolean;
    stream?: boolean;
    make: () => Promise<Request> | Request;
  }
> = {
  'GET /metrics': { make: () => ({ url: '/metrics' }) },
  'GET /api/v1/session': { make: () => ({ url: '/api/v1/session' }) },
  'GET /api/v1/status': { make: () => ({ url: '/api/v1/status' }) },
  'GET /api/v1/pipeline': { make: () => ({ url: '/api/v1/pipeline' }) },
  'GET /api/v1/diff': { make: () => ({ url: '/api/v1/diff?left=staging&right=prod' }) },
  'GET /api/v1/events': { stream: true, make: () => ({ url: '/api/v1/events' }) },
  'GET /api/v1/ledger': { everyTeam: true, make: () => ({ url: '/api/v1/ledger' }) },
  'GET /api/v1/ledger/verify': { make: () => ({ url: '/api/v1/ledger/verify' }) },
  'GET /api/v1/applications/{app}/history': {
    app: true,
    make: () => ({ url: '/api/v1/applications/web/history?env=prod' }),
  },
  'GET /api/v1/applications/{app}/candidates': {
    app: true,
    make: () => ({ url: '/api/v1/applications/web/candidates?env=prod' }),
  },
  'GET /api/v1/applications/{app}/candidates/{digest}': {
    absent: true,
    app: true,
    make: () => ({ url: `/api/v1/applications/web/candidates/${DIGEST}?env=prod` }),
  },
  'POST /api/v1/deployments': {
    app: true,
    make: () => ({
      url: '/api/v1/deployments',
      body: { env: 'prod', app: 'web', digest: DIGEST, target: 'cluster-a' },
    }),
  },
  'GET /api/v1/deployments': { app: true, make: () => ({ url: '/api/v1/deployments?app=web' }) },
  'GET /api/v1/holds': { app: true, make: () => ({ url: '/api/v1/holds?app=web' }) },
  'POST /api/v1/holds/release': {
    absent: true,
    app: true,
    make: () => ({ url: '/api/v1/holds/release', body: { app: 'web', env: 'prod' } }),
  },
  'GET /api/v1/lifecycle/runs': { everyTeam: true, make: () => ({ url: '/api/v1/lifecycle/runs' }) },
  'GET /api/v1/lifecycle/runs/{id}': {
    absent: true,
    everyTeam: true,
    make: () => ({ url: `/api/v1/lifecycle/runs/run_${'0'.repeat(32)}` }),
  },
  'GET /api/v1/lifecycle/schedules': {
    everyTeam: true,
    make: () => ({ url: '/api/v1/lifecycle/schedules' }),
  },
  'GET /api/v1/lifecycle/jobs': {
    everyTeam: true,
    make: () => ({ url: '/api/v1/lifecycle/jobs' }),
  },
  'POST /api/v1/lifecycle/runs': {
    make: () => ({ url: '/api/v1/lifecycle/runs', body: { kind: 'gc', name: 'dev', dryRun: true } }),
  },
  'POST /api/v1/promotions': {
    app: true,
    make: () => ({ url: '/api/v1/promotions', body: { app: 'web', version: '1.4.2', to: 'prod' } }),
  },
  'GET /api/v1/promotions': { app: true, make: () => ({ url: '/api/v1/promotions?app=web' }) },
  'GET /api/v1/promotions/{id}': {
    app: true,
    make: async () => ({ url: `/api/v1/promotions/${await freshPromotion()}` }),
  },
  'GET /api/v1/promotions/{id}/events': {
    app: true,
    stream: true,
    make: async () => ({ url: `/api/v1/promotions/${await freshPromotion()}/events` }),
  },
  'POST /api/v1/promotions/{id}/approvals': {
    app: true,
    make: async () => ({ url: `/api/v1/promotions/${await freshPromotion()}/approvals`, body: {} }),
  },
  'POST /api/v1/promotions/{id}/rejections': {
    app: true,
    make: async () => ({
      url: `/api/v1/promotions/${await freshPromotion()}/rejections`,
      body: { reason: 'not today' },
    }),
  },
  'POST /api/v1/promotions/{id}/cancel': {
    app: true,
    make: async () => ({ url: `/api/v1/promotions/${await freshPromotion()}/cancel`, body: {} }),
  },
  'POST /api/v1/releases': {
    app: true,
    make: () => ({
      url: '/api/v1/releases',
      body: { to: 'prod', applications: [{ app: 'web', version: '1.4.2' }] },
    }),
  },
  'POST /api/v1/rollbacks': {
    app: true,
    make: () => ({ url: '/api/v1/rollbacks', body: { app: 'web', env: 'prod' } }),
  },
  'POST /api/v1/registry-events': {
    make: () => ({
      url: '/api/v1/registry-events',
      body: { repository: `${registry?.host ?? ''}/prod/web`, tag: '1.4.2', digest: DIGEST },
    }),
  },
  'POST /api/v1/tokens': {
    make: () => ({ url: '/api/v1/tokens', body: { name: 'made-by-matrix', roles: ['viewer'] } }),
  },
  'GET /api/v1/tokens': { make: () => ({ url: '/api/v1/tokens' }) },
  'DELETE /api/v1/tokens/{id}': {
    make: async () => ({
      url: `/api/v1/tokens/${(await createToken({ name: 'doomed', roles: ['viewer'] })).id}`,
    }),
  },
  'GET /api/v1/webhooks/deliveries': {
    everyTeam: true,
    make: () => ({ url: '/api/v1/webhooks/deliveries' }),
  },
  'POST /api/v1/webhooks/deliveries/{id}/redeliver': {
    absent: true,
    make: () => ({ url: `/api/v1/webhooks/deliveries/msg_${'0'.repeat(32)}/redeliver`, body: {} }),
  },
};

/** A kind of caller: either raw headers that authenticate nobody, or a token with roles. */
interface Caller {
  readonly name: string;
  readonly headers?: () => Record<string, string>;
  readonly roles?: readonly string[];
  readonly teams?: readonly string[];
}

const tokens: Record<string, string> = {};

const CALLERS: readonly Caller[] = [
  { name: 'no token', headers: () => ({}) },
  { name: 'malformed header', headers: () => ({ authorization: 'Bearer' }) },
  { name: 'basic credentials', headers: () => ({ authorization: 'Basic dXNlcjpwYXNz' }) },
  { name: 'unknown token', headers: () => ({ authorization: `Bearer gty_${'x'.repeat(43)}` }) },
  { name: 'expired token', headers: () => ({ authorization: `Bearer ${tokens.expired ?? ''}` }) },
  // Registry notifications may carry an HMAC instead of a token: a forged one opens nothing.
  { name: 'forged signature', headers: () => ({ 'x-gantry-signature': `sha256=${'0'.repeat(64)}` }) },
  { name: 'revoked token', headers: () => ({ authorization: `Bearer ${tokens.revoked ?? ''}` }) },
  { name: 'admin', roles: ['admin'] },
  { name: 'ci', roles: ['ci'] },
  { name: 'deployer', roles: ['deployer'] },
  { name: 'viewer', roles: ['viewer'] },
  { name: 'registry', roles: ['registry'] },
  { name: 'approver:prod', roles: ['approver:prod'] },
  { name: 'approver:staging', roles: ['approver:staging'] },
  { name: 'ci of team platform', roles: ['ci'], teams: ['platform'] },
  { name: 'admin of team platform', roles: ['admin'], teams: ['platform'] },
];

/** What a caller must get from an operation. */
type Expected = 'unauthenticated' | 'forbidden' | 'forbidden or not found' | 'served';

function expected(access: Access, op: { app?: boolean; everyTeam?: boolean }, caller: Caller): Expected {
  if (access === 'public') return 'served';
  if (!caller.roles) return 'unauthenticated';
  if (!grants(caller.roles, access)) return 'forbidden';
  // Every decision here is on a promotion to prod: approver:staging passes the role check, not the environment's.
  if (access === 'approve' && !grants(caller.roles, 'admin') && !caller.roles.includes('approver:prod'))
    return 'forbidden';
  // The admin routes (tokens, gc and sync runs, redelivery) cover every team: a team-limited
  // admin could otherwise mint itself an unlimited token.
  if (caller.teams && (op.everyTeam || access === 'admin')) return 'forbidden';
  if (caller.teams && op.app) return 'forbidden or not found';
  return 'served';
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gantry-authz-matrix-'));
  registry = await startRegistry();
  store = await openStore({ dataDir: join(root, 'data') });
  app = createApp({
    config: parseTestConfig(config(registry.url)),
    env: {},
    authFile: '/nonexistent/auth.json',
    actor: 'test',
  });
  const holds: HoldDesk = {
    holds: () => Promise.resolve([]),
    release: (a, e) => Promise.reject(new GantryError('API_NOT_FOUND', `no hold on ${a} in ${e}`)),
  };
  server = await buildServer({
    store,
    app: () => app,
    desk: new FakeDesk(),
    holds,
    candidates: { register: () => Promise.resolve({ registered: true }) },
    now: () => new Date(clock),
    tokenCacheMs: 0,
    statusCache: { freshMs: 0, maxStaleMs: 0 },
    version: 'test',
  });
  await server.tokens.seedBootstrap(BOOTSTRAP, { actor: 'test', time: new Date(clock) });
  for (const c of CALLERS)
    if (c.roles)
      tokens[c.name] = (
        await createToken({ name: c.name, roles: c.roles, ...(c.teams && { teams: c.teams }) })
      ).token;
  tokens.requester = (await createToken({ name: 'requester', roles: ['ci'] })).token;
  // Expired: made two hours ago with a lifetime of one.
  clock -= 2 * HOUR;
  tokens.expired = (await createToken({ name: 'expired', roles: ['admin'], expiresIn: '1h' })).token;
  clock += 2 * HOUR;
  const revoked = await createToken({ name: 'revoked', roles: ['admin'] });
  expect((await call('DELETE', `/api/v1/tokens/${revoked.id}`, { token: BOOTSTRAP })).status).toBe(200);
  tokens.revoked = revoked.token;
}, 120_000);

afterAll(async () => {
  await server?.http.close();
  await app?.close();
  await store?.close();
  await registry?.stop();
  if (root) await rm(root, { recursive: true, force: true });
}, 60_000);

interface Operation {
  readonly key: string;
  readonly method: Method;
  readonly access: Access;
}

async function operations(): Promise<Operation[]> {
  const doc = (await call('GET', '/openapi.json')).body as unknown as {
    paths: Record<string, Record<string, { 'x-gantry-access': Access }>>;
  };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      key: `${method.toUpperCase()} ${path}`,
      method: method.toUpperCase() as Method,
      access: op['x-gantry-access'],
    })),
  );
}

describe('authorisation matrix', () => {
  it('answers every operation × every caller as its access level says, never 5xx', async () => {
    const ops = await operations();
    const secured = ops.filter((o) => o.access !== 'public');
    expect(secured.length).toBeGreaterThan(30);
    // Every operation has a request here; a new one must be added (and is then checked for every caller).
    expect(secured.map((o) => o.key).filter((k) => !(k in REQUESTS))).toEqual([]);
    const counts: Record<Expected, number> = {
      unauthenticated: 0,
      forbidden: 0,
      'forbidden or not found': 0,
      served: 0,
    };
    for (const op of secured) {
      const entry = REQUESTS[op.key];
      if (!entry) continue;
      for (const caller of CALLERS) {
        const want = expected(op.access, entry, caller);
        const req = await entry.make();
        const method: Method = entry.stream && want === 'served' ? 'HEAD' : op.method;
        const res = await call(method, req.url, {
          ...(caller.headers ? { headers: caller.headers() } : { token: tokens[caller.name] }),
          ...(req.body !== undefined && { body: req.body }),
        });
        const where = `${op.key} (${op.access}) as ${caller.name}: ${res.status} ${JSON.stringify(res.body)}`;
        expect(res.status, where).toBeLessThan(500);
        const code = res.body?.error?.code;
        switch (want) {
          case 'unauthenticated':
            expect([res.status, code], where).toEqual([401, 'API_UNAUTHENTICATED']);
            break;
          case 'forbidden':
            expect([res.status, code], where).toEqual([403, 'API_FORBIDDEN']);
            break;
          case 'forbidden or not found':
            expect(
              [
                [403, 'API_FORBIDDEN'],
                [404, 'API_NOT_FOUND'],
              ],
              where,
            ).toContainEqual([res.status, code]);
            break;
          case 'served':
            // The request is valid: a granted caller is served (2xx), or told the fake data lacks the thing.
            if (entry.absent) expect([res.status, code], where).toEqual([404, 'API_NOT_FOUND']);
            else expect(res.status, where).toBeLessThan(300);
            break;
        }
        counts[want] += 1;
      }
    }
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    expect(total).toBe(secured.length * CALLERS.length);
    console.log(
      `authz matrix: ${secured.length} routes × ${CALLERS.length} callers = ${total} checks ` +
        `(${counts.unauthenticated} unauthenticated, ${counts.forbidden} forbidden, ` +
        `${counts['forbidden or not found']} other team, ${counts.served} served; ` +
        `${ops.length - secured.length} public routes)`,
    );
    recordFigures('authz', {
      routes: secured.length,
      publicRoutes: ops.length - secured.length,
      callers: CALLERS.length,
      checks: total,
      unauthenticated: counts.unauthenticated,
      forbidden: counts.forbidden,
      otherTeam: counts['forbidden or not found'],
      served: counts.served,
    });
  }, 120_000);

  it('serves the public routes to anyone, with or without a bad token', async () => {
    const publicOps = (await operations()).filter((o) => o.access === 'public');
    expect(publicOps.map((o) => o.key).sort()).toEqual(['GET /healthz', 'GET /openapi.json', 'GET /readyz']);
    for (const op of publicOps)
      for (const caller of CALLERS.filter((c) => c.headers)) {
        const res = await call(op.method, op.key.split(' ')[1] ?? '', { headers: caller.headers?.() ?? {} });
        expect(res.status, `${op.key} as ${caller.name}`).toBe(200);
      }
  });
});

describe('decisions by environment and team', () => {
  it("lets approver:<env> decide only promotions to <env>, and only of its teams' applications", async () => {
    const decide = async (token: string, id: string, what: 'approvals' | 'rejections') =>
      call('POST', `/api/v1/promotions/${id}/${what}`, {
        token,
        body: what === 'rejections' ? { reason: 'no' } : {},
      });
    const staging = tokens['approver:staging'] ?? '';
    const prod = tokens['approver:prod'] ?? '';
    for (const what of ['approvals', 'rejections'] as const) {
      expect((await decide(staging, await freshPromotion('staging'), what)).status, what).toBe(201);
      expect((await decide(prod, await freshPromotion('prod'), what)).status, what).toBe(201);
      const cross = await decide(prod, await freshPromotion('staging'), what);
      expect([cross.status, cross.body?.error?.code], what).toEqual([403, 'API_FORBIDDEN']);
    }
    // An approver of prod limited to another team does not see web's promotion at all.
    const other = await createToken({ name: 'dave', roles: ['approver:prod'], teams: ['platform'] });
    const hidden = await decide(other.token, await freshPromotion('prod'), 'approvals');
    expect([hidden.status, hidden.body?.error?.code]).toEqual([404, 'API_NOT_FOUND']);
  });

  it('does not offer the admin routes to a team-limited admin token', async () => {
    for (const [name, admin] of [
      ['admin', true],
      ['admin of team platform', false],
    ] as const) {
      const res = await call('GET', '/api/v1/session', { token: tokens[name] });
      expect((res.body as unknown as { may: { admin: boolean } }).may.admin, name).toBe(admin);
    }
  });
});

describe('self-approval', () => {
  it('refuses the requester under any spelling of the name, and lets another person approve', async () => {
    const alice = await createToken({ name: 'Alice', roles: ['ci'] });
    const id = (
      await call('POST', '/api/v1/promotions', {
        token: alice.token,
        body: { app: 'web', version: '1.4.2', to: 'prod' },
      })
    ).body as unknown as { id: string };
    // Token names may not start with white space (refused at creation) …
    const leading = await call('POST', '/api/v1/tokens', {
      token: BOOTSTRAP,
      body: { name: ' alice', roles: ['approver:prod'] },
    });
    expect([leading.status, leading.body?.error?.code]).toEqual([400, 'API_REQUEST_INVALID']);
    // … but trailing white space, case and compatibility forms are allowed, and all are Alice.
    for (const name of ['Alice', 'ALICE', 'alice ', 'alice\t', 'Ａｌｉｃｅ']) {
      const approver = await createToken({ name, roles: ['approver:prod'] });
      const res = await call('POST', `/api/v1/promotions/${id.id}/approvals`, {
        token: approver.token,
        body: {},
      });
      expect([res.status, res.body?.error?.code], JSON.stringify(name)).toEqual([
        403,
        'PROMOTION_SELF_APPROVAL',
      ]);
    }
    const bob = await createToken({ name: 'Bob', roles: ['approver:prod'] });
    const res = await call('POST', `/api/v1/promotions/${id.id}/approvals`, { token: bob.token, body: {} });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  });
});
