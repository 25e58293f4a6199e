/**
 * `GET /api/v1/events` over a socket, with two promotion runtimes on one store (PGlite) as two
 * replicas would be: the server's runtime is not started, the other one runs the promotion, so
 * the stream learns of it only through the store poll — every state through `completed`, and a
 * `status` event for the completion, but no copy progress (that stays on the replica that copied).
 * A stream opened mid-copy gets the progress so far at once (a dashboard reloading mid-copy).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import type { DeskEvent, PromotionRuntime } from '../../src/jobs/index.js';
import { buildServer, type GantryServer } from '../../src/server/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { makeImage, pushImage, startRegistry, type RegistryProcess } from '../helpers/index.js';
import { FakeDesk } from './fake-desk.js';
import { CI, loadApp, runtimeOf, waitForState } from './runtime-harness.js';
import { sseEvents } from '../helpers/sse.js';

const BOOTSTRAP = `gty_${'f'.repeat(64)}`;

let registry: RegistryProcess;
let root = '';
let store: Store;
let app: App;
let here: PromotionRuntime;
let other: PromotionRuntime;
let server: GantryServer;
let address = '';

beforeAll(async () => {
  registry = await startRegistry();
  await pushImage(
    registry,
    'dev/web',
    makeImage({ seed: 'server-events', labels: { 'org.opencontainers.image.version': '1.0.0' } }),
    '1.0.0',
  );
  root = await mkdtemp(join(tmpdir(), 'gantry-server-events-'));
  const config = join(root, 'gantry.yaml');
  await writeFile(
    config,
    `registries:
  dev: { url: "http://${registry.host}" }
environments:
  dev: { registry: dev, prefix: dev }
  prod: { registry: dev, prefix: prod, from: [dev], tags: { floating: [current] } }
applications: [web]
`,
  );
  store = await openStore({ dataDir: join(root, 'data') });
  app = await loadApp(config, () => store);
  here = runtimeOf(store, app, { watchAllPollMs: 100 });
  other = runtimeOf(store, app);
  server = await buildServer({ store, app: () => app, desk: here, version: 'test' });
  await server.tokens.seedBootstrap(BOOTSTRAP, { actor: 'test', time: new Date() });
  address = await server.http.listen({ host: '127.0.0.1', port: 0 });
}, 120_000);

afterAll(async () => {
  await other?.stop();
  await here?.stop();
  await server?.http.close();
  await app?.close();
  await store?.close();
  if (root) await rm(root, { recursive: true, force: true });
  await registry?.stop();
}, 60_000);

describe('GET /api/v1/events across replicas', () => {
  it("streams another replica's promotion through the store poll", async () => {
    const abort = new AbortController();
    const res = await fetch(`${address}/api/v1/events`, {
      headers: { authorization: `Bearer ${BOOTSTRAP}` },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    // The other replica takes the request and runs it.
    const view = await other.promote({ app: 'web', version: '1.0.0', to: 'prod' }, CI);
    other.start();
    const events: { event: string; data: Record<string, unknown> }[] = [];
    try {
      for await (const e of sseEvents(res.body)) {
        events.push(e);
        if (e.event === 'status') break;
      }
    } finally {
      abort.abort();
    }
    await waitForState((id) => other.get(id), view.id, ['completed']);
    const promotions = events.filter((e) => e.event === 'promotion');
    expect(promotions.every((e) => e.data.id === view.id)).toBe(true);
    expect(promotions.at(-1)?.data).toMatchObject({ id: view.id, state: 'completed' });
    expect(events.filter((e) => e.event === 'progress')).toEqual([]);
    expect(events.at(-1)).toEqual({
      event: 'status',
      data: { reason: 'promotion.completed', time: expect.any(String) },
    });
  }, 60_000);

  it('answers a query it does not know with a one-line 400 and no token with 401', async () => {
    const bad = await fetch(`${address}/api/v1/events?since=0`, {
      headers: { authorization: `Bearer ${BOOTSTRAP}` },
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('API_REQUEST_INVALID');
    expect((await fetch(`${address}/api/v1/events`)).status).toBe(401);
  });
});

/** A desk whose `watchAll` events the test emits itself (copy progress without a real copy). */
class EmittingDesk extends FakeDesk {
  readonly #listeners = new Set<(event: DeskEvent) => void>();
  watchAll(listener: (event: DeskEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  emitAll(event: DeskEvent): void {
    for (const l of this.#listeners) l(event);
  }
}

describe('GET /api/v1/events: a stream opened mid-copy', () => {
  it('gets the progress so far at once, and none once the promotion has left copying', async () => {
    const desk = new EmittingDesk();
    const replay = await buildServer({ store, app: () => app, desk, version: 'test' });
    const url = await replay.http.listen({ host: '127.0.0.1', port: 0 });
    const open = async () => {
      const abort = new AbortController();
      const res = await fetch(`${url}/api/v1/events`, {
        headers: { authorization: `Bearer ${BOOTSTRAP}` },
        signal: abort.signal,
      });
      expect(res.status).toBe(200);
      return { events: sseEvents(res.body), abort };
    };
    const progress = {
      id: 'prm_1',
      application: 'web',
      bytesTransferred: 4096,
      bytesTotal: 8192,
      blobsDone: 1,
      blobsTotal: 2,
    };
    try {
      const first = await open();
      desk.emitAll({ type: 'progress', ...progress });
      expect((await first.events.next()).value).toEqual({ event: 'progress', data: progress });
      first.abort.abort();
      // A reload: the old stream is gone, a new one opens; the copy sends nothing new meanwhile.
      const second = await open();
      expect((await second.events.next()).value).toEqual({ event: 'progress', data: progress });
      // The promotion completes: a stream opened afterwards is told of no copy in progress.
      const view = {
        ...(await desk.promote({ app: 'web', version: '1.0.0', to: 'prod' }, CI)),
        state: 'completed' as const,
      };
      desk.emitAll({ type: 'promotion', promotion: { ...view, id: 'prm_1' } });
      expect((await second.events.next()).value).toMatchObject({ event: 'promotion', data: { id: 'prm_1' } });
      second.abort.abort();
      const third = await open();
      desk.emitAll({ type: 'promotion', promotion: { ...view, id: 'prm_2' } });
      expect((await third.events.next()).value).toMatchObject({ event: 'promotion', data: { id: 'prm_2' } });
      third.abort.abort();
    } finally {
      await replay.http.close();
    }
  }, 60_000);
});
