/**
 * The promotion routes (/api/v1/promotions, /releases, /rollbacks, the event stream) over a fake
 * in-memory desk, on a real store (PGlite: tokens, ledger and the jobs the queue-depth gauge
 * counts). Access control is walked over every route the OpenAPI document lists, so a route
 * added later without the right access level fails here. One event-stream test runs over a real
 * socket.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { App } from '../../src/app.js';
import {
  buildServer,
  createServerMetrics,
  type GantryServer,
  type ServerMetrics,
} from '../../src/server/index.js';
import { JobQueue, type Store } from '../../src/store/index.js';
import {
  injectApiToken,
  injectRequest,
  startInProcessServer,
  type InjectRequestOptions,
  type InProcessServer,
} from '../helpers/in-process.js';
import { FakeDesk } from './fake-desk.js';
import { sseEvents } from '../helpers/sse.js';

const BOOTSTRAP = `gty_${'b'.repeat(64)}`;
const DIGEST = `sha256:${'d'.repeat(64)}`;

const CONFIG = `registries:
  dev: { url: "http://127.0.0.1:1" }
environments:
  dev: { registry: dev, prefix: dev }
  staging: { registry: dev, prefix: staging, from: [dev] }
  prod: { registry: dev, prefix: prod, from: [staging] }
applications: [web, api]
teams:
  payments: [web]
  platform: [api]
`;

type Method = 'GET' | 'POST' | 'DELETE';

interface Reply {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  readonly body: Record<string, unknown> | undefined;
  readonly text: string;
}

let world: InProcessServer | undefined;
let store: Store;
let app: App;
let desk: FakeDesk;
let metrics: ServerMetrics;
let server: GantryServer;
let clock = Date.UTC(2026, 5, 1, 12);
const tokens: Record<string, string> = {};

const call = (
  method: Method,
  url: string,
  options: InjectRequestOptions = {},
  target: GantryServer = server,
): Promise<Reply> => injectRequest(target, method, url, options);

const createToken = (body: Record<string, unknown>): Promise<{ id: string; token: string }> =>
  injectApiToken(server, BOOTSTRAP, body);

/** Requests a promotion of `app` to `to` as `token` and returns its id. */
async function promote(token: string, app = 'web', to = 'prod'): Promise<string> {
  const res = await call('POST', '/api/v1/promotions', { token, body: { app, version: '1.4.2', to } });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return (res.body as { id: string }).id;
}

beforeAll(async () => {
  desk = new FakeDesk();
  metrics = createServerMetrics();
  world = await startInProcessServer({
    tmpPrefix: 'gantry-server-promotions-',
    config: CONFIG,
    bootstrapToken: BOOTSTRAP,
    now: () => new Date(clock),
    server: { desk, metrics },
    tokens: {
      ci: { name: 'ci-web', roles: ['ci'], groups: ['builders'] },
      ciPayments: { name: 'ci-payments', roles: ['ci'], teams: ['payments'] },
      viewer: { name: 'viewer', roles: ['viewer'] },
      viewerPlatform: { name: 'viewer-platform', roles: ['viewer'], teams: ['platform'] },
      prodApprover: { name: 'carol', roles: ['approver:prod'], groups: ['operations'] },
      stagingApprover: { name: 'bob', roles: ['approver:staging'] },
      platformApprover: { name: 'dave', roles: ['approver:prod'], teams: ['platform'] },
      // Requests as "Alice" and approves as " alice": one person (normalised identities).
      alice: { name: 'Alice', roles: ['ci', 'approver:prod'] },
      aliceAgain: { name: 'alice', roles: ['approver:prod'] },
    },
  });
  ({ store, app, server } = world);
  for (const [key, made] of Object.entries(world.tokens)) tokens[key] = made.token;
}, 120_000);

afterAll(async () => {
  await world?.close();
}, 60_000);

