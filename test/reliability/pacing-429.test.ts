/**
 * Issue 15, item 5 (second half): a registry that answers 429 to everything for 30 s is paced,
 * not hammered. Two real registries, each behind a fault proxy, serve one `gantry serve`: during
 * the same 30 s one answers `429` with `Retry-After: 1`, the other `429` with no `Retry-After`.
 * The storm starts right after a promotion into each was accepted (so its job meets it), and
 * `GET /api/v1/status` (which reads the registries) is called every few seconds. The proxies count every request they receive during
 * the storm, and the count must stay under a bound derived from the documented retry policy.
 * Afterwards the registries recover: each promotion has either completed with the exact digest or
 * failed cleanly (no tag), and a promotion requested after the storm completes exactly.
 *
 * The bound (src/registry/transport/retry-policy.ts, decision 0008): every request attempt is
 * either the first attempt of a registry operation or a retry, and every retry spends one token of
 * the host's retry budget (`budget`, default 20 tokens, earning 0.1 per success — and there is no
 * success during the storm). So per host, during the storm:
 *
 *   requests ≤ budget + first attempts
 *
 * and the first attempts are at most what the same API calls send to a healthy registry, measured
 * here before the storm (`perPromotion`, `perStatus`): a promotion that fails sends fewer, not
 * more. With Retry-After the host is also paused for 1 s after each 429 (one pause for every
 * request to that host), which only lowers the count.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  makeImage,
  pushImage,
  recordFigures,
  startFaultProxy,
  startGantryServer,
  startRegistry,
  type FaultProxy,
  type GantryServerProcess,
  type RegistryProcess,
  type TestImage,
} from '../helpers/index.js';
import {
  BOOTSTRAP,
  contentProblems,
  makeToken,
  tagDigest,
  waitForPromotion,
  type PromotionView,
} from './serve-helpers.js';

/** The documented per-host retry budget (RetryPolicy default `budget`). */
const RETRY_BUDGET = 20;
const STORM_MS = 30_000;
const STATUS_EVERY_MS = 3_000;

interface Side {
  name: 'with-retry-after' | 'without-retry-after';
  env: string;
  registry: RegistryProcess;
  proxy: FaultProxy;
  storm: boolean;
  during: number;
  image: TestImage;
  warm: TestImage;
}

