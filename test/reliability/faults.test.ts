/**
 * Issue 15, "Faults": promotions through a REAL `gantry serve` (embedded store) whose source (dev)
 * and target (prod) registries — real distribution registries — each sit behind a fault proxy.
 * Every request through a proxy gets, at a seeded rate, a fault: 503 or 429 with `Retry-After`
 * (seconds or HTTP-date), a plain 503, a connection reset before the answer, a manifest or blob cut
 * half-way (`reset-mid-body`), a flipped byte in a manifest or blob (`corrupt-byte`), or a slow
 * answer (below the request deadlines; above them in the long variant); and once per run the prod
 * registry is killed and restarted on the same port and storage in the middle of a copy.
 *
 * The promise checked for every promotion: it either completes and the target tag resolves to the
 * source digest, with every manifest and blob in the target hashing to its digest (read from the
 * registry directly, not through the proxy), or it fails with a clear error code and its tags are
 * not written (the version tag absent, the floating tag where it was). Never a wrong digest: a
 * final sweep hashes every tag of every target repository.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  makeImage,
  makeIndex,
  pushImage,
  recordFigures,
  rng,
  scale,
  seedOf,
  startFaultProxy,
  startGantryServer,
  startRegistry,
  type FaultDecision,
  type FaultProxy,
  type FaultRequest,
  type GantryServerProcess,
  type RegistryProcess,
  type TestImage,
  type TestIndex,
  writeDevProdConfig,
} from '../helpers/index.js';
import {
  BOOTSTRAP,
  bump,
  contentProblems,
  makeToken,
  tagDigest,
  tagsOf,
  waitForPromotion,
  type PromotionView,
} from './serve-helpers.js';

const SEED = seedOf();
const random = rng(SEED);
const PROMOTIONS = scale(16, 150);
const APPS = ['alpha', 'beta', 'gamma', 'delta'];
/** Share of proxied requests that get a fault. */
const FAULT_RATE = 0.1;
/** Slow answers: up to this many ms, well below the transport's 60 s header and body deadlines. */
const SLOW_MAX_MS = scale(2_500, 4_000);
/** Long variant only: a few answers held past the 60 s header deadline. */
const STALLS = scale(0, 2);
const STALL_MS = 62_000;

type Kind =
  | '503-retry-after'
  | '503'
  | '429-retry-after-seconds'
  | '429-retry-after-date'
  | 'reset'
  | 'reset-mid-body'
  | 'corrupt-byte'
  | 'slow'
  | 'stall';

const injected: Record<string, number> = {};
const outcomes = {
  completedExact: 0,
  failedClean: 0,
  refusedAtRequest: 0,
  wrongDigests: 0,
  tagsWrittenOnFailure: 0,
  floatingTagMovedOnFailure: 0,
  tagsLeftReported: 0,
};
const failureCodes: Record<string, number> = {};
/** Every failure's message, printed at the end (for reading, not asserted). */
const failureSamples: string[] = [];
let armed = false;
let stallsLeft = STALLS;

function decide(req: FaultRequest): FaultDecision {
  if (!armed || random.next() >= FAULT_RATE) return 'pass';
  const path = new URL(req.url, 'http://x').pathname;
  const bodyGet = req.method === 'GET' && /\/(blobs\/sha256:[0-9a-f]{64}|manifests\/[^/]+)$/.test(path);
  const kinds: Kind[] = [
    '503-retry-after',
    '503',
    '429-retry-after-seconds',
    '429-retry-after-date',
    'reset',
    'slow',
    ...(bodyGet ? (['reset-mid-body', 'corrupt-byte', 'reset-mid-body', 'corrupt-byte'] as const) : []),
    ...(stallsLeft > 0 ? (['stall'] as const) : []),
  ];
  const kind = random.pick(kinds);
  bump(injected, kind);
  const tooMany = { errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] };
  switch (kind) {
    case '503-retry-after':
      return { status: 503, headers: { 'Retry-After': '1' }, body: 'maintenance' };
    case '503':
      return { status: 503, body: 'service unavailable' };
    case '429-retry-after-seconds':
      return { status: 429, headers: { 'Retry-After': String(random.int(0, 1)) }, body: tooMany };
    case '429-retry-after-date':
      // An HTTP-date one to two seconds ahead (second resolution, so it may round down).
      return {
        status: 429,
        headers: { 'Retry-After': new Date(Date.now() + random.int(1_000, 2_000)).toUTCString() },
        body: tooMany,
      };
    case 'reset':
      return 'reset';
    case 'reset-mid-body':
      return 'reset-mid-body';
    case 'corrupt-byte':
      return 'corrupt-byte';
    case 'slow':
      return { delayMs: random.int(200, SLOW_MAX_MS) };
    case 'stall':
      stallsLeft--;
      return { delayMs: STALL_MS };
  }
}

