/**
 * `GET /api/v1/events` through the REAL server process (`bin/gantry.js serve`, embedded store)
 * and real registries: a dashboard's stream, opened with fetch, receives a promotion run through
 * the API as `promotion` events through to `completed`, copy `progress`, and `status` events for
 * the completion and for a deployment report; a token of another team sees none of that
 * application's promotions; a client without a token gets 401.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createApiToken,
  makeImage,
  pushImage,
  startGantryServer,
  startRegistry,
  type GantryServerProcess,
  type RegistryProcess,
  writeDevProdConfig,
} from '../helpers/index.js';
import { sseEvents } from '../helpers/sse.js';

const BOOTSTRAP = `gty_${'9'.repeat(64)}`;

interface Event {
  event: string;
  data: Record<string, unknown>;
}

/** An open event stream: the events so far, and a wait for one that matches. */
interface Stream {
  readonly events: Event[];
  until(match: (e: Event) => boolean, timeoutMs?: number): Promise<Event>;
  close(): void;
}

async function openEvents(server: { url: string }, token: string): Promise<Stream> {
  const abort = new AbortController();
  const res = await fetch(`${server.url}/api/v1/events`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const events: Event[] = [];
  const waiters: (() => void)[] = [];
  void (async () => {
    try {
      for await (const e of sseEvents(res.body)) {
        events.push(e);
        for (const w of waiters.splice(0)) w();
      }
    } catch {
      // aborted
    }
  })();
  return {
    events,
    async until(match, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find(match);
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0)
          throw new Error(
            `no matching event; got ${events.map((e) => `${e.event}:${JSON.stringify(e.data)}`).join(' ')}`,
          );
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, Math.min(left, 500));
        });
      }
    },
    close: () => abort.abort(),
  };
}

describe('GET /api/v1/events through gantry serve (real process)', () => {
  let dev: RegistryProcess;
  let prod: RegistryProcess;
  let dir = '';
  let server: GantryServerProcess | undefined;
  const tokens: Record<string, string> = {};
  let digest = '';

  beforeAll(async () => {
    [dev, prod] = await Promise.all([startRegistry(), startRegistry()]);
    const image = makeImage({
      seed: 'serve-events-web',
      labels: { 'org.opencontainers.image.version': '1.0.0' },
      layers: [{ size: 6 << 20, seed: 'serve-events-web-layer' }],
    });
    digest = await pushImage(dev, 'dev/web', image, '1.0.0');
    dir = await mkdtemp(join(tmpdir(), 'gantry-serve-events-'));
    const config = await writeDevProdConfig(dir, {
      dev: dev.url,
      prod: prod.url,
      applications: ['web', 'api'],
      rest: `teams:
  payments: [web]
  platform: [api]
`,
    });
    server = await startGantryServer({ config, dataDir: join(dir, 'data'), bootstrapToken: BOOTSTRAP });
    for (const [key, spec] of Object.entries({
      ci: { name: 'ci', roles: ['ci'] },
      viewer: { name: 'dashboard', roles: ['viewer'] },
      platform: { name: 'platform-dashboard', roles: ['viewer'], teams: ['platform'] },
    })) {
      tokens[key] = await createApiToken(server, BOOTSTRAP, spec);
    }
  }, 120_000);

  afterAll(async () => {
    await server?.kill();
    await Promise.all([dev?.stop(), prod?.stop()]);
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('refuses a client without a token', async () => {
    const res = await fetch(`${server!.url}/api/v1/events`, { headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('API_UNAUTHENTICATED');
  });

  it('streams a promotion through to completed, its copy progress and status changes', async () => {
    const s = server!;
    const all = await openEvents(s, tokens.viewer!);
    const platform = await openEvents(s, tokens.platform!);
    try {
      const r = await api<{ id: string }>(s, tokens.ci!, 'POST', '/api/v1/promotions', {
        app: 'web',
        version: '1.0.0',
        to: 'prod',
      });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      const id = r.body.id;
      const completed = await all.until(
        (e) => e.event === 'promotion' && e.data.id === id && e.data.state === 'completed',
      );
      expect(completed.data).toMatchObject({
        id,
        kind: 'promotion',
        environment: 'prod',
        from: 'dev',
        applications: [{ application: 'web', digest, status: 'completed' }],
      });
      const states = all.events
        .filter((e) => e.event === 'promotion' && e.data.id === id)
        .map((e) => e.data.state as string);
      expect(states[0]).toBe('requested');
      expect(states).toContain('copying');
      expect(states.at(-1)).toBe('completed');
      expect(new Set(states).size).toBe(states.length);
      const progress = all.events.filter((e) => e.event === 'progress');
      expect(progress.length).toBeGreaterThan(0);
      expect(progress[0]!.data).toEqual({
        id,
        application: 'web',
        bytesTransferred: expect.any(Number),
        bytesTotal: expect.any(Number),
        blobsDone: expect.any(Number),
        blobsTotal: expect.any(Number),
      });
      expect(progress.at(-1)!.data.bytesTotal).toBeGreaterThanOrEqual(6 << 20);
      const status = await all.until((e) => e.event === 'status' && e.data.reason === 'promotion.completed');
      expect(Date.parse(status.data.time as string)).not.toBeNaN();

      const report = await api(s, tokens.ci!, 'POST', '/api/v1/deployments', {
        env: 'prod',
        app: 'web',
        target: 'eu-1',
        digest,
      });
      expect(report.status, JSON.stringify(report.body)).toBe(201);
      await all.until((e) => e.event === 'status' && e.data.reason === 'deployment.reported');
      // Another team's stream gets the status change but nothing of web's promotion.
      await platform.until((e) => e.event === 'status' && e.data.reason === 'deployment.reported');
      expect(platform.events.filter((e) => e.event !== 'status')).toEqual([]);
      expect(platform.events.map((e) => e.data.reason)).not.toContain('promotion.completed');
    } finally {
      all.close();
      platform.close();
    }
  }, 120_000);
});
