/**
 * Load (issue 15, item 5): a real `gantry serve` with real registries keeps 50 promotions in
 * flight — a new one is requested as soon as one ends — for the whole run, under a steady API
 * load: status matrix, candidate lists and candidate details, promotion reads, server-sent-event
 * clients connected throughout, and a stream per promotion followed to its end (as
 * `gantry promote --server` does). The server's memory is sampled every second (VmRSS of its
 * process, the V8 heap from its own /metrics); before and after the load, at rest, its live heap,
 * open handles and live HTTP responses are read through its V8 inspector after a full collection.
 *
 * Asserted: no errors (every API answer is the expected 2xx, every long-lived stream stays open
 * and delivers events, every per-promotion stream ends with the completed promotion, every
 * promotion completes with the exact digest, which the target registry then serves), and the
 * bounds stated below: live-heap growth, peak RSS, RSS growth, handles and responses left behind.
 * Short: embedded store, 20 s (CI). Long: 60 s as the issue asks, on the embedded store and on
 * PostgreSQL.
 *
 *   npx vitest run test/reliability/load.test.ts
 *   GANTRY_LONG=1 npx vitest run test/reliability/load.test.ts
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createApiToken,
  makeImage,
  pushImage,
  recordFigures,
  registryRequest,
  rng,
  scale,
  startFaultProxy,
  startGantryServer,
  startRegistry,
  type FaultProxy,
  type GantryServerProcess,
  type RegistryProcess,
} from '../helpers/index.js';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import {
  inspect,
  metric,
  openStream,
  rssMb,
  round,
  sleep,
  writeSamples,
  liveObjects,
  type Stream,
  type StreamEvent,
} from './load-probes.js';

const BOOTSTRAP = `gty_${'4'.repeat(64)}`;
const ENDED = new Set(['completed', 'rejected', 'failed', 'cancelled']);

/** How long the load runs (s); the issue asks for 60 s, CI runs 20 s. */
const DURATION_S = scale(20, 60);
/** Promotions kept in flight (requested and not yet ended). */
const IN_FLIGHT = 50;
/** Concurrent API clients (each: a request, 10 ms pause, the next). */
const API_CLIENTS = 6;
/** Event-stream clients on /api/v1/events connected for the whole run (one more tracks endings). */
const SSE_CLIENTS = 5;
/** A warm-up load (10 in flight) first: JIT, caches and pools fill before anything is measured (s). */
const WARMUP_S = 5;

/**
 * Memory bounds of the server process, with a clear margin over what was measured on the 2-core
 * machine (figures in test-artifacts/reliability/load.json; samples in load-samples.json):
 * - LIVE_GROWTH_MB: the live V8 heap at rest after the load (no promotion in flight, the long-lived
 *   streams still open, after a full collection through the inspector) exceeds the one at rest
 *   after the warm-up by less than this. Measured: within ±0.4 MB (about 32 MB both times). A leak
 *   per promotion or per request — a listener left on the event bus, a map keyed by promotion id
 *   that only grows, a stream object never dropped — breaks it once it keeps about 35 KB per
 *   promotion or 3.5 KB per request in the short run (over 100 promotions, 1,000 requests), a
 *   third of that in the long one; smaller leaks need the long variant's figures to show.
 * - PEAK_RSS_MB: resident memory never exceeds it (measured: 317 MB short, 350 MB long; most of
 *   it is the embedded PostgreSQL's WebAssembly memory).
 * - RSS_GROWTH_MB: the mean resident memory of the last third of the run (after the warm-up)
 *   exceeds that of the first third by less than this (measured: 15 MB short, 25 MB long).
 */
const LIVE_GROWTH_MB = 4;
const PEAK_RSS_MB = 450;
const RSS_GROWTH_MB = 60;
/**
 * Open handles of the server (listening sockets, outbound connections, child pipes; not the
 * clients' connections) at rest after the load may exceed those at rest before it by at most
 * this many (pooled registry connections come and go). A connection or server left open per
 * promotion or per request leaves dozens.
 */
