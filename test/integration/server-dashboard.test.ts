/**
 * The API routes the dashboard reads (session, pipeline, ledger filters), in process (Fastify
 * `inject()`) over a real store (PGlite): what each answers for tokens of different roles and
 * teams, and a one-line 400 for bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GantryServer } from '../../src/server/index.js';
import type { Store } from '../../src/store/index.js';
import { injectRequest, startInProcessServer, type InProcessServer } from '../helpers/in-process.js';

const BOOTSTRAP = `gty_${'b'.repeat(64)}`;

const CONFIG = `registries:
  dev: { url: "http://127.0.0.1:1" }
  prod: { url: "http://127.0.0.2:1" }
environments:
  dev: { registry: dev, prefix: dev }
  staging: { registry: dev, prefix: dev, mode: tag, tag: staging, from: [dev], auto: true }
  uat: { registry: dev, prefix: uat, from: [staging] }
  prod:
    registry: prod
    prefix: prod
    from: [staging, uat]
    allowOverride: true
    gates:
      - labels: { required: { team: '^payments$' } }
      - approval: { count: 1 }
applications: [web, api, worker]
teams:
  payments: [web, worker]
  platform: [api]
`;

type Method = 'GET' | 'POST' | 'DELETE';

let world: InProcessServer | undefined;
let store: Store;
let server: GantryServer;
const clock = Date.UTC(2026, 5, 1, 12);
let tokens: InProcessServer['tokens'];

const call = (method: Method, url: string, options: { token?: string; body?: unknown } = {}) =>
  injectRequest(server, method, url, options);

beforeAll(async () => {
  world = await startInProcessServer({
    tmpPrefix: 'gantry-server-dashboard-',
    config: CONFIG,
    bootstrapToken: BOOTSTRAP,
    now: () => new Date(clock),
    tokens: {
      admin: { name: 'root', roles: ['admin'] },
      ci: { name: 'ci-web', roles: ['ci'], groups: ['builders'], teams: ['payments'], expiresIn: '1h' },
      viewer: { name: 'viewer', roles: ['viewer'] },
      approver: { name: 'carol', roles: ['approver:prod', 'approver:uat'], groups: ['operations'] },
      deployer: { name: 'argo', roles: ['deployer'], teams: ['platform'] },
    },
  });
  ({ store, server, tokens } = world);
}, 120_000);

afterAll(async () => {
  await world?.close();
}, 60_000);

describe('GET /api/v1/session', () => {
  it('says who the caller is and what the dashboard may offer, without the secret', async () => {
    const ci = await call('GET', '/api/v1/session', { token: tokens.ci!.token });
    expect(ci.status).toBe(200);
    expect(ci.body).toEqual({
      actor: `ci-web (${tokens.ci!.id})`,
      identity: 'ci-web',
      token: {
        id: tokens.ci!.id,
        name: 'ci-web',
        roles: ['ci'],
        groups: ['builders'],
        teams: ['payments'],
        createdAt: new Date(clock).toISOString(),
        expiresAt: new Date(clock + 3_600_000).toISOString(),
      },
      may: { promote: true, deploy: true, admin: false, approve: [] },
    });
    expect(ci.text).not.toContain(tokens.ci!.token.slice(4));
    expect(ci.text).not.toContain('hash');
  });

  it.each([
    ['admin', { promote: true, deploy: true, admin: true, approve: ['dev', 'staging', 'uat', 'prod'] }],
    ['viewer', { promote: false, deploy: false, admin: false, approve: [] }],
    ['approver', { promote: false, deploy: false, admin: false, approve: ['uat', 'prod'] }],
    ['deployer', { promote: false, deploy: true, admin: false, approve: [] }],
  ])('%s: may', async (who, may) => {
    const res = await call('GET', '/api/v1/session', { token: tokens[who]!.token });
    expect(res.status).toBe(200);
    expect(res.body?.may).toEqual(may);
    expect(res.body?.token).not.toHaveProperty('expiresAt');
  });

  it('refuses a request without a token (401) and a query it does not know (400)', async () => {
    expect((await call('GET', '/api/v1/session')).status).toBe(401);
    const bad = await call('GET', '/api/v1/session?as=admin', { token: tokens.viewer!.token });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'API_REQUEST_INVALID' } });
  });
});

describe('GET /api/v1/pipeline', () => {
  it('lists the environments in file order as a graph, with gates, and every application', async () => {
    const res = await call('GET', '/api/v1/pipeline', { token: tokens.viewer!.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      environments: [
        {
          name: 'dev',
          registry: '127.0.0.1:1',
          mode: 'copy',
          from: [],
          auto: false,
          allowOverride: false,
          gates: [],
          protected: false,
        },
        {
          name: 'staging',
          registry: '127.0.0.1:1',
          mode: 'tag',
          from: ['dev'],
          auto: true,
          allowOverride: false,
          gates: [],
          protected: false,
        },
        {
          name: 'uat',
          registry: '127.0.0.1:1',
          mode: 'copy',
          from: ['staging'],
          auto: false,
          allowOverride: false,
          gates: [],
          protected: false,
        },
        {
          name: 'prod',
          registry: '127.0.0.2:1',
          mode: 'copy',
          from: ['staging', 'uat'],
          auto: false,
          allowOverride: true,
          gates: ['labels', 'approval'],
          protected: true,
        },
      ],
      applications: ['web', 'api', 'worker'],
    });
  });

  it("limits the applications to the caller's teams", async () => {
    const ci = await call('GET', '/api/v1/pipeline', { token: tokens.ci!.token });
    expect(ci.body?.applications).toEqual(['web', 'worker']);
    const deployer = await call('GET', '/api/v1/pipeline', { token: tokens.deployer!.token });
    expect(deployer.body?.applications).toEqual(['api']);
  });

  it('answers bad input with a one-line 400 and no token with 401', async () => {
    expect((await call('GET', '/api/v1/pipeline')).status).toBe(401);
    const bad = await call('GET', '/api/v1/pipeline?app=web', { token: tokens.viewer!.token });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'API_REQUEST_INVALID' } });
    expect((bad.body as { error: { message: string } }).error.message).not.toContain('\n');
  });
});

describe('GET /api/v1/ledger filters', () => {
  interface Entry {
    seq: number;
    type: string;
    actor: string;
    subject: string;
  }
  const page = async (query: string) => {
    const res = await call('GET', `/api/v1/ledger?${query}`, { token: tokens.viewer!.token });
    expect(res.status, res.text).toBe(200);
    return res.body as { entries: Entry[]; next?: number };
  };
  let all: Entry[] = [];

  beforeAll(async () => {
    const events = [
      ['promotion.requested', 'alice (tok_a)', 'p1'],
      ['promotion.approval', 'bob (tok_b)', 'p1'],
      ['promotion.completed', 'alice (tok_a)', 'p1'],
      ['promotions.other', 'alice (tok_a)', 'p2'],
      ['rollback.completed', 'bob (tok_b)', 'web'],
      ['promotion.requested', 'bob (tok_b)', 'p3'],
    ];
    await store.db.transaction().execute(async (trx) => {
      for (const [type, actor, subject] of events)
        await server.ledger.append(trx, {
          type: type!,
          actor: actor!,
          subject: subject!,
          time: new Date(clock),
          payload: {},
        });
    });
    all = (await page('limit=1000')).entries;
  });

  it('keeps sequence order and `after` paging when no filter is given', async () => {
    expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((a, b) => a - b));
    expect(all.length).toBeGreaterThan(6);
    const first = await page('limit=2');
    expect(first.entries.map((e) => e.seq)).toEqual(all.slice(0, 2).map((e) => e.seq));
    expect(first.next).toBe(all[1]!.seq);
  });

  it('filters by exact type, by a type prefix ending in .*, and by actor', async () => {
    const exact = await page('type=promotion.requested');
    expect(exact.entries.map((e) => [e.type, e.subject])).toEqual([
      ['promotion.requested', 'p1'],
      ['promotion.requested', 'p3'],
    ]);
    // `promotion.*` is every type under `promotion.`: not `promotions.other`.
    const prefix = await page('type=promotion.*');
    expect(prefix.entries.map((e) => e.type)).toEqual([
      'promotion.requested',
      'promotion.approval',
      'promotion.completed',
      'promotion.requested',
    ]);
    const bob = await page(`actor=${encodeURIComponent('bob (tok_b)')}`);
    expect(bob.entries.map((e) => e.type)).toEqual([
      'promotion.approval',
      'rollback.completed',
      'promotion.requested',
    ]);
    const both = await page(`actor=${encodeURIComponent('alice (tok_a)')}&type=promotion.*`);
    expect(both.entries.map((e) => e.type)).toEqual(['promotion.requested', 'promotion.completed']);
    expect((await page('actor=nobody')).entries).toEqual([]);
  });

  it('pages newest first with order=desc, `next` being the `before` of the following page', async () => {
    const newest = [...all].reverse();
    const first = await page('order=desc&limit=3');
    expect(first.entries.map((e) => e.seq)).toEqual(newest.slice(0, 3).map((e) => e.seq));
    expect(first.next).toBe(newest[2]!.seq);
    const second = await page(`order=desc&limit=3&before=${first.next}`);
    expect(second.entries.map((e) => e.seq)).toEqual(newest.slice(3, 6).map((e) => e.seq));
    const filtered = await page('order=desc&type=promotion.*&limit=3');
    expect(filtered.entries.map((e) => e.subject)).toEqual(['p3', 'p1', 'p1']);
    const rest = await page(`order=desc&type=promotion.*&limit=3&before=${filtered.next}`);
    expect(rest.entries.map((e) => [e.type, e.subject])).toEqual([['promotion.requested', 'p1']]);
    expect(rest.next).toBeUndefined();
  });

  it.each([
    'type=*',
    'type=promotion.',
    'type=Promotion.requested',
    'type=promotion.*.*',
    'type=promotion%20requested',
    'order=newest',
    'before=-1',
    'actor=',
  ])('answers %s with a one-line 400', async (query) => {
    const res = await call('GET', `/api/v1/ledger?${query}`, { token: tokens.viewer!.token });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'API_REQUEST_INVALID' } });
    expect((res.body as { error: { message: string } }).error.message).not.toContain('\n');
  });
});
