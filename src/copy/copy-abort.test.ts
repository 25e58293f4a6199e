/**
 * Aborting copies that share a blob transfer through one scheduler (as every job of a server
 * does): the aborted copy stops at once with `OPERATION_ABORTED` even while it waits for another
 * copy's transfer, and a copy whose shared transfer was aborted by the other copy's signal is not
 * failed by it: it transfers the blob itself and completes. In-memory targets.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { GantryError, digestOf, isGantryError } from '../core/index.js';
import { copyImage } from './copy-image.js';
import { memoryImage } from './memory-image.test-support.js';
import { Scheduler } from './scheduler.js';
import type { BlobOutcome, ReadTarget, ResolvedManifest, WriteTarget } from './target.js';

const layer = Buffer.from('layer bytes');
const { image, source } = memoryImage([layer]);

/**
 * A destination whose layer uploads wait until the test lets them finish. Each copy has its own
 * target, bound to its signal like a RegistryTarget: an upload in flight fails when it fires.
 */
function destination() {
  const stored = new Map<string, ResolvedManifest>();
  const uploads: string[] = [];
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const target = (signal?: AbortSignal): WriteTarget => ({
    name: 'mem/dst',
    resolve: (ref) => Promise.resolve(stored.get(ref)),
    hasBlob: () => Promise.resolve(false),
    pushBlob: async (d): Promise<BlobOutcome> => {
      uploads.push(d.digest);
      if (d.digest === digestOf(layer)) {
        await new Promise<void>((resolve, reject) => {
          void gate.then(resolve);
          signal?.addEventListener('abort', () => reject(new Error('request aborted')), { once: true });
        });
      }
      return 'copied';
    },
    pushManifest: (bytes, mediaType, reference) => {
      stored.set(reference, { digest: digestOf(bytes), mediaType, size: bytes.byteLength });
      return Promise.resolve(false);
    },
    pushReferrer: () => Promise.resolve(),
    referrers: () => Promise.resolve([]),
    existingTags: () => Promise.resolve(new Set<string>()),
  });
  return { target, uploads, release, stored };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('aborting copies that share a transfer', () => {
  it('an aborted copy stops at once while another copy transfers the blob it waits for', async () => {
    const scheduler = new Scheduler();
    const dst = destination();
    const first = copyImage(source, image.digest, dst.target(), { scheduler });
    await settle();
    const lease = new AbortController();
    const second = copyImage(source, image.digest, dst.target(lease.signal), {
      scheduler,
      signal: lease.signal,
    }).catch((e: unknown) => e);
    await settle();
    lease.abort();
    expect(isGantryError(await second, 'OPERATION_ABORTED')).toBe(true);
    dst.release();
    expect((await first).digest).toBe(image.digest);
    expect(dst.stored.get(image.digest)?.digest).toBe(image.digest);
  });

  it("a copy whose shared transfer the other copy's abort stopped transfers the blob itself", async () => {
    const scheduler = new Scheduler();
    const dst = destination();
    const lease = new AbortController();
    const first = copyImage(source, image.digest, dst.target(lease.signal), {
      scheduler,
      signal: lease.signal,
    }).catch((e: unknown) => e);
    await settle();
    const second = copyImage(source, image.digest, dst.target(), { scheduler });
    await settle();
    lease.abort();
    expect(isGantryError(await first, 'OPERATION_ABORTED')).toBe(true);
    dst.release();
    expect((await second).digest).toBe(image.digest);
    // The layer went up twice: in the aborted copy's run, cut off, and again by the second copy.
    expect(dst.uploads.filter((d) => d === digestOf(layer))).toHaveLength(2);
  });
});

describe('a copy whose blob fails', () => {
  it('stops its other transfers: queued blobs never start, and nothing runs on after it failed', async () => {
    const layers = Array.from({ length: 6 }, (_, i) => Buffer.from(`layer ${i}`));
    const { image: manifest, blobs: all, source: whole } = memoryImage(layers);
    const broken = digestOf(layers[0] as Buffer);
    const reads: string[] = [];
    const failing: ReadTarget = {
      ...whole,
      fetchBlob: (d) => {
        reads.push(d.digest);
        if (d.digest === broken)
          throw new GantryError('REGISTRY_BLOB_UNKNOWN', `blob ${d.digest} is not there`);
        return Readable.from([all.get(d.digest) as Buffer]);
      },
    };
    const dst = destination();
    dst.release();
    const failure = await copyImage(failing, manifest.digest, dst.target(), {
      // One transfer at a time: the failing layer goes first, the rest wait for a slot.
      scheduler: new Scheduler({ concurrency: 1, perHost: 1 }),
    }).catch((e: unknown) => e);
    expect(isGantryError(failure, 'REGISTRY_BLOB_UNKNOWN')).toBe(true);
    const readsWhenFailed = reads.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(reads.length).toBe(readsWhenFailed);
    // Only what ran before the failure was read; the blobs queued behind it never started.
    expect(reads.length).toBeLessThan(all.size);
    expect(dst.stored.size).toBe(0);
  });
});
