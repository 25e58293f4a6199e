/**
 * The requests a copy makes, counted through a pass-through proxy in front of each of two real
 * registries: the copy engine asks nothing it already knows (tags listed once per side in a bulk
 * copy, no blob HEAD before a mount or before a small blob goes into a new repository, no read-back
 * when the registry confirmed the digest of a PUT), and still asks whatever it does not know.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { copyImage, copyRepository } from '../../src/copy/index.js';
import { RegistryClient } from '../../src/registry/index.js';
import {
  makeImage,
  pushImage,
  startFaultProxy,
  startRegistry,
  type FaultProxy,
  type FaultProxyRecord,
  type RegistryProcess,
} from '../helpers/index.js';
import { target } from './copy-helpers.js';

let src: RegistryProcess;
let dst: RegistryProcess;
let srcProxy: FaultProxy;
let dstProxy: FaultProxy;
const clients: RegistryClient[] = [];

beforeAll(async () => {
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  for (let i = 0; i < 5; i++) {
    const image = makeImage({ seed: `requests-${i}`, layers: [{ size: 2048, seed: `requests-layer-${i}` }] });
    await pushImage(src, 'bulk/app', image, `v${i}`);
  }
  const big = makeImage({ seed: 'requests-big', layers: [{ size: 300 * 1024, seed: 'requests-big-layer' }] });
  await pushImage(src, 'bulk/big', big, 'v1');
  await pushImage(src, 'bulk/app', big, 'big');
  [srcProxy, dstProxy] = await Promise.all([
    startFaultProxy({ target: src.url }),
    startFaultProxy({ target: dst.url }),
  ]);
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  srcProxy.requests.length = 0;
  dstProxy.requests.length = 0;
});
afterAll(async () => {
  await Promise.all([srcProxy?.stop(), dstProxy?.stop()]);
  await Promise.all([src?.stop(), dst?.stop()]);
});

function client(): RegistryClient {
  const c = new RegistryClient({ hostSettings: () => ({ scheme: 'http' }) });
  clients.push(c);
  return c;
}

/** `METHOD kind` for each request, e.g. `HEAD blob`, `GET manifest`, `GET tags`. */
function kinds(records: readonly FaultProxyRecord[]): string[] {
  return records.map((r) => {
    const path = new URL(r.url, 'http://proxy').pathname;
    const kind = /\/blobs\/uploads\//.test(path)
      ? 'upload'
      : /\/blobs\//.test(path)
        ? 'blob'
        : /\/manifests\/sha256-/.test(path)
          ? 'fallback-tag'
          : /\/manifests\//.test(path)
            ? 'manifest'
            : /\/tags\/list$/.test(path)
              ? 'tags'
              : /\/referrers\//.test(path)
                ? 'referrers'
                : path;
    return `${r.method} ${kind}`;
  });
}

function count(list: readonly string[], what: string): number {
  return list.filter((k) => k === what).length;
}

describe('requests of a bulk copy', () => {
  it('into a new repository: one tag list per side, no HEADs, no per-tag lookups, no read-back', async () => {
    const c = client();
    const result = await copyRepository(target(c, srcProxy, 'bulk/app'), target(c, dstProxy, 'fresh/app'));
    expect(result.copied).toHaveLength(6);
    expect(result.failed).toEqual([]);

    const onDst = kinds(dstProxy.requests);
    expect(count(onDst, 'GET tags')).toBe(1);
    expect(count(onDst, 'GET manifest')).toBe(0);
    expect(count(onDst, 'PUT manifest')).toBe(6);
    // Small blobs go straight up; the 300 KiB layer of tag `big` is asked for first.
    expect(onDst.filter((k) => k.startsWith('HEAD'))).toEqual(['HEAD blob']);
    expect(count(onDst, 'POST upload')).toBe(12);
    expect(count(onDst, 'PUT upload')).toBe(12);
    expect(onDst).toHaveLength(1 + 6 + 1 + 12 + 12);

    const onSrc = kinds(srcProxy.requests);
    expect(count(onSrc, 'GET tags')).toBe(1);
    // The tag list has no `sha256-…` fallback tags, so none is fetched.
    expect(count(onSrc, 'GET fallback-tag')).toBe(0);
    expect(count(onSrc, 'GET manifest')).toBe(6);
    expect(count(onSrc, 'GET blob')).toBe(12);
    // The registry has no referrers API: it is asked once or a few times (images start together), not per image.
    expect(count(onSrc, 'GET referrers')).toBeLessThanOrEqual(6);
  });

  it('a re-run reads one manifest per tag and writes nothing', async () => {
    const c = client();
    const result = await copyRepository(target(c, srcProxy, 'bulk/app'), target(c, dstProxy, 'fresh/app'));
    expect(result.copied.every((r) => r.alreadyComplete)).toBe(true);
    const onDst = kinds(dstProxy.requests);
    expect(count(onDst, 'GET tags')).toBe(1);
    expect(count(onDst, 'GET manifest')).toBe(6);
    expect(onDst.filter((k) => !k.startsWith('GET'))).toEqual([]);
    // Without referrers at the source, the destination's referrers are not asked for.
    expect(count(onDst, 'GET referrers') + count(onDst, 'GET fallback-tag')).toBe(0);
  });

  it('into a repository that has tags: asks for each blob before sending it', async () => {
    const c = client();
    await copyImage(target(c, srcProxy, 'bulk/app'), 'v0', target(c, dstProxy, 'used/app'), {
      tags: ['old'],
    });
    dstProxy.requests.length = 0;
    await copyRepository(target(c, srcProxy, 'bulk/app'), target(c, dstProxy, 'used/app'));
    const onDst = kinds(dstProxy.requests);
    // v0's blobs are there already (from `old`); every other blob is asked for, then sent.
    expect(count(onDst, 'HEAD blob')).toBe(12);
    expect(count(onDst, 'POST upload')).toBe(10);
  });
});

describe('requests of a single copy', () => {
  it('within one registry: mounts every blob without asking first', async () => {
    const c = client();
    const result = await copyImage(
      target(c, dstProxy, 'fresh/app'),
      'big',
      target(c, dstProxy, 'mounted/app'),
      {
        tags: ['big'],
      },
    );
    expect(result.blobs).toEqual({ copied: 0, mounted: 2, skipped: 0, foreign: 0 });
    const onDst = kinds(dstProxy.requests);
    expect(count(onDst, 'HEAD blob')).toBe(0);
    expect(count(onDst, 'POST upload')).toBe(2);
    expect(count(onDst, 'PUT upload')).toBe(0);
  });

  it('between registries: asks for each blob, and trusts a PUT the registry confirmed', async () => {
    const c = client();
    const result = await copyImage(target(c, srcProxy, 'bulk/big'), 'v1', target(c, dstProxy, 'single/big'), {
      tags: ['v1'],
    });
    expect(result.blobs.copied).toBe(2);
    const onDst = kinds(dstProxy.requests);
    expect(count(onDst, 'HEAD blob')).toBe(2);
    // One lookup of the tag before the copy; none after the PUT that answered with the digest.
    expect(count(onDst, 'GET manifest')).toBe(1);
    expect(count(onDst, 'PUT manifest')).toBe(1);
  });
});
