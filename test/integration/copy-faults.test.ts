/**
 * The copy engine through a FAULT-INJECTING reverse proxy, once in front of the SOURCE registry and
 * once in front of the DESTINATION registry: transient faults (503, 429 with Retry-After, dropped
 * and corrupted blob downloads, failed uploads and manifest PUTs) still end in a byte-exact copy,
 * while faults that never stop fail with a code a CI can branch on, naming the side and the blob,
 * and never leave a tag behind.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isGantryError, type GantryError } from '../../src/core/index.js';
import { copyImage, type CopyEvent, type CopyResult, type CopyRetryOptions } from '../../src/copy/index.js';
import { RegistryClient } from '../../src/registry/index.js';
import {
  ALL_MANIFEST_TYPES,
  fetchBlob,
  fetchManifest,
  makeImage,
  pushImage,
  registryRequest,
  startFaultProxy,
  startRegistry,
  type FaultDecision,
  type FaultFunction,
  type FaultProxy,
  type FaultRequest,
  type RegistryProcess,
  type TestImage,
} from '../helpers/index.js';
import { target } from './copy-helpers.js';
import { runCli } from './run-cli.js';

let src: RegistryProcess;
let dst: RegistryProcess;
const proxies: FaultProxy[] = [];
const clients: RegistryClient[] = [];

beforeAll(async () => {
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
});
afterAll(async () => {
  await Promise.all([src?.stop(), dst?.stop()]);
});

/** A client for plain-HTTP test hosts (registries and proxies) with quick retries. */
function quickClient(): RegistryClient {
  const c = new RegistryClient({
    hostSettings: () => ({ scheme: 'http' }),
    retry: { baseDelayMs: 10, maxDelayMs: 50, maxRetryAfterMs: 5_000 },
  });
  clients.push(c);
  return c;
}

type Side = 'source' | 'destination';

const pathOf = (r: FaultRequest): string => new URL(r.url, 'http://proxy').pathname;
const isBlobGet = (r: FaultRequest): boolean =>
  r.method === 'GET' && /\/blobs\/sha256:[0-9a-f]{64}$/.test(pathOf(r));
const isBlobGetOf =
  (digest: string) =>
  (r: FaultRequest): boolean =>
    isBlobGet(r) && pathOf(r).endsWith(`/blobs/${digest}`);
const isUploadStart = (r: FaultRequest): boolean =>
  r.method === 'POST' && /\/blobs\/uploads\/$/.test(pathOf(r));
const isBlobPut = (r: FaultRequest): boolean => r.method === 'PUT' && /\/blobs\/uploads\//.test(pathOf(r));
const isManifestPut = (r: FaultRequest): boolean => r.method === 'PUT' && /\/manifests\//.test(pathOf(r));
const isTagPut = (tag: string) => (r: FaultRequest) => isManifestPut(r) && pathOf(r).endsWith(`/${tag}`);

/** Answers the first `decisions.length` requests matching `match` with those decisions, in order; passes everything else. */
function script(match: (r: FaultRequest) => boolean, decisions: readonly FaultDecision[]): FaultFunction {
  let seen = 0;
  return (req) => {
    if (!match(req)) return 'pass';
    return decisions[seen++] ?? 'pass';
  };
}

/** Answers every request matching `match` with `decision`. */
function always(match: (r: FaultRequest) => boolean, decision: FaultDecision): FaultFunction {
  return (req) => (match(req) ? decision : 'pass');
}

const unavailable: FaultDecision = { status: 503, body: 'service unavailable' };

/** A unique image with one big (1.5 MB) and one small layer. */
function imageFor(seed: string): TestImage {
  return makeImage({
    seed: `faults-${seed}`,
    layers: [
      { size: 1_500_000, seed: `faults-${seed}:big` },
      { size: 3_000, seed: `faults-${seed}:small` },
    ],
  });
}

const bigLayer = (image: TestImage): string => image.layers[0]!.digest;
/** The small layer: read whole and uploaded as one buffer, not streamed. */
const smallLayer = (image: TestImage): string => image.layers[1]!.digest;

interface Setup {
  readonly image: TestImage;
  readonly repo: string;
  readonly proxy: FaultProxy;
  readonly events: CopyEvent[];
  /** Copies `repo:v1` through the proxy (on `side`) to the real destination as `repo:v1`. */
  copy(options?: { retry?: CopyRetryOptions }): Promise<CopyResult>;
}