describe('access control on every route', () => {
  it('answers 401 without a valid token and 403 without the role, on every route the document lists', async () => {
    const expiring = await createToken({ name: 'expiring', roles: ['admin'], expiresIn: '1h' });
    const revoked = await createToken({ name: 'revoked', roles: ['admin'] });
    expect((await call('DELETE', `/api/v1/tokens/${revoked.id}`, { token: BOOTSTRAP })).status).toBe(200);
    clock += 2 * 3_600_000;
    const doc = (await call('GET', '/openapi.json')).body as {
      paths: Record<string, Record<string, { security?: unknown; 'x-gantry-access'?: string }>>;
    };
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({
        method: method.toUpperCase() as Method,
        // Authentication and roles run before parameters are parsed: any value reaches the route.
        url: path.replace(/\{[^}]+\}/g, 'sample'),
        access: op['x-gantry-access'],
        secured: op.security !== undefined,
      })),
    );
    // The promotion routes are there (the desk is wired) …
    expect(routes.map((r) => `${r.method} ${r.url}`)).toEqual(
      expect.arrayContaining([
        'POST /api/v1/promotions',
        'GET /api/v1/promotions',
        'GET /api/v1/promotions/sample',
        'GET /api/v1/promotions/sample/events',
        'POST /api/v1/promotions/sample/approvals',
        'POST /api/v1/promotions/sample/rejections',
        'POST /api/v1/promotions/sample/cancel',
        'POST /api/v1/releases',
        'POST /api/v1/rollbacks',
        'GET /api/v1/session',
        'GET /api/v1/pipeline',
        'GET /api/v1/applications/sample/candidates/sample',
        'GET /api/v1/events',
        'GET /api/v1/lifecycle/runs',
        'GET /api/v1/lifecycle/runs/sample',
        'GET /api/v1/lifecycle/schedules',
        'POST /api/v1/lifecycle/runs',
      ]),
    );
    // … and only these three need no token.
    expect(
      routes
        .filter((r) => r.access === 'public')
        .map((r) => r.url)
        .sort(),
    ).toEqual(['/healthz', '/openapi.json', '/readyz']);
    const bad: [string, Record<string, string>][] = [
      ['missing', {}],
      ['malformed', { authorization: 'Basic dXNlcjpwYXNz' }],
      ['not a gantry token', { authorization: `Bearer ${'a'.repeat(43)}` }],
      ['unknown', { authorization: `Bearer gty_${'x'.repeat(43)}` }],
      ['expired', { authorization: `Bearer ${expiring.token}` }],
      ['revoked', { authorization: `Bearer ${revoked.token}` }],
    ];
    // Which tokens each access level must refuse with 403.
    const refused: Record<string, string[]> = {
      read: [],
      promote: ['viewer', 'prodApprover'],
      approve: ['viewer', 'ci'],
      notify: ['viewer', 'prodApprover'],
      deploy: ['viewer', 'prodApprover'],
      admin: ['viewer', 'ci', 'prodApprover'],
    };
    let checked = 0;
    for (const r of routes.filter((x) => x.access !== 'public')) {
      const where = `${r.method} ${r.url} (${String(r.access)})`;
      expect(r.secured, where).toBe(true);
      expect(Object.keys(refused), `${where}: an access level this test knows`).toContain(r.access);
      // Writing is never open to every role.
      if (r.method !== 'GET')
        expect(refused[r.access ?? '']?.length, `${where} is a write`).toBeGreaterThan(0);
      for (const [what, headers] of bad) {
        const res = await call(r.method, r.url, { headers, ...(r.method === 'POST' && { body: {} }) });
        expect(res.status, `${where} with a ${what} token`).toBe(401);
        expect(res.body).toMatchObject({ error: { code: 'API_UNAUTHENTICATED' } });
        checked += 1;
      }
      for (const who of refused[r.access ?? ''] ?? []) {
        const res = await call(r.method, r.url, {
          token: tokens[who],
          ...(r.method === 'POST' && { body: {} }),
        });
        expect(res.status, `${where} as ${who}`).toBe(403);
        expect(res.body).toMatchObject({ error: { code: 'API_FORBIDDEN' } });
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(100);
    clock -= 2 * 3_600_000;
  });

  it('does not serve the promotion routes without a desk', async () => {
    const bare = await buildServer({ store, app: () => app });
    try {
      for (const [method, url] of [
        ['POST', '/api/v1/promotions'],
        ['GET', '/api/v1/promotions'],
        ['POST', '/api/v1/releases'],
        ['POST', '/api/v1/rollbacks'],
      ] as const) {
        const res = await call(
          method,
          url,
          { token: BOOTSTRAP, ...(method === 'POST' && { body: {} }) },
          bare,
        );
        expect(res.status, `${method} ${url}`).toBe(404);
        expect(res.body).toMatchObject({ error: { code: 'API_NOT_FOUND' } });
      }
    } finally {
      await bare.http.close();
    }
  });
});

