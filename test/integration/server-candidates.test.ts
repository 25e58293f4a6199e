/**
 * `GET /api/v1/applications/:app/candidates?env=` in process (Fastify `inject()`) over a PGlite
 * store and a real registry: the dev repository's versions newest first, the one prod holds
 * (promoted through the composition root) marked `inTarget` and `current`; 401 without a token,
 * 403 for a token of another team, 400 for a malformed query, 404 for an unknown environment.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { buildServer, type GantryServer } from '../../src/server/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { injectApiToken, parseTestConfig } from '../helpers/in-process.js';
import { makeImage, pushImage, startRegistry, type RegistryProcess } from '../helpers/index.js';

const BOOTSTRAP = `gty_${'c'.repeat(64)}`;
const images = ['1.0.0', '1.2.0', '1.10.0'].map((v) => ({ v, image: makeImage({ seed: `cand-${v}` }) }));

let registry: RegistryProcess;
let root: string;
let store: Store;
let app: App;
let server: GantryServer;

beforeAll(async () => {
  registry = await startRegistry();
  for (const { v, image } of images) await pushImage(registry, 'team/web', image, v);
  const config = parseTestConfig(
    `registries:
  dev: { url: "http://${registry.host}" }
environments:
  dev: { registry: dev, prefix: team }
  prod: { registry: dev, prefix: prod, from: [dev], tags: { floating: [prod] } }
applications: [web, api]
teams:
  payments: [web]
  platform: [api]
`,
  );
  app = createApp({ config, env: {}, authFile: '/nonexistent/auth.json', actor: 'test' });
  await app.promotions.promote({ app: 'web', reference: '1.2.0', to: 'prod' });
  root = await mkdtemp(join(tmpdir(), 'gantry-candidates-'));
  store = await openStore({ dataDir: join(root, 'data') });
  server = await buildServer({ store, app: () => app, version: 'test' });
  await server.tokens.seedBootstrap(BOOTSTRAP, { actor: 'test', time: new Date() });
}, 120_000);
afterAll(async () => {
  await server?.http.close();
  await app?.close();
  await store?.close();
  if (root) await rm(root, { recursive: true, force: true });
  await registry?.stop();
}, 60_000);

async function get(url: string, token?: string) {
  const res = await server.http.inject({
    method: 'GET',
    url,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
}

const token = async (body: Record<string, unknown>): Promise<string> =>
  (await injectApiToken(server, BOOTSTRAP, body)).token;

describe('GET /api/v1/applications/:app/candidates', () => {
  it('lists the source versions newest first, marking what the environment holds and runs', async () => {
    const viewer = await token({ name: 'web-viewer', roles: ['viewer'], teams: ['payments'] });
    const res = await get('/api/v1/applications/web/candidates?env=prod', viewer);
    expect(res.status).toBe(200);
    const digest = (v: string) => images.find((i) => i.v === v)?.image.digest;
    expect(res.body).toEqual({
      application: 'web',
      environment: 'prod',
      truncated: false,
      candidates: [
        {
          digest: digest('1.10.0'),
          version: '1.10.0',
          tags: ['1.10.0'],
          from: 'dev',
          inTarget: false,
          current: false,
        },
        {
          digest: digest('1.2.0'),
          version: '1.2.0',
          tags: ['1.2.0'],
          from: 'dev',
          inTarget: true,
          current: true,
        },
        {
          digest: digest('1.0.0'),
          version: '1.0.0',
          tags: ['1.0.0'],
          from: 'dev',
          inTarget: false,
          current: false,
        },
      ],
    });
  });

  it('refuses without a token (401), for another team (403), a bad query (400), an unknown environment (404)', async () => {
    expect((await get('/api/v1/applications/web/candidates?env=prod')).status).toBe(401);
    const other = await token({ name: 'api-viewer', roles: ['viewer'], teams: ['platform'] });
    const forbidden = await get('/api/v1/applications/web/candidates?env=prod', other);
    expect(forbidden).toMatchObject({ status: 403, body: { error: { code: 'API_FORBIDDEN' } } });
    const bad = await get('/api/v1/applications/web/candidates?env=../x', BOOTSTRAP);
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'API_REQUEST_INVALID' } } });
    const missing = await get('/api/v1/applications/web/candidates', BOOTSTRAP);
    expect(missing.status).toBe(400);
    const unknown = await get('/api/v1/applications/web/candidates?env=qa', BOOTSTRAP);
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'PROMOTION_UNKNOWN' } } });
  });
});
