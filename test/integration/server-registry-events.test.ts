/**
 * POST /api/v1/registry-events in process, on a real store (tokens): the three forms, mapping to
 * applications and environments, token and HMAC authentication, and malformed bodies. What the
 * route registers is observed through an in-memory candidate sink.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { buildServer, type GantryServer } from '../../src/server/index.js';
import type { Store } from '../../src/store/index.js';
import {
  registryEventFixture as fixture,
  startRegistryEventsWorld,
  type MemorySink,
  type RegistryEventsWorld,
} from '../helpers/registry-events.js';

const BOOTSTRAP = `gty_${'b'.repeat(64)}`;
const SECRET = 'correct horse battery staple';
const C = `sha256:${'c'.repeat(64)}`;
const DISTRIBUTION = 'application/vnd.docker.distribution.events.v1+json';

let world: RegistryEventsWorld | undefined;
let store: Store;
let app: App;
let sink: MemorySink;
let server: GantryServer;
let tokens: RegistryEventsWorld['tokens'];

function sign(body: string, secret = SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

async function post(payload: string, headers: Record<string, string>, target = server) {
  const res = await target.http.inject({
    method: 'POST',
    url: '/api/v1/registry-events',
    headers: { 'content-type': 'application/json', ...headers },
    payload,
  });
  return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
}

beforeAll(async () => {
  world = await startRegistryEventsWorld({
    tmpPrefix: 'gantry-registry-events-',
    bootstrapToken: BOOTSTRAP,
    secretEnv: 'GANTRY_TEST_EVENTS_SECRET',
    secret: SECRET,
    now: () => new Date(Date.UTC(2026, 5, 2)),
  });
  ({ store, app, sink, server, tokens } = world);
}, 120_000);

afterAll(async () => {
  await world?.close();
}, 60_000);

beforeEach(() => {
  sink.seen.length = 0;
});

describe('POST /api/v1/registry-events', () => {
  it('registers the tagged push of a distribution envelope (its own media type), with a registry token', async () => {
    const res = await post(fixture('distribution-push.json'), {
      'content-type': DISTRIBUTION,
      authorization: `Bearer ${tokens.registry}`,
    });
    expect(res).toEqual({ status: 202, body: { accepted: 1, ignored: 5 } });
    expect(sink.seen).toEqual([
      {
        app: 'web',
        environment: 'dev',
        digest: C,
        tag: '1.4.2',
        source: 'notification:distribution',
        seenAt: '2026-06-01T12:00:00.323Z',
        reportedBy: expect.stringMatching(/^registry-token \(tok_/) as unknown,
      },
    ]);
  });

  it('registers a Harbor push signed with the HMAC of its body', async () => {
    const body = fixture('harbor-push.json');
    const res = await post(body, { 'x-gantry-signature': sign(body) });
    expect(res).toEqual({ status: 202, body: { accepted: 1, ignored: 0 } });
    expect(sink.seen).toEqual([
      expect.objectContaining({
        app: 'web',
        environment: 'staging',
        source: 'notification:harbor',
        reportedBy: 'registry harbor.example.com',
      }),
    ]);
  });

  it('registers a generic event from a ci token, stamped with the server time, and ignores unknown repositories', async () => {
    const known = JSON.stringify({ repository: 'registry.example.com:5000/dev/api', tag: 'v2', digest: C });
    expect(await post(known, { authorization: `Bearer ${tokens.ci}` })).toEqual({
      status: 202,
      body: { accepted: 1, ignored: 0 },
    });
    expect(sink.seen[0]).toMatchObject({
      app: 'api',
      environment: 'dev',
      tag: 'v2',
      seenAt: '2026-06-02T00:00:00.000Z',
    });
    const unknown = JSON.stringify({ repository: 'registry.example.com:5000/other/web', digest: C });
    expect(await post(unknown, { authorization: `Bearer ${tokens.ci}` })).toEqual({
      status: 202,
      body: { accepted: 0, ignored: 1 },
    });
    expect(sink.seen).toHaveLength(1);
  });

  it.each([
    ['no credentials', {}, 'API_UNAUTHENTICATED', 401],
    ['a signature with another secret', { 'x-gantry-signature': 'other' }, 'API_UNAUTHENTICATED', 401],
    ['a malformed signature', { 'x-gantry-signature': 'sha1=abc' }, 'API_UNAUTHENTICATED', 401],
    ['a viewer token', { authorization: 'viewer' }, 'API_FORBIDDEN', 403],
  ] as const)('refuses %s and registers nothing', async (_what, headers, code, status) => {
    const body = fixture('harbor-push.json');
    const h: Record<string, string> = {};
    if ('x-gantry-signature' in headers)
      h['x-gantry-signature'] =
        headers['x-gantry-signature'] === 'other' ? sign(body, 'wrong') : headers['x-gantry-signature'];
    if ('authorization' in headers) h.authorization = `Bearer ${tokens.viewer}`;
    const res = await post(body, h);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ error: { code } });
    expect(sink.seen).toEqual([]);
  });

  it('refuses a signature over other bytes than those sent (the body is not re-serialised)', async () => {
    const body = fixture('harbor-push.json');
    const res = await post(JSON.stringify(JSON.parse(body)), { 'x-gantry-signature': sign(body) });
    expect(res.status).toBe(401);
    expect(sink.seen).toEqual([]);
  });

  it('refuses HMAC-signed events when no secret is configured', async () => {
    const bare = createApp({ config: app.config, env: {}, authFile: '/nonexistent/auth.json' });
    const other = await buildServer({ store, app: () => bare, candidates: sink });
    try {
      const body = fixture('harbor-push.json');
      const res = await post(body, { 'x-gantry-signature': sign(body) }, other);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: { code: 'API_UNAUTHENTICATED' } });
    } finally {
      await other.http.close();
      await bare.close();
    }
  });

  it.each([
    ['not JSON', '{"events": ['],
    ['empty', ''],
    ['a JSON array', '[]'],
    ['an unknown form', '{"hello": "world"}'],
    [
      'a generic event with a bad digest',
      '{"repository": "registry.example.com:5000/dev/web", "digest": "sha256:1"}',
    ],
  ])('answers 400 API_REQUEST_INVALID in one line for %s', async (_what, payload) => {
    const res = await post(payload, { authorization: `Bearer ${tokens.registry}` });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'API_REQUEST_INVALID' } });
    expect(String((res.body.error as { message: string }).message)).not.toContain('\n');
  });

  it('answers 413 (never 5xx) for a body over 1 MiB, and takes a batch below it', async () => {
    const big = JSON.stringify({ events: [{ action: 'pull', pad: 'x'.repeat(1024 * 1024) }] });
    const res = await post(big, { authorization: `Bearer ${tokens.registry}` });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: { code: 'API_REQUEST_INVALID' } });
    const batch = JSON.stringify({
      events: Array.from({ length: 500 }, () => ({ action: 'pull', pad: 'x'.repeat(200) })),
    });
    expect(await post(batch, { authorization: `Bearer ${tokens.registry}` })).toEqual({
      status: 202,
      body: { accepted: 0, ignored: 500 },
    });
  });

  it('reads the body whatever its content type, or none', async () => {
    const body = JSON.stringify({ repository: 'registry.example.com:5000/dev/web', digest: C });
    for (const type of [undefined, 'text/plain', DISTRIBUTION]) {
      const res = await server.http.inject({
        method: 'POST',
        url: '/api/v1/registry-events',
        headers: {
          authorization: `Bearer ${tokens.registry}`,
          ...(type !== undefined && { 'content-type': type }),
        },
        payload: body,
      });
      expect(res.statusCode, `${String(type)}: ${res.body}`).toBe(202);
    }
    expect(sink.seen).toHaveLength(3);
  });

  it('keeps parsing JSON bodies of the other routes', async () => {
    const res = await server.http.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: { authorization: `Bearer ${BOOTSTRAP}` },
      payload: { name: 'another', roles: ['registry'] },
    });
    expect(res.statusCode).toBe(201);
  });
});