/** Pushes a fresh image to the source and puts a fault proxy in front of `side`. */
async function setup(name: string, side: Side, fault: FaultFunction): Promise<Setup> {
  const image = imageFor(name);
  const repo = `faults/${name}`;
  await pushImage(src, repo, image, 'v1');
  const proxy = await startFaultProxy({ target: (side === 'source' ? src : dst).url, fault });
  proxies.push(proxy);
  const client = quickClient();
  const events: CopyEvent[] = [];
  const source = target(client, side === 'source' ? proxy : src, repo);
  const destination = target(client, side === 'destination' ? proxy : dst, repo);
  return {
    image,
    repo,
    proxy,
    events,
    copy: (options = {}) =>
      copyImage(source, 'v1', destination, {
        tags: ['v1'],
        onEvent: (e) => events.push(e),
        retry: { backoffMs: 10, ...options.retry },
      }),
  };
}

/** The destination (read directly, not through the proxy) has the image byte for byte under `tag`. */
async function expectByteExact(repo: string, tag: string, image: TestImage): Promise<void> {
  const got = await fetchManifest(dst, repo, tag);
  expect(got.digest).toBe(image.digest);
  expect(got.bytes.equals(image.manifest)).toBe(true);
  for (const [digest, bytes] of image.blobs) {
    expect((await fetchBlob(dst, repo, digest)).equals(bytes), `blob ${digest}`).toBe(true);
  }
}

