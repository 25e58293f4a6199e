/**
 * An in-memory image for unit tests of the copy engine: a manifest of a `{}` config and the given
 * layers, its blobs, and a {@link ReadTarget} serving them.
 */
import { Readable } from 'node:stream';
import { MediaTypes, digestOf, type Digest } from '../core/index.js';
import { parseManifest, type Descriptor, type Manifest } from '../registry/index.js';
import type { ReadTarget } from './target.js';

export interface MemoryImage {
  readonly image: Manifest;
  readonly config: Buffer;
  readonly blobs: ReadonlyMap<Digest, Buffer>;
  readonly source: ReadTarget;
}

const descriptor = (mediaType: string, bytes: Buffer): Descriptor => ({
  mediaType,
  digest: digestOf(bytes),
  size: bytes.byteLength,
});

export function memoryImage(layers: readonly Buffer[]): MemoryImage {
  const config = Buffer.from('{}');
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: descriptor(MediaTypes.ociConfig, config),
      layers: layers.map((l) => descriptor(MediaTypes.ociLayer, l)),
    }),
  );
  const image = parseManifest(bytes, digestOf(bytes), MediaTypes.ociManifest);
  const blobs = new Map<Digest, Buffer>([
    [digestOf(config), config],
    ...layers.map((l) => [digestOf(l), l] as const),
  ]);
  const source: ReadTarget = {
    name: 'mem/src',
    fetchManifest: () => Promise.resolve(image),
    fetchBlob: (d) => Readable.from([blobs.get(d.digest) as Buffer]),
    referrers: () => Promise.resolve([]),
    tags: () => Promise.resolve([]),
  };
  return { image, config, blobs, source };
}
