/**
 * How `gantry serve` serves the dashboard (src/server/dashboard.ts), with a stand-in build in a
 * temp dir: hashed assets (gzip when accepted, cached for good), index.html for browser
 * navigations to any dashboard path, API paths and non-browser requests left to the API's JSON
 * 404, and the same-origin security headers on everything it serves. The real build and real
 * Chromium are in test/browser/.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { parseConfig } from '../../src/config/index.js';
import { buildServer, type GantryServer } from '../../src/server/index.js';
import { openStore, type Store } from '../../src/store/index.js';

const CONFIG = `registries:
  dev: { url: "http://127.0.0.1:9" }
environments:
  dev: { registry: dev, prefix: dev }
applications: [web]
`;

const HTML =
  '<!doctype html><title>stand-in</title><script type="module" src="/assets/app-1234.js"></script>';
const SCRIPT = 'console.log("dashboard");';

describe('the dashboard as gantry serve serves it', () => {
  let dir = '';
  let store: Store;
  let server: GantryServer;
  let bare: GantryServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-dashboard-'));
    const web = join(dir, 'web');
    await mkdir(join(web, 'assets'), { recursive: true });
    await writeFile(join(web, 'index.html'), HTML);
    await writeFile(join(web, 'index.html.gz'), gzipSync(HTML));
    await writeFile(join(web, 'assets', 'app-1234.js'), SCRIPT);
    await writeFile(join(web, 'assets', 'app-1234.js.gz'), gzipSync(SCRIPT));
    await writeFile(join(dir, 'secret.txt'), 'not for the web');
    store = await openStore({ dataDir: join(dir, 'data') });
    const { config } = parseConfig(join(dir, 'gantry.yaml'), CONFIG);
    if (!config) throw new Error('config');
    const app = createApp({ config, env: {}, authFile: '/nonexistent/auth.json', actor: 'test' });
    server = await buildServer({ store, app: () => app, version: 'test', dashboardDir: web });
    // A directory without a build: no dashboard at all.
    bare = await buildServer({ store, app: () => app, version: 'test', dashboardDir: join(dir, 'none') });
  }, 60_000);

  afterAll(async () => {
    await server?.http.close();
    await bare?.http.close();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers every browser navigation to a dashboard path with index.html and its security headers', async () => {
    for (const url of ['/', '/approvals', '/promotions/abc?x=1', '/apps/web/candidates/sha256:00']) {
      const res = await server.http.inject({ method: 'GET', url, headers: { accept: 'text/html,*/*' } });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.body).toBe(HTML);
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
      expect(res.headers['content-security-policy']).toContain("connect-src 'self'");
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['cache-control']).toBe('no-cache');
    }
    const gz = await server.http.inject({
      method: 'GET',
      url: '/history',
      headers: { accept: 'text/html', 'accept-encoding': 'gzip, br' },
    });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.rawPayload).toString()).toBe(HTML);
  });

  it('leaves API paths, non-browser requests and other methods to the API’s JSON 404', async () => {
    const cases = [
      { method: 'GET' as const, url: '/api/v1/nothing', accept: 'text/html' },
      { method: 'GET' as const, url: '/approvals', accept: 'application/json' },
      { method: 'POST' as const, url: '/approvals', accept: 'text/html' },
      { method: 'GET' as const, url: '/assets/missing.js', accept: 'text/html' },
      { method: 'GET' as const, url: '/metricsx/../api/v1/x', accept: 'text/html' },
    ];
    for (const c of cases) {
      const res = await server.http.inject({ method: c.method, url: c.url, headers: { accept: c.accept } });
      if (c.url.startsWith('/metricsx')) {
        // Normalised by the router to /api/v1/x: still not a page.
        expect(res.headers['content-type'], c.url).not.toContain('text/html');
        continue;
      }
      expect(res.statusCode, `${c.method} ${c.url}`).toBe(404);
      expect(res.headers['content-type'], c.url).toContain('application/json');
      expect(res.json()).toMatchObject({ error: { code: 'API_NOT_FOUND' } });
    }
  });

  it('serves hashed assets compressed and cached for good, and nothing outside the build', async () => {
    const plain = await server.http.inject({ method: 'GET', url: '/assets/app-1234.js' });
    expect(plain.statusCode).toBe(200);
    expect(plain.body).toBe(SCRIPT);
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['x-content-type-options']).toBe('nosniff');
    const gz = await server.http.inject({
      method: 'GET',
      url: '/assets/app-1234.js',
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.rawPayload).toString()).toBe(SCRIPT);
    for (const url of ['/assets/../secret.txt', '/assets/%2e%2e/secret.txt', '/assets/..%2fsecret.txt']) {
      const res = await server.http.inject({ method: 'GET', url });
      expect(res.body, url).not.toContain('not for the web');
      expect(res.statusCode, url).not.toBe(200);
    }
  });

  it('a forged cross-site request carries no credential: cookies and form posts are refused (no CSRF)', async () => {
    // What a hostile page can make a signed-in approver's browser send: its cookies and a form
    // body, never an Authorization header (the dashboard keeps its token out of cookies).
    for (const contentType of ['application/x-www-form-urlencoded', 'text/plain', 'application/json']) {
      const res = await server.http.inject({
        method: 'POST',
        url: '/api/v1/tokens',
        headers: {
          origin: 'https://evil.example',
          cookie: 'gantry.token=gty_' + 'a'.repeat(64),
          'content-type': contentType,
        },
        payload: contentType === 'application/json' ? '{"name":"x","roles":["admin"]}' : 'name=x&roles=admin',
      });
      expect(res.statusCode, contentType).toBe(401);
      expect(res.json()).toMatchObject({ error: { code: 'API_UNAUTHENTICATED' } });
    }
    // And the API sends no CORS grant, so another origin's script cannot read an answer either.
    const preflight = await server.http.inject({
      method: 'OPTIONS',
      url: '/api/v1/status',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('serves no dashboard when the directory holds no build', async () => {
    const res = await bare.http.inject({ method: 'GET', url: '/', headers: { accept: 'text/html' } });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toContain('application/json');
  });
});