describe('promotions', () => {
  it('requests a promotion: 202, Location, and the caller as the desk sees it', async () => {
    const res = await call('POST', '/api/v1/promotions', {
      token: tokens.ci,
      body: { app: 'web', digest: DIGEST, to: 'prod', from: 'staging', override: 'hotfix INC-42' },
    });
    expect(res.status).toBe(202);
    const body = res.body as { id: string };
    expect(body).toMatchObject({
      kind: 'promotion',
      state: 'awaiting-approval',
      environment: 'prod',
      from: 'staging',
    });
    expect(res.headers.location).toBe(`/api/v1/promotions/${body.id}`);
    const call0 = desk.calls.at(-1);
    expect(call0).toMatchObject({
      method: 'promote',
      args: [{ app: 'web', digest: DIGEST, to: 'prod', from: 'staging', override: 'hotfix INC-42' }],
    });
    expect(call0?.caller?.identity).toBe('ci-web');
    expect(call0?.caller?.groups).toEqual(['builders']);
    expect(call0?.caller?.actor).toMatch(/^ci-web \(tok_[0-9a-f]{16}\)$/);
    const got = await call('GET', `/api/v1/promotions/${body.id}`, { token: tokens.viewer });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      id: body.id,
      state: 'awaiting-approval',
      requestedBy: call0?.caller?.actor,
    });
  });

  it('answers 400 API_REQUEST_INVALID, never 5xx, to malformed requests', async () => {
    const cases: [Method, string, { body?: unknown; payload?: string; headers?: Record<string, string> }][] =
      [
        ['POST', '/api/v1/promotions', { body: { app: 'web', to: 'prod' } }],
        ['POST', '/api/v1/promotions', { body: { app: 'web', version: '1.0', digest: DIGEST, to: 'prod' } }],
        ['POST', '/api/v1/promotions', { body: { app: 'web', version: '1.0', to: 'prod', extra: true } }],
        ['POST', '/api/v1/promotions', { body: { app: 'web', digest: 'sha256:abc', to: 'prod' } }],
        ['POST', '/api/v1/promotions', { body: { app: 'web', version: '../x', to: 'prod' } }],
        ['POST', '/api/v1/promotions', { body: { app: '../web', version: '1.0', to: 'prod' } }],
        ['POST', '/api/v1/promotions', { body: { app: 'web', version: '1.0', to: 'prod', override: '' } }],
        ['POST', '/api/v1/promotions', { body: { app: 'web', version: 1, to: 'prod' } }],
        ['POST', '/api/v1/promotions', { body: [] }],
        [
          'POST',
          '/api/v1/promotions',
          { payload: '{"app":', headers: { 'content-type': 'application/json' } },
        ],
        ['POST', '/api/v1/releases', { body: { to: 'prod', applications: [] } }],
        [
          'POST',
          '/api/v1/releases',
          {
            body: {
              to: 'prod',
              applications: [
                { app: 'web', version: '1' },
                { app: 'web', version: '2' },
              ],
            },
          },
        ],
        ['POST', '/api/v1/releases', { body: { to: 'prod', applications: [{ app: 'web' }] } }],
        ['POST', '/api/v1/rollbacks', { body: { app: 'web' } }],
        ['POST', '/api/v1/rollbacks', { body: { app: 'web', env: 'prod', to: 'sha256:zz' } }],
        ['POST', '/api/v1/promotions/prm_000001/rejections', { body: {} }],
        ['POST', '/api/v1/promotions/prm_000001/rejections', { body: { reason: ' ' } }],
        ['POST', '/api/v1/promotions/prm_000001/approvals', { body: { comment: 'ok', by: 'me' } }],
        ['POST', '/api/v1/promotions/prm_000001/cancel', { body: { reason: 7 } }],
        ['GET', '/api/v1/promotions/not%20an%20id', {}],
        ['GET', '/api/v1/promotions/not%20an%20id/events', {}],
        ['GET', '/api/v1/promotions?limit=0', {}],
        ['GET', '/api/v1/promotions?limit=501', {}],
        ['GET', '/api/v1/promotions?state=done', {}],
        ['GET', '/api/v1/promotions?page=2', {}],
        ['GET', '/api/v1/promotions?before=', {}],
      ];
    for (const [method, url, options] of cases) {
      const res = await call(method, url, { token: BOOTSTRAP, ...options });
      expect(res.status, `${method} ${url} ${JSON.stringify(options)}`).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'API_REQUEST_INVALID' } });
      expect(res.text).not.toMatch(/\n\s+at /);
    }
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), async (body) => {
        const res = await call('POST', '/api/v1/promotions', {
          token: BOOTSTRAP,
          payload: JSON.stringify(body),
          headers: { 'content-type': 'application/json' },
        });
        expect([202, 400]).toContain(res.status);
      }),
      { numRuns: 60 },
    );
  });

  it("limits a team token to its teams' applications and hides other teams' promotions as unknown", async () => {
    const web = await promote(tokens.ci!, 'web');
    const api = await promote(tokens.ci!, 'api');
    const foreign = await call('POST', '/api/v1/promotions', {
      token: tokens.ciPayments,
      body: { app: 'api', version: '1.0', to: 'prod' },
    });
    expect(foreign.status).toBe(403);
    expect(foreign.body).toMatchObject({ error: { code: 'API_FORBIDDEN' } });
    expect((await call('GET', `/api/v1/promotions/${web}`, { token: tokens.ciPayments })).status).toBe(200);
    const hidden = await call('GET', `/api/v1/promotions/${api}`, { token: tokens.ciPayments });
    const unknown = await call('GET', '/api/v1/promotions/prm_999999', { token: tokens.ciPayments });
    expect(hidden.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect((hidden.body as { error: { message: string } }).error.message).toBe(`no promotion ${api}`);
    expect(hidden.body).toMatchObject({ error: { code: 'API_NOT_FOUND' } });
    expect((await call('GET', `/api/v1/promotions/${api}/events`, { token: tokens.ciPayments })).status).toBe(
      404,
    );
    expect(
      (await call('POST', `/api/v1/promotions/${api}/cancel`, { token: tokens.ciPayments, body: {} })).status,
    ).toBe(404);
    expect(
      (
        await call('POST', `/api/v1/promotions/${web}/approvals`, {
          token: tokens.platformApprover,
          body: {},
        })
      ).status,
    ).toBe(404);
    const list = await call('GET', '/api/v1/promotions?env=prod', { token: tokens.ciPayments });
    expect(list.status).toBe(200);
    const apps = (
      list.body as { promotions: { applications: { application: string }[] }[] }
    ).promotions.flatMap((p) => p.applications.map((a) => a.application));
    expect(apps.length).toBeGreaterThan(0);
    expect(new Set(apps)).toEqual(new Set(['web']));
    expect(desk.calls.at(-1)).toMatchObject({
      method: 'list',
      args: [{ env: 'prod', apps: new Set(['web']) }],
    });
    const otherApp = await call('GET', '/api/v1/promotions?app=api', { token: tokens.ciPayments });
    expect(otherApp.status).toBe(403);
    const all = await call('GET', '/api/v1/promotions?env=prod', { token: tokens.viewer });
    expect(
      new Set(
        (all.body as { promotions: { applications: { application: string }[] }[] }).promotions.flatMap((p) =>
          p.applications.map((a) => a.application),
        ),
      ),
    ).toEqual(new Set(['web', 'api']));
    const release = await call('POST', '/api/v1/releases', {
      token: tokens.ciPayments,
      body: {
        to: 'prod',
        applications: [
          { app: 'web', version: '1.0' },
          { app: 'api', version: '1.0' },
        ],
      },
    });
    expect(release.status).toBe(403);
    const rollback = await call('POST', '/api/v1/rollbacks', {
      token: tokens.ciPayments,
      body: { app: 'api', env: 'prod' },
    });
    expect(rollback.status).toBe(403);
  });

  it('pages the list with limit and before', async () => {
    for (let i = 0; i < 3; i += 1) await promote(tokens.ci!, 'web', 'staging');
    const first = await call('GET', '/api/v1/promotions?env=staging&limit=2', { token: tokens.viewer });
    const page = first.body as { promotions: { id: string }[]; next: string };
    expect(page.promotions).toHaveLength(2);
    expect(page.next).toBe(page.promotions[1]?.id);
    const second = await call('GET', `/api/v1/promotions?env=staging&limit=2&before=${page.next}`, {
      token: tokens.viewer,
    });
    const rest = (second.body as { promotions: { id: string }[]; next?: string }).promotions;
    expect(rest.length).toBeGreaterThanOrEqual(1);
    expect(rest.map((p) => p.id)).not.toContain(page.promotions[0]?.id);
    const byState = await call('GET', '/api/v1/promotions?state=completed', { token: tokens.viewer });
    expect((byState.body as { promotions: unknown[] }).promotions).toEqual([]);
  });
});

