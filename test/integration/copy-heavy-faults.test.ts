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
  HEAVY_SCENARIO,
  copiedExactly,
  runPool,
  startHeavyFaultProxies,
  startHeavyFaultRegistries,
  type HeavyFaultProxies,
  type HeavyFaultRegistries,
} from '../helpers/index.js';
import { target } from './copy-helpers.js';

const { copies: COPIES, parallel: PARALLEL } = HEAVY_SCENARIO;

let registries: HeavyFaultRegistries;
let proxies: HeavyFaultProxies;

beforeAll(async () => {
  registries = await startHeavyFaultRegistries();
  proxies = await startHeavyFaultProxies(registries);
});
afterAll(async () => {
  await proxies?.stop();
  await registries?.stop();
});

/** One copy with a client of its own, as one `gantry copy` process has. */
async function copyOnce(i: number): Promise<string> {
  const client = new RegistryClient({ hostSettings: () => ({ scheme: 'http' }) });
  try {
    const repo = `heavy/copy-${i}`;
    await copyImage(
      target(client, proxies.src, HEAVY_SCENARIO.repository),
      HEAVY_SCENARIO.tag,
      target(client, proxies.dst, repo),
      { tags: [HEAVY_SCENARIO.tag] },
    );
    return repo;
  } finally {
    await client.close();
  }
}

describe('50 copies through heavy faults on both sides', () => {
  it('all 50 arrive exact', { timeout: 240_000 }, async () => {
    const { dst, image } = registries;
    const { srcFaults, dstFaults } = proxies;
    expect(image.blobs.size).toBe(14);
    const outcomes: (string | Error)[] = [];
    await runPool(COPIES, PARALLEL, async (i) => {
      outcomes[i] = await copyOnce(i).catch((err: unknown) => err as Error);
    });
    const failures = outcomes.filter((o): o is Error => o instanceof Error).map((e) => e.message);
    expect(failures).toEqual([]);
    const checks = await Promise.all(outcomes.map((repo) => copiedExactly(dst, repo as string, image)));
    expect(checks.filter(Boolean)).toHaveLength(COPIES);
    // The faults really happened, at about the rates asked for.
    expect(srcFaults.counts.cut).toBeGreaterThan(50);
    expect(srcFaults.counts.corrupt).toBeGreaterThan(20);
    expect(srcFaults.counts.unavailable + dstFaults.counts.unavailable).toBeGreaterThan(100);
  });
});
