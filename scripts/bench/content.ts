/**
 * Benchmark images: deterministic, incompressible layers framed as gzip so that neither tool has a
 * reason to rewrite them. skopeo compresses layers it sniffs as uncompressed when it writes to a
 * registry (which changes every digest and turns a copy into a gzip benchmark), so the layers here
 * are gzip streams of stored (level 0) blocks over AES-256-CTR keystream: valid `tar+gzip` media,
 * as incompressible as real compressed layers, and generated at ~1 GB/s instead of the test
 * helpers' `makeBlob` (~8 MB/s, fine for tests, minutes for a 512 MB layer).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { makeImage, sha256Digest, type TestImage } from '../../test/helpers/index.js';

/** Media type of a gzip-compressed OCI layer. */
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

const PIECE = 16 * 1024 * 1024;

/** `size` pseudo-random bytes determined by `seed` (AES-256-CTR keystream, key = sha256(seed)). */
export function incompressibleBytes(size: number, seed: string): Buffer {
  const key = createHash('sha256').update(`gantry-bench\0${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const out = Buffer.allocUnsafe(size);
  const zeros = Buffer.alloc(Math.min(size, PIECE));
  for (let offset = 0; offset < size; offset += PIECE) {
    const n = Math.min(PIECE, size - offset);
    cipher.update(zeros.subarray(0, n)).copy(out, offset);
  }
  cipher.final();
  return out;
}

/** One gzip-framed layer: its blob (`gzip -0` of the payload) and diff ID (sha256 of the payload). */
export function gzipLayer(payloadSize: number, seed: string): { blob: Buffer; diffId: string } {
  const payload = incompressibleBytes(payloadSize, seed);
  return { blob: gzipSync(payload, { level: 0 }), diffId: sha256Digest(payload) };
}

/**
 * A linux/amd64 OCI image whose layers are gzip-framed incompressible payloads of `payloadSizes`
 * bytes, built by the test helpers' {@link makeImage} so it can be pushed with `pushImage`.
 */
export function gzipImage(seed: string, payloadSizes: readonly number[]): TestImage {
  return makeImage({
    seed,
    labels: { 'org.gantry.bench.seed': seed },
    layers: payloadSizes.map((size, i) => {
      const { blob, diffId } = gzipLayer(size, `${seed}:layer:${i}`);
      return { size: blob.length, seed: `${seed}:layer:${i}`, mediaType: OCI_LAYER_GZIP, data: blob, diffId };
    }),
  });
}

/** Total size of an image's blobs in bytes. */
export function imageBytes(image: TestImage): number {
  let n = 0;
  for (const blob of image.blobs.values()) n += blob.length;
  return n;
}
