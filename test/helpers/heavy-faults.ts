/**
 * The heavy-fault copy scenario, one definition for test/integration/copy-heavy-faults.test.ts and
 * scripts/bench-faults.ts (BENCHMARKS.md, "Copies through heavy faults"): two real registries, the
 * source holding a 14-blob image, each side behind a fault proxy at {@link HEAVY_FAULTS}; copies run
 * `parallel` at a time, and a copy counts only when the real destination (not the proxy) holds the
 * image's exact manifest and every blob.
 */
import { ALL_MANIFEST_TYPES, fetchManifest } from './pull.js';
import { registryRequest } from './registry-http.js';
import {
  randomFaults,
  startFaultProxy,
  type FaultProxy,
  type RandomFaultRates,
  type RandomFaults,
} from './fault-proxy.js';
import { makeImage, type TestImage } from './images.js';
import { pushImage } from './push.js';
import { startRegistry, type RegistryProcess } from './registry.js';

/**
 * The fault rates: on the source, one request in ten answered 503/429, 2 % reset, and of the blob
 * downloads a quarter cut half-way and a tenth corrupted; on the destination, one request in ten
 * answered 503/429 and 2 % reset.
 */
export const HEAVY_FAULTS: Readonly<{ source: RandomFaultRates; destination: RandomFaultRates }> =
  Object.freeze({
    source: Object.freeze({ unavailable: 0.1, reset: 0.02, cut: 0.25, corrupt: 0.1 }),
    destination: Object.freeze({ unavailable: 0.1, reset: 0.02 }),
  });

/** How many copies, how many at a time, and the seeds of the fault generators (so runs repeat). */
export const HEAVY_SCENARIO = Object.freeze({
  copies: 50,
  parallel: 5,
  sourceSeed: 9,
  destinationSeed: 11,
  /** The image's repository and tag on the source. */
  repository: 'heavy/app',
  tag: 'v1',
});

/** The image of the heavy-fault scenario: 13 layers of 64 KiB to 1 MiB and a config (14 blobs, about 4.5 MiB). */
export function heavyFaultImage(): TestImage {
  return makeImage({
    seed: 'heavy-faults',
    layers: [64, 80, 96, 128, 160, 200, 256, 320, 400, 480, 600, 800, 1024].map((k, i) => ({
      size: k * 1024,
      seed: `heavy-faults:${i}`,
    })),
  });
}

/** The two registries with the image pushed to the source. */
export interface HeavyFaultRegistries {
  readonly src: RegistryProcess;
  readonly dst: RegistryProcess;
  readonly image: TestImage;
  stop(): Promise<void>;
}

/** Starts both registries and pushes {@link heavyFaultImage} as `heavy/app:v1` to the source. */
export async function startHeavyFaultRegistries(): Promise<HeavyFaultRegistries> {
  const image = heavyFaultImage();
  const [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  await pushImage(src, HEAVY_SCENARIO.repository, image, HEAVY_SCENARIO.tag);
  return { src, dst, image, stop: async () => void (await Promise.all([src.stop(), dst.stop()])) };
}

/** A fault proxy in front of each registry, with fresh generators at the scenario's rates and seeds. */
export interface HeavyFaultProxies {
  readonly src: FaultProxy;
  readonly dst: FaultProxy;
  readonly srcFaults: RandomFaults;
  readonly dstFaults: RandomFaults;
  stop(): Promise<void>;
}

/** Starts the proxies of one run (a benchmark starts one pair per tool, so each sees the same faults). */
export async function startHeavyFaultProxies(
  registries: Pick<HeavyFaultRegistries, 'src' | 'dst'>,
): Promise<HeavyFaultProxies> {
  const srcFaults = randomFaults({ ...HEAVY_FAULTS.source, seed: HEAVY_SCENARIO.sourceSeed });
  const dstFaults = randomFaults({ ...HEAVY_FAULTS.destination, seed: HEAVY_SCENARIO.destinationSeed });
  const [src, dst] = await Promise.all([
    startFaultProxy({ target: registries.src.url, fault: srcFaults.fault }),
    startFaultProxy({ target: registries.dst.url, fault: dstFaults.fault }),
  ]);
  return {
    src,
    dst,
    srcFaults,
    dstFaults,
    stop: async () => void (await Promise.all([src.stop(), dst.stop()])),
  };
}

/** Runs `task(0 … count-1)`, `parallel` at a time, in order of index. */
export async function runPool(
  count: number,
  parallel: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

/** True when the real destination holds `repo:v1` byte-exact (digest and bytes) with every blob at its size. */
export async function copiedExactly(dst: RegistryProcess, repo: string, image: TestImage): Promise<boolean> {
  try {
    const manifest = await fetchManifest(dst, repo, HEAVY_SCENARIO.tag, ALL_MANIFEST_TYPES);
    if (manifest.digest !== image.digest || !manifest.bytes.equals(image.manifest)) return false;
    for (const [digest, bytes] of image.blobs) {
      const head = await registryRequest(dst, `/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
      if (head.status !== 200 || Number(head.header('content-length')) !== bytes.length) return false;
    }
    return true;
  } catch {
    return false;
  }
}