describe('approvals, rejections, cancellations', () => {
  it('lets admin and approver:<target> approve, and refuses an approver of another environment', async () => {
    const id = await promote(tokens.ci!);
    const wrongEnv = await call('POST', `/api/v1/promotions/${id}/approvals`, {
      token: tokens.stagingApprover,
      body: { comment: 'lgtm' },
    });
    expect(wrongEnv.status).toBe(403);
    expect(wrongEnv.body).toMatchObject({ error: { code: 'API_FORBIDDEN' } });
    expect((wrongEnv.body as { error: { message: string } }).error.message).toContain('approver:prod');
    const ok = await call('POST', `/api/v1/promotions/${id}/approvals`, {
      token: tokens.prodApprover,
      body: { comment: 'lgtm' },
    });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({
      id,
      state: 'approved',
      decisions: [{ decision: 'approved', comment: 'lgtm' }],
    });
    expect(desk.calls.at(-1)).toMatchObject({
      method: 'approve',
      caller: { identity: 'carol', groups: ['operations'] },
      args: [id, 'lgtm'],
    });
    // An approval without a body at all (curl -X POST) is an approval without comment.
    const other = await promote(tokens.ci!);
    const bare = await call('POST', `/api/v1/promotions/${other}/approvals`, { token: BOOTSTRAP });
    expect(bare.status).toBe(201);
    expect(desk.calls.at(-1)).toMatchObject({ method: 'approve', args: [other, undefined] });
    const unknown = await call('POST', '/api/v1/promotions/prm_999999/approvals', {
      token: tokens.prodApprover,
      body: {},
    });
    expect(unknown.status).toBe(404);
  });

  it('refuses self-approval with 403 PROMOTION_SELF_APPROVAL, identities compared normalised', async () => {
    const id = await promote(tokens.alice!);
    for (const token of [tokens.alice, tokens.aliceAgain]) {
      const res = await call('POST', `/api/v1/promotions/${id}/approvals`, { token, body: {} });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({
        error: { code: 'PROMOTION_SELF_APPROVAL', requestId: expect.any(String) as unknown },
      });
      expect((res.body as { error: { message: string } }).error.message).toContain('cannot approve');
    }
    expect((await call('GET', `/api/v1/promotions/${id}`, { token: tokens.viewer })).body).toMatchObject({
      state: 'awaiting-approval',
      decisions: [],
    });
  });

  it('rejects with a reason (201), cancels (202), and answers 409 once a promotion has ended', async () => {
    const rejected = await promote(tokens.ci!);
    const res = await call('POST', `/api/v1/promotions/${rejected}/rejections`, {
      token: tokens.prodApprover,
      body: { reason: 'no change ticket' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ state: 'rejected', reason: 'no change ticket' });
    const wrongEnv = await call('POST', `/api/v1/promotions/${rejected}/rejections`, {
      token: tokens.stagingApprover,
      body: { reason: 'x' },
    });
    expect(wrongEnv.status).toBe(403);
    const late = await call('POST', `/api/v1/promotions/${rejected}/approvals`, {
      token: tokens.prodApprover,
      body: {},
    });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ error: { code: 'PROMOTION_STATE_CONFLICT' } });
    const cancelled = await promote(tokens.ci!);
    const cancel = await call('POST', `/api/v1/promotions/${cancelled}/cancel`, {
      token: tokens.ci,
      body: { reason: 'wrong build' },
    });
    expect(cancel.status).toBe(202);
    expect(cancel.body).toMatchObject({ state: 'cancelled', reason: 'wrong build' });
    const again = await call('POST', `/api/v1/promotions/${cancelled}/cancel`, { token: tokens.ci });
    expect(again.status).toBe(409);
  });
});