describe('a registry answering 429 to everything for 30 s is paced, not hammered', () => {
  const sides: Side[] = [];
  let server: GantryServerProcess | undefined;
  let dir = '';
  let token = '';

  beforeAll(async () => {
    for (const name of ['with-retry-after', 'without-retry-after'] as const) {
      const registry = await startRegistry();
      const layer = (k: string) => [{ size: 32 * 1024, seed: `pacing-${name}-${k}` }];
      const side: Side = {
        name,
        env: name === 'with-retry-after' ? 'a' : 'b',
        registry,
        proxy: undefined as unknown as FaultProxy,
        storm: false,
        during: 0,
        image: makeImage({ seed: `pacing-${name}`, layers: layer('storm') }),
        warm: makeImage({ seed: `pacing-${name}-warm`, layers: layer('warm') }),
      };
      side.proxy = await startFaultProxy({
        target: registry.url,
        fault: () => {
          if (!side.storm) return 'pass';
          side.during++;
          const body = { errors: [{ code: 'TOOMANYREQUESTS', message: 'rate limited' }] };
          return name === 'with-retry-after'
            ? { status: 429, headers: { 'Retry-After': '1' }, body }
            : { status: 429, body };
        },
      });
      await pushImage(registry, 'dev/web', side.image, '2.0.0');
      await pushImage(registry, 'dev/web', side.warm, '1.0.0');
      sides.push(side);
    }
    dir = await mkdtemp(join(tmpdir(), 'gantry-pacing-'));
    const config = join(dir, 'gantry.yaml');
    const [a, b] = sides as [Side, Side];
    await writeFile(
      config,
      `registries:
  ra: { url: "${a.proxy.url}" }
  rb: { url: "${b.proxy.url}" }
environments:
  dev-a: { registry: ra, prefix: dev }
  a: { registry: ra, prefix: prod, from: [dev-a] }
  dev-b: { registry: rb, prefix: dev }
  b: { registry: rb, prefix: prod, from: [dev-b] }
applications: [web]
`,
    );
    server = await startGantryServer({ config, dataDir: join(dir, 'data'), bootstrapToken: BOOTSTRAP });
    token = await makeToken(server, 'ci-pacing', ['ci']);
  }, 120_000);

  afterAll(async () => {
    await server?.kill();
    for (const side of sides) {
      await side.proxy.stop();
      await side.registry.stop();
    }
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, 60_000);

  const promote = (env: string, version: string) =>
    api<PromotionView & { error?: { code: string } }>(
      server as GantryServerProcess,
      token,
      'POST',
      '/api/v1/promotions',
      { app: 'web', version, to: env },
    );

  it('counts the requests during the storm, under the bound; then the promotions end exactly or cleanly', async () => {
    const s = server as GantryServerProcess;
    // Healthy first: what one status call and one whole promotion send to each registry.
    const before = sides.map((x) => x.proxy.requests.length);
    const status0 = await api(s, BOOTSTRAP, 'GET', '/api/v1/status');
    expect(status0.status).toBe(200);
    const perStatus = Math.max(...sides.map((x, i) => x.proxy.requests.length - (before[i] as number)));
    const mid = sides.map((x) => x.proxy.requests.length);
    for (const side of sides) {
      const warm = await promote(side.env, '1.0.0');
      expect(warm.status, JSON.stringify(warm.body)).toBe(202);
      expect((await waitForPromotion(s, token, warm.body.id, 60_000)).state).toBe('completed');
    }
    const perPromotion = Math.max(...sides.map((x, i) => x.proxy.requests.length - (mid[i] as number)));

    // The storm: 30 s of 429 on both registries, starting as soon as a promotion into each was
    // accepted (planned against the healthy registry; its job then meets the storm), and a status
    // call every 3 s.
    const posted = await Promise.all(
      sides.map(async (side) => {
        const r = await promote(side.env, '2.0.0');
        side.storm = true;
        return r;
      }),
    );
    const stormStart = Date.now();
    let statusCalls = 0;
    const statusCodes: number[] = [];
    while (Date.now() - stormStart < STORM_MS - STATUS_EVERY_MS) {
      await new Promise((resolve) => setTimeout(resolve, STATUS_EVERY_MS));
      const r = await api(s, BOOTSTRAP, 'GET', '/api/v1/status');
      statusCalls++;
      statusCodes.push(r.status);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, stormStart + STORM_MS - Date.now())));
    for (const side of sides) side.storm = false;
    const stormMs = Date.now() - stormStart;

    const bound = RETRY_BUDGET + perPromotion + perStatus * statusCalls;
    const figures: Record<string, number> = {
      stormMs,
      bound,
      retryBudget: RETRY_BUDGET,
      perPromotion,
      perStatus,
      statusCalls,
    };
    for (const [i, side] of sides.entries()) {
      const tag = side.name;
      figures[`requestsDuring429.${tag}`] = side.during;
      expect(
        side.during,
        `${tag}: ${side.during} requests in ${stormMs} ms (bound ${bound})`,
      ).toBeLessThanOrEqual(bound);
      expect(side.during, `${tag}: the storm was seen at all`).toBeGreaterThan(0);

      // The promotion asked for during the storm: completed exactly, or failed cleanly.
      const p = posted[i] as Awaited<ReturnType<typeof promote>>;
      let outcome: string;
      if (p.status === 202) {
        const view = await waitForPromotion(s, token, p.body.id, 120_000);
        outcome = view.state;
        if (view.state !== 'completed') {
          expect(view.state, JSON.stringify(view)).toBe('failed');
          expect(view.error?.code, JSON.stringify(view)).toMatch(/^REGISTRY_[A-Z_]+$/);
        }
      } else {
        outcome = `refused-${p.status}`;
        expect(p.body.error?.code, JSON.stringify(p.body)).toMatch(/^REGISTRY_[A-Z_]+$/);
      }
      figures[`stormPromotion.${tag}.${outcome}`] = 1;
      const left = await tagDigest(side.registry, 'prod/web', '2.0.0');
      if (outcome === 'completed') expect(left).toBe(side.image.digest);
      else expect(left, `${tag}: a failed promotion wrote its tag`).toBeUndefined();

      // Recovered: the same promotion now completes, with the exact digest and content.
      if (outcome !== 'completed') {
        const again = await promote(side.env, '2.0.0');
        expect(again.status, JSON.stringify(again.body)).toBe(202);
        const view = await waitForPromotion(s, token, again.body.id, 120_000);
        expect(view.state, JSON.stringify(view)).toBe('completed');
      }
      expect(await tagDigest(side.registry, 'prod/web', '2.0.0')).toBe(side.image.digest);
      expect(await contentProblems(side.registry, 'prod/web', side.image)).toEqual([]);
    }
    figures.statusNon200DuringStorm = statusCodes.filter((c) => c !== 200).length;
    console.log(JSON.stringify(recordFigures('pacing-429', figures)));
  }, 240_000);
});