/** HEADs `repo:tag` on the real destination registry: its status (404 when the tag is absent). */
async function tagStatus(repo: string, tag: string): Promise<number> {
  const res = await registryRequest(dst, `/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: ALL_MANIFEST_TYPES.join(', ') },
  });
  return res.status;
}

async function failure(p: Promise<unknown>): Promise<GantryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isGantryError(err)) throw new Error(`expected a GantryError, got ${String(err)}`);
  return err;
}

const faulted = (proxy: FaultProxy, fault: string) => proxy.requests.filter((r) => r.fault === fault);
const retries = (events: CopyEvent[]) => events.filter((e) => e.type === 'blob-retry');

describe('copy through a FAULT-INJECTING proxy in front of the SOURCE', () => {
  it('finishes byte-exact when blob GETs are answered 503 twice', async () => {
    const s = await setup('src-503', 'source', script(isBlobGet, [unavailable, unavailable]));
    const r = await s.copy();
    expect(r.digest).toBe(s.image.digest);
    expect(r.blobs.copied).toBe(3);
    expect(faulted(s.proxy, 'canned')).toHaveLength(2);
    await expectByteExact(s.repo, 'v1', s.image);
  });

  it('waits out a 429 with Retry-After: 1 and finishes byte-exact', async () => {
    const tooMany: FaultDecision = {
      status: 429,
      headers: { 'Retry-After': '1' },
      body: { errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] },
    };
    const s = await setup('src-429', 'source', script(isBlobGet, [tooMany]));
    const started = Date.now();
    const r = await s.copy();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(r.digest).toBe(s.image.digest);
    expect(faulted(s.proxy, 'canned')).toHaveLength(1);
    await expectByteExact(s.repo, 'v1', s.image);
  });

  it('resumes a blob download reset mid-body with Range and finishes byte-exact', async () => {
    const ranges: string[] = [];
    const big = bigLayer(imageFor('src-reset-mid'));
    const s = await setup('src-reset-mid', 'source', (req) => {
      if (!isBlobGetOf(big)(req)) return 'pass';
      if (typeof req.headers.range === 'string') ranges.push(req.headers.range);
      return faulted(s.proxy, 'reset-mid-body').length === 0 ? 'reset-mid-body' : 'pass';
    });
    const r = await s.copy();
    expect(r.digest).toBe(s.image.digest);
    expect(faulted(s.proxy, 'reset-mid-body')).toHaveLength(1);
    const gets = s.proxy.requests.filter((q) => q.method === 'GET' && q.url.endsWith(bigLayer(s.image)));
    expect(gets.length).toBeGreaterThanOrEqual(2);
    // Either the download resumed where it broke off, or the whole blob was restarted.
    const resumed = ranges.some((h) => /^bytes=[1-9]\d*-$/.test(h));
    expect(resumed || retries(s.events).length > 0).toBe(true);
    expect(resumed, 'the dropped download resumes with a Range request').toBe(true);
    await expectByteExact(s.repo, 'v1', s.image);
  });

  it('retries a blob GET whose connection is reset before any answer', async () => {
    const s = await setup('src-reset', 'source', script(isBlobGet, ['reset']));
    const r = await s.copy();
    expect(r.digest).toBe(s.image.digest);
    expect(faulted(s.proxy, 'reset')).toHaveLength(1);
    await expectByteExact(s.repo, 'v1', s.image);
  });

  it.each([
    ['streamed big layer', 'src-corrupt', bigLayer],
    ['small layer read whole', 'src-corrupt-small', smallLayer],
  ] as const)(
    'catches a corrupted byte in the %s by digest verification and restarts the blob',
    async (_what, name, layerOf) => {
      const layer = layerOf(imageFor(name));
      const s = await setup(name, 'source', (req) =>
        isBlobGetOf(layer)(req) && faulted(s.proxy, 'corrupt-byte').length === 0 ? 'corrupt-byte' : 'pass',
      );
      const r = await s.copy();
      expect(r.digest).toBe(s.image.digest);
      expect(faulted(s.proxy, 'corrupt-byte')).toHaveLength(1);
      const gets = s.proxy.requests.filter((q) => q.method === 'GET' && q.url.endsWith(layer));
      expect(gets.length).toBeGreaterThanOrEqual(2);
      const retry = retries(s.events);
      expect(retry).toHaveLength(1);
      expect(retry[0]).toMatchObject({ digest: layer, attempt: 1 });
      expect((retry[0] as { reason: string }).reason).toMatch(/source.*hashes to/);
      await expectByteExact(s.repo, 'v1', s.image);
    },
  );

  it('fails with REGISTRY_DIGEST_MISMATCH naming the source and the blob when every download is corrupt, leaving no tag', async () => {
    const big = bigLayer(imageFor('src-corrupt-always'));
    const s = await setup('src-corrupt-always', 'source', (req) =>
      isBlobGetOf(big)(req) ? 'corrupt-byte' : 'pass',
    );
    const err = await failure(s.copy({ retry: { maxStalls: 2 } }));
    expect(err.code).toBe('REGISTRY_DIGEST_MISMATCH');
    expect(err.message).toMatch(/^source /);
    expect(err.message).toContain(bigLayer(s.image));
    expect(err.details.side).toBe('source');
    // The first attempt moved the bytes; two more moved no more (maxStalls: 2), each a fresh download.
    expect(faulted(s.proxy, 'corrupt-byte')).toHaveLength(3);
    expect(retries(s.events)).toHaveLength(2);
    expect(await tagStatus(s.repo, 'v1')).toBe(404);
    expect(await tagStatus(s.repo, s.image.digest)).toBe(404);
  });

  it('fails with REGISTRY_SERVER_ERROR naming the source when blob GETs answer 503 forever, leaving no tag', async () => {
    const s = await setup('src-503-always', 'source', always(isBlobGet, unavailable));
    const err = await failure(s.copy());
    expect(err.code).toBe('REGISTRY_SERVER_ERROR');
    expect(err.message).toMatch(/^source /);
    expect(await tagStatus(s.repo, 'v1')).toBe(404);
  });

  it('gantry copy exits 8 with one line naming the source and the blob when every download is corrupt', async () => {
    const big = bigLayer(imageFor('src-corrupt-cli'));
    const s = await setup('src-corrupt-cli', 'source', (req) =>
      isBlobGetOf(big)(req) ? 'corrupt-byte' : 'pass',
    );
    const human = await runCli([
      'copy',
      `${s.proxy.host}/${s.repo}:v1`,
      `${dst.host}/${s.repo}:v1`,
      '--tls-verify=false',
      '--quiet',
    ]);
    expect(human.code).toBe(8);
    expect(human.stderr).toMatch(/^gantry: source .*\[REGISTRY_DIGEST_MISMATCH\]\n$/);
    expect(human.stderr).toContain(bigLayer(s.image));
    expect(human.stderr).not.toMatch(/\n\s+at /);
    const json = await runCli([
      'copy',
      `${s.proxy.host}/${s.repo}:v1`,
      `${dst.host}/${s.repo}:v1`,
      '--tls-verify=false',
      '--json',
    ]);
    expect(json.code).toBe(8);
    expect(JSON.parse(json.stdout)).toMatchObject({
      error: { code: 'REGISTRY_DIGEST_MISMATCH', side: 'source' },
    });
    expect(await tagStatus(s.repo, 'v1')).toBe(404);
  });
});

describe('copy through a FAULT-INJECTING proxy in front of the DESTINATION', () => {
  it('restarts a blob whose upload PUT is answered 500 once and finishes byte-exact', async () => {
    const s = await setup('dst-put-500', 'destination', script(isBlobPut, [{ status: 500, body: 'oops' }]));
    const r = await s.copy();
    expect(r.digest).toBe(s.image.digest);
    expect(r.blobs.copied).toBe(3);
    expect(faulted(s.proxy, 'canned')).toHaveLength(1);
    expect(retries(s.events)).toHaveLength(1);
    // The failed upload's session is cancelled, not left behind; the restart opened a new one.
    const cancels = s.proxy.requests.filter(
      (r) => r.method === 'DELETE' && r.url.includes('/blobs/uploads/'),
    );
    expect(cancels.map((r) => r.status)).toEqual([204]);
    await expectByteExact(s.repo, 'v1', s.image);
  });

  it('restarts a blob whose upload connection is reset once and finishes byte-exact', async () => {
    const s = await setup('dst-put-reset', 'destination', script(isBlobPut, ['reset']));
    const r = await s.copy();
    expect(r.digest).toBe(s.image.digest);
    expect(faulted(s.proxy, 'reset')).toHaveLength(1);
    await expectByteExact(s.repo, 'v1', s.image);
  });

  it('retries a manifest PUT answered 503 once and finishes byte-exact', async () => {
    const s = await setup('dst-manifest-503', 'destination', script(isManifestPut, [unavailable]));
    const r = await s.copy();
    expect(r.digest).toBe(s.image.digest);
    expect(faulted(s.proxy, 'canned')).toHaveLength(1);
    await expectByteExact(s.repo, 'v1', s.image);
  });

  it('fails naming the destination when it refuses every upload, leaving no tag', async () => {
    const denied: FaultDecision = {
      status: 403,
      body: { errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }] },
    };
    const s = await setup('dst-denied', 'destination', always(isUploadStart, denied));
    const err = await failure(s.copy());
    expect(err.code).toBe('REGISTRY_DENIED');
    expect(err.message).toMatch(/^destination /);
    expect(err.details.side).toBe('destination');
    // Denied is not worth restarting: no blob was tried more than once.
    expect(retries(s.events)).toHaveLength(0);
    expect(await tagStatus(s.repo, 'v1')).toBe(404);
    expect(await tagStatus(s.repo, s.image.digest)).toBe(404);
  });

  it('fails naming the destination when every upload PUT answers 500, leaving no tag', async () => {
    const s = await setup(
      'dst-put-500-always',
      'destination',
      always(isBlobPut, { status: 500, body: 'no' }),
    );
    const err = await failure(s.copy());
    expect(err.code).toBe('REGISTRY_SERVER_ERROR');
    expect(err.message).toMatch(/^destination /);
    expect(err.message).toMatch(/blob sha256:[0-9a-f]{64}/);
    expect(await tagStatus(s.repo, 'v1')).toBe(404);
  });

  it('fails naming the destination when every manifest PUT answers 503, leaving no tag', async () => {
    const s = await setup('dst-manifest-503-always', 'destination', always(isManifestPut, unavailable));
    const err = await failure(s.copy());
    expect(err.code).toBe('REGISTRY_SERVER_ERROR');
    expect(err.message).toMatch(/^destination manifest /);
    expect(await tagStatus(s.repo, 'v1')).toBe(404);
    expect(await tagStatus(s.repo, s.image.digest)).toBe(404);
  });

  it('fails when only the tag PUT is refused: the blobs are there, the tag is not', async () => {
    const s = await setup('dst-tag-refused', 'destination', always(isTagPut('v1'), unavailable));
    const err = await failure(s.copy());
    expect(err.code).toBe('REGISTRY_SERVER_ERROR');
    expect(err.message).toMatch(/^destination manifest .*:v1/);
    expect(await tagStatus(s.repo, 'v1')).toBe(404);
    // Nothing refers to the image, so its manifest was to arrive with the tag in one PUT.
    for (const [digest, bytes] of s.image.blobs)
      expect((await fetchBlob(dst, s.repo, digest)).equals(bytes)).toBe(true);
  });
});