/** A generated image: single-platform with 1–4 layers, or (one in three) an index of 2–3 children. */
function imageFor(i: number): TestImage | TestIndex {
  const layers = (tag: string, n: number) =>
    Array.from({ length: n }, (_, k) => ({
      size: random.int(1, 48) * 1024 + random.int(0, 1023),
      seed: `faults-${SEED}-${i}-${tag}-${k}`,
    }));
  if (random.next() < 1 / 3) {
    const platforms = ['amd64', 'arm64', 'ppc64le'].slice(0, random.int(2, 3));
    return makeIndex(
      platforms.map((architecture) =>
        makeImage({
          seed: `faults-${SEED}-${i}-${architecture}`,
          platform: { os: 'linux', architecture },
          layers: layers(architecture, random.int(1, 3)),
        }),
      ),
    );
  }
  return makeImage({ seed: `faults-${SEED}-${i}`, layers: layers('single', random.int(1, 4)) });
}

describe(`promotions through gantry serve with faulty registries (seed ${SEED})`, () => {
  let dev: RegistryProcess;
  let prod: RegistryProcess;
  let devProxy: FaultProxy;
  let prodProxy: FaultProxy;
  let server: GantryServerProcess | undefined;
  let dir = '';
  let token = '';
  /** Promotion index whose copy sees the prod registry restarted, and the restart once begun. */
  const restartAt = random.int(1, Math.max(1, Math.min(PROMOTIONS - 2, 8)));
  let restart: Promise<void> | undefined;
  let restartRequests = 0;
  const inFlight = new Map<string, number>();
  /** The digest promoted under each version tag, and the last completed digest of each app. */
  const promoted = new Map<string, { repo: string; tag: string; digest: string }>();
  const current = new Map<string, string>();

  beforeAll(async () => {
    [dev, prod] = await Promise.all([startRegistry(), startRegistry()]);
    devProxy = await startFaultProxy({ target: dev.url, fault: (req) => decide(req) });
    prodProxy = await startFaultProxy({
      target: prod.url,
      fault: (req) => {
        const m = /^\/v2\/prod\/([a-z]+)\/blobs\/uploads\//.exec(req.url);
        if (m && restart === undefined && (inFlight.get(m[1] as string) ?? -1) >= restartAt) {
          // Crash the registry under this upload; the requests meanwhile meet a closed port.
          restart = prod.restart(random.int(200, 1_500));
          restartRequests = prodProxy.requests.length;
          return 'pass';
        }
        return decide(req);
      },
    });
    dir = await mkdtemp(join(tmpdir(), 'gantry-faults-'));
    const config = await writeDevProdConfig(dir, {
      dev: devProxy.url,
      prod: prodProxy.url,
      applications: APPS,
    });
    server = await startGantryServer({ config, dataDir: join(dir, 'data'), bootstrapToken: BOOTSTRAP });
    token = await makeToken(server, 'ci-faults', ['ci']);
  }, 120_000);

  afterAll(async () => {
    armed = false;
    await server?.kill();
    await Promise.all([devProxy?.stop(), prodProxy?.stop()]);
    await restart?.catch(() => undefined);
    await Promise.all([dev?.stop(), prod?.stop()]);
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, 60_000);

  async function promoteOne(i: number): Promise<void> {
    const app = APPS[i % APPS.length] as string;
    const version = `1.${i}.0`;
    const repo = `prod/${app}`;
    const image = imageFor(i);
    await pushImage(dev, `dev/${app}`, image, version);
    const before = await tagDigest(prod, repo, 'current');
    const why = (what: string): string => `seed ${SEED}, promotion ${i} (${app} ${version}): ${what}`;

    inFlight.set(app, i);
    let view: PromotionView | undefined;
    let refused: { status: number; body: unknown } | undefined;
    try {
      const posted = await api<PromotionView & { error?: { code: string } }>(
        server as GantryServerProcess,
        token,
        'POST',
        '/api/v1/promotions',
        { app, version, to: 'prod' },
      );
      if (posted.status === 202) {
        view = await waitForPromotion(server as GantryServerProcess, token, posted.body.id, 240_000);
      } else refused = posted;
    } finally {
      inFlight.delete(app);
    }
    if (restart !== undefined) await restart;

    const versionTag = await tagDigest(prod, repo, version);
    const floating = await tagDigest(prod, repo, 'current');
    if (view?.state === 'completed') {
      expect(versionTag, why('version tag')).toBe(image.digest);
      expect(floating, why('floating tag')).toBe(image.digest);
      expect(view.applications[0]?.digest, why('digest in the view')).toBe(image.digest);
      expect(await contentProblems(prod, repo, image), why('content')).toEqual([]);
      outcomes.completedExact++;
      promoted.set(`${repo}:${version}`, { repo, tag: version, digest: image.digest });
      current.set(repo, image.digest);
      return;
    }
    // Failed (or refused before it began): a clear error code, and no tag written.
    const code = view ? view.error?.code : (refused?.body as { error?: { code?: string } }).error?.code;
    expect(view?.state ?? 'refused', why(JSON.stringify(view ?? refused))).toMatch(/^(failed|refused)$/);
    expect(code, why(`error code of ${JSON.stringify(view ?? refused)}`)).toMatch(/^[A-Z][A-Z0-9_]+$/);
    expect(code, why('never INTERNAL')).not.toBe('INTERNAL');
    bump(failureCodes, code as string);
    const message = view
      ? view.error?.message
      : (refused?.body as { error?: { message?: string } }).error?.message;
    failureSamples.push(`${view ? 'failed' : `refused ${refused?.status}`} ${code}: ${message}`);
    if (view) outcomes.failedClean++;
    else outcomes.refusedAtRequest++;
    // A tag may stay only where the error says it could not be undone (distribution 2.x cannot
    // delete a new tag), and then on the promoted digest itself, never on another one.
    const incomplete = (view?.error as { details?: { incomplete?: string[] } } | undefined)?.details
      ?.incomplete;
    const reported = (tag: string): boolean => (incomplete ?? []).some((x) => x.includes(`${repo}:${tag}`));
    const left: Record<string, string | undefined> = {};
    if (versionTag !== undefined) {
      outcomes.tagsWrittenOnFailure++;
      expect(versionTag, why('a version tag left behind')).toBe(image.digest);
      promoted.set(`${repo}:${version}`, { repo, tag: version, digest: image.digest });
      if (!reported(version)) left[version] = versionTag;
      else outcomes.tagsLeftReported++;
    }
    if (floating !== before) {
      outcomes.floatingTagMovedOnFailure++;
      expect(floating, why('a floating tag left behind')).toBe(image.digest);
      current.set(repo, image.digest);
      if (!reported('current')) left.current = floating;
      else outcomes.tagsLeftReported++;
    }
    expect(left, why(`tags left unreported after ${code}: ${JSON.stringify(view?.error)}`)).toEqual({});
  }

  it(
    `${PROMOTIONS} promotions complete exactly or fail cleanly; never a wrong digest`,
    async () => {
      armed = true;
      // Waves of one promotion per application at a time, so "the tag before" is well defined.
      for (let start = 0; start < PROMOTIONS; start += APPS.length) {
        const wave = Array.from({ length: Math.min(APPS.length, PROMOTIONS - start) }, (_, k) => start + k);
        await Promise.all(wave.map((i) => promoteOne(i)));
      }
      armed = false;
      expect(restart, `seed ${SEED}: the registry restart never happened`).toBeDefined();
      await restart;

      // The sweep: every tag of every target repository hashes to what was promoted under it.
      const sweep: string[] = [];
      for (const app of APPS) {
        const repo = `prod/${app}`;
        for (const tag of await tagsOf(prod, repo)) {
          const digest = await tagDigest(prod, repo, tag);
          const expected = tag === 'current' ? current.get(repo) : promoted.get(`${repo}:${tag}`)?.digest;
          // Promotion records (the referrers tag schema, `sha256-…`) are checked for their hash only.
          if (tag.startsWith('sha256-')) continue;
          if (digest !== expected) sweep.push(`${repo}:${tag} is ${digest}, expected ${expected}`);
        }
      }
      outcomes.wrongDigests = sweep.length;
      expect(sweep, `seed ${SEED}`).toEqual([]);
      expect(outcomes.completedExact + outcomes.failedClean + outcomes.refusedAtRequest).toBe(PROMOTIONS);
      // The faults must have been real, or this proves nothing.
      const total = Object.values(injected).reduce((a, b) => a + b, 0);
      expect(total, `seed ${SEED}: faults injected`).toBeGreaterThan(PROMOTIONS);
      expect(outcomes.completedExact, `seed ${SEED}: some promotions get through`).toBeGreaterThan(0);

      const figures = recordFigures(
        'faults',
        {
          promotions: PROMOTIONS,
          completedExact: outcomes.completedExact,
          failedClean: outcomes.failedClean,
          refusedAtRequest: outcomes.refusedAtRequest,
          wrongDigests: outcomes.wrongDigests,
          tagsWrittenOnFailure: outcomes.tagsWrittenOnFailure,
          floatingTagMovedOnFailure: outcomes.floatingTagMovedOnFailure,
          tagsLeftReportedNotUndone: outcomes.tagsLeftReported,
          registryRestarts: 1,
          restartAtRequest: restartRequests,
          proxiedRequests: devProxy.requests.length + prodProxy.requests.length,
          faultsInjected: total,
          ...Object.fromEntries(Object.entries(injected).map(([k, v]) => [`faults.${k}`, v])),
          ...Object.fromEntries(Object.entries(failureCodes).map(([k, v]) => [`failureCode.${k}`, v])),
        },
        SEED,
      );
      console.log(JSON.stringify(figures));
      console.log(failureSamples.join('\n'));
    },
    scale(300_000, 3_600_000),
  );
});