describe('releases and rollbacks', () => {
  it('requests a release (202, Location) and rolls back (200)', async () => {
    const release = await call('POST', '/api/v1/releases', {
      token: tokens.ci,
      body: {
        to: 'prod',
        applications: [
          { app: 'web', version: '1.4.2' },
          { app: 'api', digest: DIGEST },
        ],
      },
    });
    expect(release.status).toBe(202);
    const body = release.body as { id: string; applications: { application: string }[] };
    expect(body).toMatchObject({ kind: 'release', environment: 'prod' });
    expect(body.applications.map((a) => a.application)).toEqual(['web', 'api']);
    expect(release.headers.location).toBe(`/api/v1/promotions/${body.id}`);
    const unknownEnv = await call('POST', '/api/v1/releases', {
      token: tokens.ci,
      body: { to: 'dev', applications: [{ app: 'web', version: '1' }] },
    });
    expect(unknownEnv.status).toBe(409);
    expect(unknownEnv.body).toMatchObject({ error: { code: 'PROMOTION_NOT_ALLOWED' } });
    const rollback = await call('POST', '/api/v1/rollbacks', {
      token: tokens.ci,
      body: { app: 'web', env: 'prod', to: '1.4.1' },
    });
    expect(rollback.status).toBe(200);
    expect(rollback.body).toMatchObject({ application: 'web', environment: 'prod', tags: ['latest'] });
    expect(desk.calls.at(-1)).toMatchObject({
      method: 'rollback',
      args: [{ app: 'web', env: 'prod', to: '1.4.1' }],
      caller: { identity: 'ci-web' },
    });
  });
});

