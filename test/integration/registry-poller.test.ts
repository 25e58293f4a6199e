/**
 * The registry poller against a real registry and a real store (leases, what was seen): a round
 * registers new tags, the next one nothing, a moved tag again; one listing per repository; a
 * restarted poller reports only what changed; of two pollers (two replicas) on one store only
 * one polls an environment.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { RegistryPoller } from '../../src/jobs/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { parseTestConfig } from '../helpers/in-process.js';
import { makeImage, makeIndex } from '../helpers/images.js';
import { pushImage } from '../helpers/push.js';
import { MemorySink } from '../helpers/registry-events.js';
import { startRegistry, type RegistryProcess } from '../helpers/registry.js';

let root = '';
let registry: RegistryProcess;
let store: Store;
let app: App;
let sink: MemorySink;
let listings: string[];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gantry-poller-'));
  registry = await startRegistry();
  store = await openStore({ dataDir: join(root, 'data') });
  const config = parseTestConfig(
    `registries:
  local: { url: "${registry.url}" }
environments:
  dev: { registry: local, prefix: dev, poll: 10s }
  prod: { registry: local, prefix: prod, from: [dev] }
applications: [web, api]
`,
    join(root, 'gantry.yaml'),
  );
  const real = createApp({ config, env: {}, authFile: join(root, 'auth.json') });
  // Count tag listings through the app's registry port (the poller's only way to the registry).
  app = {
    ...real,
    registry: {
      ...real.registry,
      tags: (repo) => {
        listings.push(repo.repository);
        return real.registry.tags(repo);
      },
      resolve: (repo, ref) => real.registry.resolve(repo, ref),
    },
    close: () => real.close(),
  };
}, 120_000);

afterAll(async () => {
  await app?.close();
  await store?.close();
  await registry?.stop();
  if (root) await rm(root, { recursive: true, force: true });
}, 60_000);

beforeEach(() => {
  listings = [];
});

describe('RegistryPoller', () => {
  it('registers new tags, then nothing, then a moved tag; lists each repository once per round', async () => {
    sink = new MemorySink();
    const poller = new RegistryPoller({
      store,
      app: () => app,
      sink,
      now: () => new Date(Date.UTC(2026, 5, 1)),
    });
    const v1 = makeImage({ seed: 'poll-v1' });
    const amd = makeImage({ seed: 'poll-amd', platform: { os: 'linux', architecture: 'amd64' } });
    const arm = makeImage({ seed: 'poll-arm', platform: { os: 'linux', architecture: 'arm64' } });
    const multi = makeIndex([amd, arm]);
    await pushImage(registry, 'dev/web', v1, '1.0.0');
    await pushImage(registry, 'dev/api', multi, '2.0.0');
    // An untagged push (by digest) and a push to another environment are not dev's tags.
    await pushImage(registry, 'dev/web', makeImage({ seed: 'poll-untagged' }));
    await pushImage(registry, 'prod/web', makeImage({ seed: 'poll-prod' }), '9.9.9');

    const first = await poller.poll('dev');
    expect(first).toEqual({ polled: true, tags: 2, registered: 2, failed: 0 });
    expect(listings.sort()).toEqual(['dev/api', 'dev/web']);
    expect(sink.seen).toEqual(
      expect.arrayContaining([
        {
          app: 'web',
          environment: 'dev',
          digest: v1.digest,
          tag: '1.0.0',
          source: 'poll',
          seenAt: '2026-06-01T00:00:00.000Z',
          reportedBy: `poll ${registry.host}`,
        },
        expect.objectContaining({ app: 'api', digest: multi.digest, tag: '2.0.0' }),
      ]),
    );
    expect(sink.seen).toHaveLength(2);

    listings = [];
    expect(await poller.poll('dev')).toEqual({ polled: true, tags: 2, registered: 0, failed: 0 });
    expect(listings.sort()).toEqual(['dev/api', 'dev/web']);
    expect(sink.seen).toHaveLength(2);

    // The tag moves to another image: registered again; a new tag too.
    const v1b = makeImage({ seed: 'poll-v1-rebuilt' });
    await pushImage(registry, 'dev/web', v1b, '1.0.0');
    await pushImage(registry, 'dev/web', v1b, 'latest');
    expect(await poller.poll('dev')).toEqual({ polled: true, tags: 3, registered: 2, failed: 0 });
    expect(sink.seen.slice(2)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ app: 'web', tag: '1.0.0', digest: v1b.digest }),
        expect.objectContaining({ app: 'web', tag: 'latest', digest: v1b.digest }),
      ]),
    );
    await poller.stop();
  });

  it('remembers across a restart: a new poller reports only what changed since', async () => {
    const s = new MemorySink();
    const restarted = new RegistryPoller({ store, app: () => app, sink: s });
    try {
      const v2 = makeImage({ seed: 'poll-after-restart' });
      await pushImage(registry, 'dev/web', v2, '2.0.0');
      expect(await restarted.poll('dev')).toMatchObject({ polled: true, registered: 1, failed: 0 });
      expect(s.seen).toEqual([expect.objectContaining({ app: 'web', tag: '2.0.0', digest: v2.digest })]);
    } finally {
      await restarted.stop();
    }
  });

  it('lets one replica poll an environment: a second poller on the same store skips it', async () => {
    const a = new RegistryPoller({ store, app: () => app, sink: new MemorySink() });
    const bSink = new MemorySink();
    const b = new RegistryPoller({ store, app: () => app, sink: bSink });
    try {
      expect(await a.poll('dev')).toMatchObject({ polled: true });
      expect(await b.poll('dev')).toEqual({ polled: false, tags: 0, registered: 0, failed: 0 });
      expect(bSink.seen).toEqual([]);
      // The holder polls again next round.
      expect(await a.poll('dev')).toMatchObject({ polled: true });
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('counts a repository it cannot read as failed and goes on with the others', async () => {
    const broken = {
      ...app,
      registry: {
        ...app.registry,
        tags: (repo: { registry: string; repository: string }) =>
          repo.repository === 'dev/api' ? Promise.reject(new Error('boom')) : app.registry.tags(repo),
      },
    } as App;
    const s = new MemorySink();
    const poller = new RegistryPoller({ store, app: () => broken, sink: s });
    try {
      // dev/web holds 1.0.0, 2.0.0 and latest, seen by the pollers before (the store remembers);
      // dev/api fails and is tried again next round.
      expect(await poller.poll('dev')).toEqual({ polled: true, tags: 3, registered: 0, failed: 1 });
      expect(s.seen).toEqual([]);
    } finally {
      await poller.stop();
    }
  });
});
