/**
 * Fifty copies of a 14-blob image between two real registries, each side behind a
 * FAULT-INJECTING proxy at heavy rates: one request in ten answered 503 or 429 and a few reset on
 * both sides, and over a third of the source's blob downloads cut half-way or corrupted. Every
 * copy must arrive exact (the destination's manifest digest and every blob present), with the
 * library's default retry settings, as `gantry copy` runs them. scripts/bench-faults.ts runs the
 * same scenario against skopeo (BENCHMARKS.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyImage } from '../../src/copy/index.js';
import { RegistryClient } from '../../src/registry/index.js';
import {
  ALL_MANIFEST_TYPES,
  HEAVY_FAULTS,
  fetchManifest,
  heavyFaultImage,
  pushImage,
  randomFaults,
  registryRequest,
  startFaultProxy,
  startRegistry,
  type FaultProxy,
  type RandomFaults,
  type RegistryProcess,
} from '../helpers/index.js';
import { target } from './copy-helpers.js';

const COPIES = 50;
const PARALLEL = 5;

let src: RegistryProcess;
let dst: RegistryProcess;
let srcProxy: FaultProxy;
let dstProxy: FaultProxy;
const srcFaults: RandomFaults = randomFaults({ ...HEAVY_FAULTS.source, seed: 9 });
const dstFaults: RandomFaults = randomFaults({ ...HEAVY_FAULTS.destination, seed: 11 });
const image = heavyFaultImage();

beforeAll(async () => {
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  await pushImage(src, 'heavy/app', image, 'v1');
  [srcProxy, dstProxy] = await Promise.all([
    startFaultProxy({ target: src.url, fault: srcFaults.fault }),
    startFaultProxy({ target: dst.url, fault: dstFaults.fault }),
  ]);
});
afterAll(async () => {
  await Promise.all([srcProxy?.stop(), dstProxy?.stop()]);
  await Promise.all([src?.stop(), dst?.stop()]);
});

/** One copy with a client of its own, as one `gantry copy` process has. */
async function copyOnce(i: number): Promise<string> {
  const client = new RegistryClient({ hostSettings: () => ({ scheme: 'http' }) });
  try {
    const repo = `heavy/copy-${i}`;
    await copyImage(target(client, srcProxy, 'heavy/app'), 'v1', target(client, dstProxy, repo), {
      tags: ['v1'],
    });
    return repo;
  } finally {
    await client.close();
  }
}

/** True when the real destination has `repo:v1` with the image's digest and every blob. */
async function exact(repo: string): Promise<boolean> {
  const manifest = await fetchManifest(dst, repo, 'v1', ALL_MANIFEST_TYPES);
  if (manifest.digest !== image.digest || !manifest.bytes.equals(image.manifest)) return false;
  for (const [digest, bytes] of image.blobs) {
    const head = await registryRequest(dst, `/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
    if (head.status !== 200 || Number(head.header('content-length')) !== bytes.length) return false;
  }
  return true;
}

describe('50 copies through heavy faults on both sides', () => {
  it('all 50 arrive exact', { timeout: 240_000 }, async () => {
    expect(image.blobs.size).toBe(14);
    const outcomes: (string | Error)[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < COPIES) {
          const i = next++;
          outcomes[i] = await copyOnce(i).catch((err: unknown) => err as Error);
        }
      }),
    );
    const failures = outcomes.filter((o): o is Error => o instanceof Error).map((e) => e.message);
    expect(failures).toEqual([]);
    const checks = await Promise.all(outcomes.map((repo) => exact(repo as string)));
    expect(checks.filter(Boolean)).toHaveLength(COPIES);
    // The faults really happened, at about the rates asked for.
    expect(srcFaults.counts.cut).toBeGreaterThan(50);
    expect(srcFaults.counts.corrupt).toBeGreaterThan(20);
    expect(srcFaults.counts.unavailable + dstFaults.counts.unavailable).toBeGreaterThan(100);
  });
});
