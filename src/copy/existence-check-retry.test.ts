/**
 * Found by the faults suite's long run: the destination's "is this blob there?" HEAD ran before a
 * blob's restart loop, so a 503 the transport could not retry (its host's retry budget spent by a
 * fault storm) failed the whole copy, where the same 503 on the upload restarted the blob. The
 * check is now part of each attempt. In-memory targets.
 */
import { describe, expect, it } from 'vitest';
import { digestOf, isGantryError } from '../core/index.js';
import { RegistryError } from '../registry/index.js';
import { copyImage } from './copy-image.js';
import { memoryImage } from './memory-image.test-support.js';
import type { BlobOutcome, ResolvedManifest, WriteTarget } from './target.js';

const layer = Buffer.from('layer bytes');
const { image, source } = memoryImage([layer]);

/** A destination whose first existence check of the layer fails with `error`. */
function destination(error: Error) {
  const stored = new Map<string, ResolvedManifest>();
  const checks: string[] = [];
  const uploads: string[] = [];
  const target: WriteTarget = {
    name: 'mem/dst',
    resolve: (ref) => Promise.resolve(stored.get(ref)),
    hasBlob: (d) => {
      checks.push(d.digest);
      const first = d.digest === digestOf(layer) && checks.filter((x) => x === d.digest).length === 1;
      return first ? Promise.reject(error) : Promise.resolve(false);
    },
    pushBlob: (d): Promise<BlobOutcome> => {
      uploads.push(d.digest);
      return Promise.resolve('copied');
    },
    pushManifest: (b, mediaType, reference) => {
      stored.set(reference, { digest: digestOf(b), mediaType, size: b.byteLength });
      return Promise.resolve(false);
    },
    pushReferrer: () => Promise.resolve(),
    referrers: () => Promise.resolve([]),
    existingTags: () => Promise.resolve(new Set<string>(['other'])),
  };
  return { target, checks, uploads, stored };
}

describe("a failed existence check of a copy's blob", () => {
  it('a temporary failure (a 503 not retried) restarts the blob, and the copy completes', async () => {
    const dst = destination(
      new RegistryError('REGISTRY_SERVER_ERROR', 'HEAD …/blobs/…: 503', { temporary: true }),
    );
    const result = await copyImage(source, image.digest, dst.target, { retry: { backoffMs: 0 } });
    expect(result.digest).toBe(image.digest);
    expect(dst.checks.filter((d) => d === digestOf(layer))).toHaveLength(2);
    expect(dst.uploads).toContain(digestOf(layer));
    expect(dst.stored.get(image.digest)?.digest).toBe(image.digest);
  });

  it('a lasting failure (a 401) fails the copy at once, checked once', async () => {
    const dst = destination(new RegistryError('REGISTRY_UNAUTHORIZED', 'HEAD: 401', { temporary: false }));
    const err = await copyImage(source, image.digest, dst.target).catch((e: unknown) => e);
    expect(isGantryError(err, 'REGISTRY_UNAUTHORIZED'), String(err)).toBe(true);
    expect(dst.checks.filter((d) => d === digestOf(layer))).toHaveLength(1);
    expect(dst.stored.size).toBe(0);
  });
});

describe('a copy of many blobs', () => {
  it('adds its transfers to one abort signal without a MaxListenersExceededWarning', async () => {
    const layers = Array.from({ length: 16 }, (_, i) => Buffer.from(`many layer ${i}`));
    const { image: manifest, source: many } = memoryImage(layers);
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const dst = destination(new Error('unused'));
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const copy = copyImage(
        many,
        manifest.digest,
        {
          ...dst.target,
          hasBlob: () => Promise.resolve(false),
          pushBlob: async (): Promise<BlobOutcome> => {
            await gate;
            return 'copied';
          },
        },
        { signal: new AbortController().signal },
      );
      await new Promise((r) => setTimeout(r, 20));
      release();
      expect((await copy).digest).toBe(manifest.digest);
      await new Promise((r) => setImmediate(r));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });
});
