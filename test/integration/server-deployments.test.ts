/**
 * The deployment routes in process (Fastify `inject`) on a real store (PGlite): who may report
 * (admin, ci, deployer; 401 without a token, 403 for viewers and approvers and for another team's
 * application), what a report must look like (400 naming the field), the ledger entry written with
 * it, reading the history back (team-scoped), and the reports as `targets` of the status cells.
 * Drift against real registries is proven end to end in serve-deployments.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GantryServer } from '../../src/server/index.js';
import { startInProcessServer, type InProcessServer } from '../helpers/in-process.js';

const BOOTSTRAP = `gty_${'b'.repeat(64)}`;
const DIGEST = `sha256:${'d'.repeat(64)}`;

const CONFIG = `registries:
  dev: { url: "http://127.0.0.1:1" }
environments:
  dev: { registry: dev, prefix: dev }
  prod: { registry: dev, prefix: prod, from: [dev], tags: { floating: [current] } }
applications: [web, api]
teams:
  payments: [web]
  platform: [api]
`;

interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

let world: InProcessServer | undefined;
let server: GantryServer;
const clock = Date.UTC(2026, 5, 1, 12);
const tokens: Record<string, string> = {};

async function call(method: 'GET' | 'POST', url: string, token?: string, body?: unknown): Promise<Reply> {
  const res = await server.http.inject({
    method,
    url,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    ...(body !== undefined && { payload: body as Record<string, unknown> }),
  });
  return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
}

const report = (token: string | undefined, body: Record<string, unknown>): Promise<Reply> =>
  call('POST', '/api/v1/deployments', token, body);

beforeAll(async () => {
  world = await startInProcessServer({
    tmpPrefix: 'gantry-server-deployments-',
    config: CONFIG,
    bootstrapToken: BOOTSTRAP,
    now: () => new Date(clock),
    tokens: {
      deployer: { name: 'argocd', roles: ['deployer'] },
      ci: { name: 'ci', roles: ['ci'] },
      viewer: { name: 'viewer', roles: ['viewer'] },
      approver: { name: 'carol', roles: ['approver:prod'] },
      payments: { name: 'argocd-payments', roles: ['deployer'], teams: ['payments'] },
      platformViewer: { name: 'viewer-platform', roles: ['viewer'], teams: ['platform'] },
    },
  });
  ({ server } = world);
  for (const [key, made] of Object.entries(world.tokens)) tokens[key] = made.token;
}, 120_000);

afterAll(async () => {
  await world?.close();
}, 60_000);

describe('POST /api/v1/deployments', () => {
  const valid = { env: 'prod', app: 'web', digest: DIGEST, target: 'cluster-a' };

  it('records a report: 201 with who and when, and a deployment.reported ledger entry', async () => {
    const res = await report(tokens.deployer, valid);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      environment: 'prod',
      application: 'web',
      target: 'cluster-a',
      digest: DIGEST,
      reportedBy: expect.stringMatching(/^argocd \(tok_[0-9a-f]{16}\)$/) as unknown,
      reportedAt: new Date(clock).toISOString(),
    });
    const ledger = await call('GET', '/api/v1/ledger?subject=deployments/prod/web/cluster-a', tokens.viewer);
    expect(ledger.status).toBe(200);
    expect(ledger.body.entries).toEqual([
      expect.objectContaining({
        type: 'deployment.reported',
        actor: res.body.reportedBy,
        payload: {
          id: res.body.id,
          environment: 'prod',
          application: 'web',
          target: 'cluster-a',
          digest: DIGEST,
        },
      }),
    ]);
    expect((await call('GET', '/api/v1/ledger/verify', tokens.viewer)).body).toMatchObject({ ok: true });
  });

  it('accepts admin, ci and deployer; refuses viewers and approvers (403) and callers without a token (401)', async () => {
    for (const who of [BOOTSTRAP, tokens.ci, tokens.deployer])
      expect((await report(who, { ...valid, target: 'cluster-b' })).status).toBe(201);
    for (const who of [tokens.viewer, tokens.approver]) {
      const res = await report(who, valid);
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: { code: 'API_FORBIDDEN' } });
    }
    const anonymous = await report(undefined, valid);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ error: { code: 'API_UNAUTHENTICATED' } });
  });

  it("limits a team token to its team's applications (403, also for names that do not exist)", async () => {
    expect((await report(tokens.payments, { ...valid, target: 'eu-1' })).status).toBe(201);
    for (const appName of ['api', 'nope']) {
      const res = await report(tokens.payments, { ...valid, app: appName });
      expect(res.status, appName).toBe(403);
      expect(res.body).toMatchObject({ error: { code: 'API_FORBIDDEN' } });
    }
  });

  it.each([
    ['a digest that is not one', { digest: 'sha256:abc' }, 'digest'],
    ['an upper-case digest', { digest: `sha256:${'D'.repeat(64)}` }, 'digest'],
    ['a tag instead of a digest', { digest: '1.4.2' }, 'digest'],
    ['a target with a space', { target: 'cluster a' }, 'target'],
    ['a target starting with a slash', { target: '/cluster' }, 'target'],
    ['a target of 129 characters', { target: 'a'.repeat(129) }, 'target'],
    ['an empty target', { target: '' }, 'target'],
    ['a missing target', { target: undefined }, 'target'],
    ['an environment name with a slash', { env: 'prod/x' }, 'env'],
    ['an unknown environment', { env: 'qa' }, 'env: there is no environment "qa"'],
    ['an unknown application', { app: 'nope' }, 'app: there is no application "nope"'],
    ['an unknown field', { extra: 1 }, 'extra'],
  ])('answers 400 API_REQUEST_INVALID for %s', async (_what, change, mentions) => {
    const res = await report(tokens.deployer, { ...valid, ...change });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'API_REQUEST_INVALID' } });
    expect((res.body.error as { message: string }).message).toContain(mentions);
  });

  it('takes targets with dots, colons and slashes', async () => {
    const res = await report(tokens.deployer, { ...valid, target: 'eu-west-1/k8s:prod.a_b' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  });
});

describe('GET /api/v1/deployments and the status targets', () => {
  it("reads the history back newest first, filtered, limited to the token's teams", async () => {
    const all = await call('GET', '/api/v1/deployments?env=prod&app=web&target=cluster-a', tokens.viewer);
    expect(all.status).toBe(200);
    const rows = all.body.deployments as { target: string; application: string }[];
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.target === 'cluster-a' && r.application === 'web')).toBe(true);
    const platform = await call('GET', '/api/v1/deployments', tokens.platformViewer);
    expect(platform.status).toBe(200);
    expect(platform.body.deployments).toEqual([]);
    const foreign = await call('GET', '/api/v1/deployments?app=web', tokens.platformViewer);
    expect(foreign.status).toBe(403);
    const bad = await call('GET', '/api/v1/deployments?limit=0', tokens.viewer);
    expect(bad.status).toBe(400);
  });

  it('shows each target once (its newest report) in its status cell; no drift is claimed while the registry cannot be read', async () => {
    const newer = `sha256:${'e'.repeat(64)}`;
    expect(
      (await report(tokens.deployer, { env: 'prod', app: 'web', digest: newer, target: 'cluster-a' })).status,
    ).toBe(201);
    const res = await call('GET', '/api/v1/status', tokens.viewer);
    expect(res.status).toBe(200);
    const cells = res.body.cells as {
      environment: string;
      application: string;
      state: string;
      targets: { target: string; digest: string; drift?: string }[];
    }[];
    const prodWeb = cells.find((c) => c.environment === 'prod' && c.application === 'web');
    expect(prodWeb?.state).toBe('unknown');
    const a = prodWeb?.targets.filter((t) => t.target === 'cluster-a');
    expect(a).toEqual([expect.objectContaining({ digest: newer })]);
    expect(prodWeb?.targets.every((t) => t.drift === undefined)).toBe(true);
    expect(cells.find((c) => c.environment === 'dev' && c.application === 'api')?.targets).toEqual([]);
    // A team token sees its team's cells only, with their targets.
    const team = await call('GET', '/api/v1/status', tokens.platformViewer);
    const teamCells = team.body.cells as { application: string; targets: unknown[] }[];
    expect(teamCells.map((c) => c.application)).toEqual(['api', 'api']);
  });
});