describe('event stream', () => {
  it('streams state, progress and end over a socket, then closes and unsubscribes', async () => {
    const live = await buildServer({ store, app: () => app, desk });
    try {
      const address = await live.http.listen({ host: '127.0.0.1', port: 0 });
      const id = await promote(tokens.ci!);
      const res = await fetch(`${address}/api/v1/promotions/${id}/events`, {
        headers: { authorization: `Bearer ${tokens.viewer}` },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const events: { event: string; data: unknown }[] = [];
      for await (const e of sseEvents(res.body)) {
        events.push(e);
        if (events.length === 1) {
          // The runtime moves on: approval, a copy, completion.
          desk.setState(id, 'approved');
          desk.setState(id, 'copying');
          desk.emit({
            type: 'progress',
            id,
            application: 0,
            bytesTransferred: 512,
            bytesTotal: 1024,
            blobsDone: 1,
            blobsTotal: 2,
          });
          desk.setState(id, 'completed');
        }
      }
      expect(events.map((e) => e.event)).toEqual(['state', 'state', 'state', 'progress', 'state', 'end']);
      expect(events.map((e) => (e.data as { state?: string }).state)).toEqual([
        'awaiting-approval',
        'approved',
        'copying',
        undefined,
        'completed',
        undefined,
      ]);
      expect(events[3]?.data).toMatchObject({ type: 'progress', bytesTransferred: 512, blobsTotal: 2 });
      expect(events[5]?.data).toMatchObject({ type: 'end', id, promotion: { id, state: 'completed' } });
      expect(desk.listeners(id)).toBe(0);
    } finally {
      await live.http.close();
    }
  });

  it('unsubscribes when the client goes away, and server shutdown ends open streams', async () => {
    const live = await buildServer({ store, app: () => app, desk });
    let closed = false;
    try {
      const address = await live.http.listen({ host: '127.0.0.1', port: 0 });
      const gone = await promote(tokens.ci!);
      const abort = new AbortController();
      const first = await fetch(`${address}/api/v1/promotions/${gone}/events`, {
        headers: { authorization: `Bearer ${tokens.viewer}` },
        signal: abort.signal,
      });
      const reader = sseEvents(first.body);
      expect((await reader.next()).value).toMatchObject({
        event: 'state',
        data: { state: 'awaiting-approval' },
      });
      expect(desk.listeners(gone)).toBe(1);
      abort.abort();
      await vi.waitFor(() => expect(desk.listeners(gone)).toBe(0));

      const open = await promote(tokens.ci!);
      const second = await fetch(`${address}/api/v1/promotions/${open}/events`, {
        headers: { authorization: `Bearer ${tokens.viewer}` },
      });
      const events = sseEvents(second.body);
      expect((await events.next()).value).toMatchObject({ event: 'state' });
      // close() would wait for this client for ever if the stream were not ended.
      await live.http.close();
      closed = true;
      expect((await events.next()).done).toBe(true);
      expect(desk.listeners(open)).toBe(0);
    } finally {
      if (!closed) await live.http.close();
    }
  });

  it('sends state and end at once for an ended promotion (in process)', async () => {
    const id = await promote(tokens.ci!);
    desk.setState(id, 'failed');
    const res = await call('GET', `/api/v1/promotions/${id}/events`, { token: tokens.viewer });
    expect(res.status).toBe(200);
    expect(res.text).toBe(
      `event: state\ndata: ${JSON.stringify({ type: 'state', id, state: 'failed', time: (await desk.get(id))?.updatedAt })}\n\n` +
        `event: end\ndata: ${JSON.stringify({ type: 'end', id, promotion: await desk.get(id) })}\n\n`,
    );
    expect(desk.listeners(id)).toBe(0);
  });
});

describe('event stream ordering', () => {
  it('sends what arrives while the state is read, except states the read already shows', async () => {
    const id = await promote(tokens.ci!);
    desk.setState(id, 'approved');
    const read = desk.get.bind(desk);
    const spy = vi.spyOn(desk, 'get').mockImplementationOnce(async (x) => {
      // Reported while the route reads: two states the read shows, then a newer state and progress.
      desk.emit({ type: 'state', id, state: 'gated', time: 't0' });
      desk.emit({ type: 'state', id, state: 'approved', time: 't1' });
      const view = await read(x);
      desk.emit({ type: 'state', id, state: 'copying', time: 't2' });
      desk.emit({
        type: 'progress',
        id,
        application: 0,
        bytesTransferred: 1,
        bytesTotal: 2,
        blobsDone: 0,
        blobsTotal: 1,
      });
      setImmediate(() => desk.setState(id, 'completed'));
      return view;
    });
    try {
      const res = await call('GET', `/api/v1/promotions/${id}/events`, { token: tokens.viewer });
      const frames = res.text
        .split('\n\n')
        .filter(Boolean)
        .map((f) => JSON.parse(f.split('\n')[1]!.slice('data: '.length)) as { type: string; state?: string });
      expect(frames.map((f) => `${f.type}${f.state ? `:${f.state}` : ''}`)).toEqual([
        'state:approved',
        'state:copying',
        'progress',
        'state:completed',
        'end',
      ]);
      expect(desk.listeners(id)).toBe(0);
    } finally {
      spy.mockRestore();
    }
  });

  it('answers HEAD with the stream headers and no subscription', async () => {
    const id = await promote(tokens.ci!);
    const res = await server.http.inject({
      method: 'HEAD',
      url: `/api/v1/promotions/${id}/events`,
      headers: { authorization: `Bearer ${tokens.viewer}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(desk.listeners(id)).toBe(0);
  });
});

describe('metrics', () => {
  it('exports promotion, copy, registry-error and queue-depth metrics', async () => {
    const queue = new JobQueue(store.db);
    await queue.enqueue({ kind: 'promotion', payload: { n: 1 } });
    await queue.enqueue({ kind: 'promotion', payload: { n: 2 } });
    metrics.observer.entered('requested');
    metrics.observer.entered('completed');
    metrics.observer.entered('completed');
    metrics.observer.step('copying', 1500);
    metrics.observer.step('copying', Number.NaN);
    metrics.observer.copied('prod.example.com', 4096);
    metrics.observer.copied('prod.example.com', -1);
    metrics.observer.registryError('prod.example.com', 'REGISTRY_TOO_MANY_REQUESTS');
    const res = await call('GET', '/metrics', { token: tokens.viewer });
    expect(res.status).toBe(200);
    const text = res.text;
    expect(text).toMatch(/^gantry_promotions_total\{state="completed"\} 2$/m);
    expect(text).toMatch(/^gantry_promotions_total\{state="cancelled"\} 0$/m);
    expect(text).toMatch(/^gantry_promotion_step_seconds_count\{state="copying"\} 1$/m);
    expect(text).toMatch(/^gantry_promotion_step_seconds_sum\{state="copying"\} 1.5$/m);
    expect(text).toMatch(/^gantry_copied_bytes_total\{registry="prod.example.com"\} 4096$/m);
    expect(text).toMatch(
      /^gantry_registry_errors_total\{registry="prod.example.com",code="REGISTRY_TOO_MANY_REQUESTS"\} 1$/m,
    );
    expect(text).toMatch(/^gantry_queue_depth\{state="queued"\} 2$/m);
    expect(text).toMatch(/^gantry_queue_depth\{state="running"\} 0$/m);
    expect(text).toMatch(/^gantry_http_requests_total\{/m);
    // One server per metrics object: a second one is refused clearly.
    await expect(buildServer({ store, app: () => app, metrics })).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});