const HANDLES_SLACK = 8;
/**
 * Live HTTP responses of the server (objects, after a full collection) at rest after the load may
 * exceed those at rest before it by at most this many. A response kept after it ended — an event
 * stream left in a set, a listener holding its reply — adds one per stream or request: the
 * heap bound cannot see that (about 8 KB each), this count does.
 */
const RESPONSES_SLACK = 5;
const HTTP_RESPONSE = "process.getBuiltinModule('node:http').ServerResponse.prototype";

const APPS = Array.from({ length: 20 }, (_, i) => `svc-${String(i).padStart(2, '0')}`);
const VERSIONS = Array.from({ length: scale(3, 6) }, (_, i) => `1.${i}.0`);
/** Targets promoted from dev: two in dev's own registry (blobs mounted), four through the slow proxy. */
const TARGETS = ['staging', 'qa', 'perf', 'prod', 'dr', 'edge'];
const ON_PROD = new Set(['perf', 'prod', 'dr', 'edge']);
/** Each blob upload into the prod registry is held this long, so copies take a moment (ms). */
const UPLOAD_DELAY_MS = 20;

interface View {
  id: string;
  state: string;
  environment: string;
  applications: { application: string; digest: string; status: string }[];
  error?: { code: string; message: string };
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** The stores the load runs on: the embedded one (CI), and PostgreSQL too in the long variant. */
const STORES = scale(['embedded'], ['embedded', 'postgres']);

describe.each(STORES)(
  `load (%s store): ${IN_FLIGHT} promotions in flight and steady API load for ${DURATION_S} s`,
  (store) => {
    const suite = store === 'embedded' ? 'load' : `load-${store}`;
    let pg: PostgresCluster | undefined;
    const random = rng();
    let dev: RegistryProcess;
    let prod: RegistryProcess;
    let proxy: FaultProxy;
    let dir = '';
    let server: GantryServerProcess | undefined;
    /** `app@version` → digest pushed to dev. */
    const digests = new Map<string, string>();

    beforeAll(async () => {
      [dev, prod] = await Promise.all([startRegistry(), startRegistry()]);
      proxy = await startFaultProxy({
        target: prod.url,
        fault: async (req) => {
          if (req.method === 'PUT' && req.url.includes('/blobs/uploads/')) await sleep(UPLOAD_DELAY_MS);
          return 'pass' as const;
        },
      });
      const images = APPS.flatMap((app) => VERSIONS.map((version) => ({ app, version })));
      let next = 0;
      const push = async (): Promise<void> => {
        while (next < images.length) {
          const { app, version } = images[next++] as { app: string; version: string };
          const image = makeImage({
            seed: `load-${app}-${version}`,
            labels: { 'org.opencontainers.image.version': version },
            layers: [{ size: 256 << 10, seed: `load-${app}-${version}-layer` }],
          });
          digests.set(`${app}@${version}`, await pushImage(dev, `dev/${app}`, image, version));
        }
      };
      await Promise.all(Array.from({ length: 8 }, push));
      dir = await mkdtemp(join(tmpdir(), 'gantry-load-'));
      const config = join(dir, 'gantry.yaml');
      const envs = TARGETS.map(
        (env) =>
          `  ${env}: { registry: ${ON_PROD.has(env) ? 'prod' : 'dev'}, prefix: ${env}, from: [dev], tags: { floating: [current] } }`,
      );
      await writeFile(
        config,
        `registries:
  dev: { url: "${dev.url}" }
  prod: { url: "${proxy.url}" }
environments:
  dev: { registry: dev, prefix: dev }
${envs.join('\n')}
applications: [${APPS.join(', ')}]
`,
      );
      server = await startGantryServer({
        config,
        ...(store === 'postgres'
          ? { databaseUrl: (pg = await startPostgres()).url() }
          : { dataDir: join(dir, 'data') }),
        bootstrapToken: BOOTSTRAP,
        env: { GANTRY_LOG_LEVEL: 'warn' },
        // The inspector (loopback, a free port) lets the test collect all garbage: the live heap is then exact.
        nodeArgs: ['--inspect=127.0.0.1:0'],
      });
    }, 120_000);

    afterAll(async () => {
      await server?.kill();
      await proxy?.stop();
      await Promise.all([dev?.stop(), prod?.stop(), pg?.stop()]);
      if (dir !== '') await rm(dir, { recursive: true, force: true });
    }, 60_000);

    it(
      'serves every request and completes every promotion with the exact digest, within the memory bounds',
      async () => {
        const s = server as GantryServerProcess;
        const pid = s.child.pid as number;
        const token = (name: string, roles: string[]): Promise<string> =>
          createApiToken(s, BOOTSTRAP, { name, roles });
        const ci = await token('load-ci', ['ci']);
        const viewer = await token('load-viewer', ['viewer']);
        const errors: string[] = [];
        const fail = (what: string): void => {
          errors.push(what);
        };
        let apiRequests = 0;
        let stopping = false;

        // Endings, from a tracking stream (and a poll for a promotion whose ending it has not seen).
        const ended = new Map<string, View>();
        const waiting = new Map<string, (v: View) => void>();
        const settle = (view: View): void => {
          if (!ENDED.has(view.state) || ended.has(view.id)) return;
          ended.set(view.id, view);
          waiting.get(view.id)?.(view);
        };
        const tracker = openStream(`${s.url}/api/v1/events`, viewer, (e) => {
          if (e.event === 'promotion') settle(e.data as unknown as View);
        });
        const clients = Array.from({ length: SSE_CLIENTS }, () =>
          openStream(`${s.url}/api/v1/events`, viewer, () => undefined),
        );
        const perPromotion: { id: string; stream: Stream; last?: StreamEvent }[] = [];

        // Memory, every second.
        const samples: { t: number; rss: number; heap: number }[] = [];
        let t0 = performance.now();
        let sampling = false;
        const sampler = setInterval(() => {
          if (!sampling) return;
          void (async () => {
            const t = (performance.now() - t0) / 1000;
            const rss = rssMb(pid);
            const res = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${viewer}` } });
            apiRequests++;
            const text = await res.text();
            if (res.status !== 200) return fail(`GET /metrics: ${res.status}`);
            const heap = metric(text, 'gantry_nodejs_heap_size_used_bytes');
            if (heap === undefined) return fail('GET /metrics: no gantry_nodejs_heap_size_used_bytes');
            samples.push({ t, rss, heap });
          })().catch((error: unknown) => fail(`sampler: ${String(error)}`));
        }, 1000);

        // 50 promotions in flight: each slot requests one, waits for its ending, requests the next.
        const combos = APPS.flatMap((app) =>
          VERSIONS.flatMap((version) => TARGETS.map((env) => ({ app, version, env }))),
        );
        for (let i = combos.length - 1; i > 0; i--) {
          const j = random.int(0, i);
          [combos[i], combos[j]] = [combos[j], combos[i]] as [
            (typeof combos)[number],
            (typeof combos)[number],
          ];
        }
        let cursor = 0;
        const busy = new Set<string>();
        const recent: string[] = [];
        let inFlight = 0;
        let peakInFlight = 0;
        let completed = 0;
        const promoted = new Map<string, string>();
        const nextCombo = (): { app: string; version: string; env: string } => {
          for (let i = 0; i < combos.length; i++) {
            const c = combos[(cursor + i) % combos.length] as { app: string; version: string; env: string };
            if (!busy.has(`${c.app}>${c.env}`)) {
              cursor = (cursor + i + 1) % combos.length;
              return c;
            }
          }
          throw new Error('no free application × environment');
        };
        const waitEnd = async (id: string): Promise<View> => {
          const seen = ended.get(id);
          if (seen) return seen;
          return new Promise<View>((resolve) => {
            // The stream should deliver it; a read every 3 s is the net (and part of the API load).
            const poll = setInterval(() => {
              void api<View>(s, viewer, 'GET', `/api/v1/promotions/${id}`).then((r) => {
                apiRequests++;
                if (r.status !== 200) fail(`GET /promotions/${id}: ${r.status}`);
                else settle(r.body);
              });
            }, 3000);
            waiting.set(id, (v) => {
              clearInterval(poll);
              waiting.delete(id);
              resolve(v);
            });
          });
        };
        const slot = async (n: number): Promise<void> => {
          await sleep(n * 20); // not all at the same millisecond
          while (!stopping) {
            const c = nextCombo();
            busy.add(`${c.app}>${c.env}`);
            const posted = await api<View>(s, ci, 'POST', '/api/v1/promotions', {
              app: c.app,
              version: c.version,
              to: c.env,
            });
            apiRequests++;
            if (posted.status !== 202) {
              fail(`POST ${c.app}@${c.version} → ${c.env}: ${posted.status} ${JSON.stringify(posted.body)}`);
              busy.delete(`${c.app}>${c.env}`);
              await sleep(200);
              continue;
            }
            const id = posted.body.id;
            inFlight++;
            peakInFlight = Math.max(peakInFlight, inFlight);
            recent.push(id);
            if (recent.length > 200) recent.shift();
            // Followed to its end as `gantry promote --server` does.
            const entry: (typeof perPromotion)[number] = { id, stream: undefined as unknown as Stream };
            entry.stream = openStream(`${s.url}/api/v1/promotions/${id}/events`, ci, (e) => {
              entry.last = e;
            });
            perPromotion.push(entry);
            const view = await waitEnd(id);
            inFlight--;
            busy.delete(`${c.app}>${c.env}`);
            const want = digests.get(`${c.app}@${c.version}`) as string;
            if (view.state !== 'completed' || view.applications[0]?.digest !== want)
              fail(
                `${id} (${c.app}@${c.version} → ${c.env}): ${view.state} ${view.applications[0]?.digest ?? ''} ${JSON.stringify(view.error ?? '')}`,
              );
            else {
              completed++;
              promoted.set(`${c.env}/${c.app}:${c.version}`, want);
            }
          }
        };

        // Steady reads.
        const expectOk = async (
          path: string,
          check?: (body: Record<string, unknown>) => string | undefined,
        ) => {
          const r = await api(s, viewer, 'GET', path);
          apiRequests++;
          if (r.status !== 200)
            return fail(`GET ${path}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
          const problem = check?.(r.body);
          if (problem !== undefined) fail(`GET ${path}: ${problem}`);
        };
        const cells = APPS.length * (1 + TARGETS.length);
        const reader = async (): Promise<void> => {
          while (!stopping) {
            const r = random.next();
            const app = random.pick(APPS);
            const env = random.pick(TARGETS);
            if (r < 0.3)
              await expectOk('/api/v1/status', (b) =>
                (b.cells as unknown[]).length === cells
                  ? undefined
                  : `${(b.cells as unknown[]).length} cells`,
              );
            else if (r < 0.5)
              await expectOk(`/api/v1/applications/${app}/candidates?env=${env}`, (b) =>
                (b.candidates as unknown[]).length === VERSIONS.length
                  ? undefined
                  : `${(b.candidates as unknown[]).length} candidates`,
              );
            else if (r < 0.65) {
              const digest = digests.get(`${app}@${random.pick(VERSIONS)}`) as string;
              await expectOk(`/api/v1/applications/${app}/candidates/${digest}?env=${env}`);
            } else if (r < 0.85 && recent.length > 0)
              await expectOk(`/api/v1/promotions/${random.pick(recent)}`);
            else await expectOk(`/api/v1/promotions?limit=20`);
            await sleep(10);
          }
        };

        // At rest (no promotion in flight, only the long-lived streams open), after a full
        // collection through the inspector: the live heap and the open handles (sockets, timers).
        const inspector = await inspect(s);
        /** What the server's open handles are, e.g. `Socket 127.0.0.1:5000→127.0.0.1:41234`. */
        const handleList = async (): Promise<string[]> => {
          const r = (await inspector.call('Runtime.evaluate', {
            expression: `process._getActiveHandles().map((h) => h.constructor.name + ' ' + (h.localPort ? h.localAddress + ':' + h.localPort + '→' + h.remoteAddress + ':' + h.remotePort : ''))`,
            returnByValue: true,
          })) as { result: { value: string[] } };
          return r.result.value;
        };
        /**
         * The live heap and the open handles except the server's inbound connections (whose life
         * the clients choose: they keep idle ones for the server's keep-alive of 72 s).
         */
        const atRest = async (): Promise<{
          heap: number;
          handles: number;
          list: string[];
          responses: number;
        }> => {
          await inspector.call('HeapProfiler.collectGarbage');
          const res = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${viewer}` } });
          apiRequests++;
          const heap = metric(await res.text(), 'gantry_nodejs_heap_size_used_bytes');
          if (res.status !== 200 || heap === undefined) throw new Error(`GET /metrics: ${res.status}`);
          const list = (await handleList()).filter((h) => !h.startsWith(`Socket 127.0.0.1:${s.port}→`));
          const responses = await liveObjects(inspector, HTTP_RESPONSE);
          return { heap, handles: list.length, list, responses };
        };
        /**
         * At rest once idle keep-alive connections closed (the clients' and the server's pools close
         * theirs after 4 s idle): settled when handles stop falling, or at most 15 s.
         */
        const settled = async (): Promise<{
          heap: number;
          handles: number;
          list: string[];
          responses: number;
        }> => {
          await Promise.all(perPromotion.map((p) => p.stream.done));
          await sleep(4500);
          let last = await atRest();
          for (let i = 0; i < 20; i++) {
            await sleep(500);
            const now = await atRest();
            if (now.handles >= last.handles) return now;
            last = now;
          }
          return last;
        };
        /** Runs the load for `seconds`, then lets every promotion in flight end. */
        const load = async (
          seconds: number,
          inFlight: number,
        ): Promise<{ loadS: number; drainS: number }> => {
          stopping = false;
          const start = performance.now();
          const slots = Array.from({ length: inFlight }, (_, n) => slot(n));
          const readers = Array.from({ length: API_CLIENTS }, reader);
          await sleep(seconds * 1000);
          stopping = true;
          const loadS = (performance.now() - start) / 1000;
          await Promise.all([...slots, ...readers]);
          return { loadS, drainS: (performance.now() - start) / 1000 - loadS };
        };

        // Warm-up (JIT, caches, pools), at rest; the load; at rest again.
        await load(WARMUP_S, 10);
        const before = await settled();
        t0 = performance.now();
        sampling = true;
        const { loadS: durationS, drainS } = await load(DURATION_S, IN_FLIGHT);
        sampling = false;
        clearInterval(sampler);
        const after = await settled();
        inspector.close();

        // Every long-lived stream was open the whole time and delivered events.
        const longLived = [tracker, ...clients];
        const streamsOpen = longLived.filter((st) => !st.endedByServer && st.error === undefined).length;
        for (const st of longLived) st.close();
        await Promise.all(longLived.map((st) => st.done));
        await Promise.all(perPromotion.map((p) => p.stream.done));
        const perPromotionOk = perPromotion.filter(
          (p) =>
            p.stream.error === undefined &&
            p.last?.event === 'end' &&
            (p.last.data.promotion as View | undefined)?.state === 'completed',
        ).length;
        for (const p of perPromotion)
          if (p.stream.error !== undefined || p.last?.event !== 'end')
            fail(`stream of ${p.id}: ${p.stream.error ?? `last event ${p.last?.event ?? 'none'}`}`);

        // The target registries serve the exact digests.
        const wrong: string[] = [];
        const tags = [...promoted];
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            for (let t = tags.shift(); t !== undefined; t = tags.shift()) {
              const [ref, want] = t;
              const [repo, tag] = ref.split(':') as [string, string];
              const env = repo.split('/')[0] as string;
              const res = await registryRequest(
                ON_PROD.has(env) ? prod : dev,
                `/v2/${repo}/manifests/${tag}`,
                {
                  method: 'HEAD',
                  headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
                },
              );
              if (res.header('docker-content-digest') !== want) wrong.push(`${ref}: ${res.status}`);
            }
          }),
        );

        // Memory.
        const warm = samples;
        const third = Math.max(1, Math.floor(warm.length / 3));
        const first = warm.slice(0, third);
        const last = warm.slice(-third);
        const rssPeak = Math.max(...samples.map((x) => x.rss));
        const heapPeak = Math.max(...samples.map((x) => x.heap));
        const growth = after.heap - before.heap;
        const heapMinGrowth = Math.min(...last.map((x) => x.heap)) - Math.min(...first.map((x) => x.heap));
        const rssGrowth = mean(last.map((x) => x.rss)) - mean(first.map((x) => x.rss));
        const figures = {
          durationS: round(durationS),
          drainS: round(drainS),
          promotionsCompleted: completed,
          promotionsPerS: round(completed / durationS),
          peakInFlight,
          apiRequests,
          requestsPerS: round(apiRequests / durationS),
          apiErrors: errors.length,
          sseClients: longLived.length,
          sseEvents: longLived.reduce((a, st) => a + st.events, 0),
          perPromotionStreams: perPromotion.length,
          samples: samples.length,
          rssStartMb: round(warm[0]?.rss ?? Number.NaN),
          rssPeakMb: round(rssPeak),
          rssEndMb: round(samples.at(-1)?.rss ?? Number.NaN),
          rssGrowthMb: round(rssGrowth),
          heapUsedPeakMb: round(heapPeak),
          liveHeapStartMb: round(before.heap),
          liveHeapEndMb: round(after.heap),
          handlesStart: before.handles,
          handlesEnd: after.handles,
          responsesStart: before.responses,
          responsesEnd: after.responses,
          growthMb: round(growth),
          heapMinGrowthMb: round(heapMinGrowth),
          boundMb: LIVE_GROWTH_MB,
          peakRssBoundMb: PEAK_RSS_MB,
          rssGrowthBoundMb: RSS_GROWTH_MB,
        };
        const seed = `seed ${random.seed}: ${JSON.stringify(figures)}`;
        expect(errors.slice(0, 20), seed).toEqual([]);
        expect(wrong.slice(0, 20), seed).toEqual([]);
        expect(streamsOpen, seed).toBe(longLived.length);
        for (const st of longLived) expect(st.events, seed).toBeGreaterThan(0);
        expect(perPromotionOk, seed).toBe(perPromotion.length);
        expect(peakInFlight, seed).toBe(IN_FLIGHT);
        expect(completed, seed).toBeGreaterThan(IN_FLIGHT);
        expect(samples.length, seed).toBeGreaterThanOrEqual(DURATION_S - 2);
        expect(rssPeak, seed).toBeLessThan(PEAK_RSS_MB);
        expect(growth, seed).toBeLessThan(LIVE_GROWTH_MB);
        expect(rssGrowth, seed).toBeLessThan(RSS_GROWTH_MB);
        expect(after.responses, seed).toBeLessThanOrEqual(before.responses + RESPONSES_SLACK);
        expect(after.handles, `${seed} ${after.list.join(', ')}`).toBeLessThanOrEqual(
          before.handles + HANDLES_SLACK,
        );
        recordFigures(suite, figures, random.seed);
        writeSamples(suite, samples);
      },
      scale(150_000, 300_000),
    );
  },
);
