/**
 * Deterministic, in-memory container images for tests: blobs, OCI / Docker image manifests,
 * indexes, OCI 1.1 artifacts with a `subject`, oversized and schema 1 manifests. Nothing is pulled
 * from the internet; the same seed always yields the same bytes and digests. Layer contents are
 * pseudo-random bytes, not real tar archives.
 */
import { createHash } from 'node:crypto';

/** Media types the generators use (kept local so helpers do not depend on Gantry's code). */
export const TestMediaTypes = Object.freeze({
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
});

/** An OCI content descriptor. */
export interface Descriptor {
  /** Media type of the referenced content. */
  mediaType: string;
  /** `sha256:…` digest of the referenced bytes. */
  digest: string;
  /** Size of the referenced bytes. */
  size: number;
  /** Platform (index entries only). */
  platform?: Platform;
  /** Artifact type (index entries of artifacts). */
  artifactType?: string;
  /** Descriptor annotations. */
  annotations?: Record<string, string>;
  /** URLs the content can also be fetched from (foreign layers). */
  urls?: string[];
}

/** The platform an image runs on. */
export interface Platform {
  /** e.g. `linux`. */
  os: string;
  /** e.g. `amd64`, `arm64`. */
  architecture: string;
  /** e.g. `v8`. */
  variant?: string;
}

/** One generated layer. */
export interface LayerSpec {
  /** Size in bytes. */
  size: number;
  /** Seed of the pseudo-random content. */
  seed: string;
  /** Media type (default: uncompressed OCI tar, or the Docker gzip layer type for `format: 'docker'`). */
  mediaType?: string;
  /** `urls` of the descriptor (foreign / non-distributable layers). */
  urls?: string[];
  /** The layer's bytes, instead of generating `size` bytes from `seed` (e.g. a gzip stream). */
  data?: Buffer;
  /** Its diff ID (digest of the uncompressed content); default: the layer digest. */
  diffId?: string;
}

/** Manifest formats the generators produce. */
export type ImageFormat = 'oci' | 'docker';

/** A generated image (or artifact): the manifest's exact bytes and every blob it references. */
export interface TestImage {
  /** Exact manifest bytes, as pushed. */
  manifest: Buffer;
  /** Media type of the manifest. */
  mediaType: string;
  /** `sha256:…` of {@link TestImage.manifest}. */
  digest: string;
  /** Byte length of the manifest. */
  size: number;
  /** Config blob bytes. */
  config: Buffer;
  /** Digest of the config blob. */
  configDigest: string;
  /** Layer descriptors, in manifest order. */
  layers: Descriptor[];
  /** Every referenced blob (config and layers), keyed by digest. */
  blobs: Map<string, Buffer>;
  /** The image's platform (absent for artifacts). */
  platform?: Platform;
  /** The artifact type (artifacts only). */
  artifactType?: string;
  /** The subject descriptor (artifacts only). */
  subject?: Descriptor;
  /** `{mediaType, digest, size}` (plus `platform` / `artifactType`) for use in an index. */
  descriptor: Descriptor;
}

/** A generated index / manifest list. */
export interface TestIndex {
  /** Exact index bytes. */
  manifest: Buffer;
  /** Media type of the index. */
  mediaType: string;
  /** `sha256:…` of the index bytes. */
  digest: string;
  /** Byte length of the index. */
  size: number;
  /** The child manifests, in index order. */
  images: TestImage[];
  /** Union of the children's blobs, keyed by digest. */
  blobs: Map<string, Buffer>;
  /** `{mediaType, digest, size}` of the index. */
  descriptor: Descriptor;
}

/** Options of {@link makeImage}. */
export interface MakeImageOptions {
  /** Layers (default: one 1 KiB layer seeded from `seed`). */
  layers?: readonly LayerSpec[];
  /** `config.Labels` of the image config. */
  labels?: Record<string, string>;
  /** Manifest annotations. */
  annotations?: Record<string, string>;
  /** Platform (default linux/amd64). */
  platform?: Platform;
  /** `oci` (default) or `docker` (schema 2). */
  format?: ImageFormat;
  /** Seed for defaults (default `gantry-test`). */
  seed?: string;
  /** JSON indentation of the manifest (default 0: compact). Changes the bytes and thus the digest. */
  indent?: number;
  /** The image config's `created` (default `2024-01-01T00:00:00Z`). */
  created?: string;
}

/** `sha256:<hex>` of some bytes. */
export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * `size` pseudo-random, incompressible bytes determined by `seed`: SHA-256 in counter mode
 * (`sha256(seed ‖ 0) ‖ sha256(seed ‖ 1) ‖ …`).
 */
export function makeBlob(size: number, seed: string): Buffer {
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`makeBlob: invalid size ${size}`);
  const out = Buffer.allocUnsafe(size);
  const prefix = Buffer.from(`${seed}\0`, 'utf8');
  const counter = Buffer.alloc(8);
  for (let offset = 0, block = 0; offset < size; offset += 32, block++) {
    counter.writeBigUInt64BE(BigInt(block));
    createHash('sha256')
      .update(prefix)
      .update(counter)
      .digest()
      .copy(out, offset, 0, Math.min(32, size - offset));
  }
  return out;
}

/** The OCI empty JSON blob `{}`. */
export const EMPTY_JSON = Buffer.from('{}');

/** The OCI empty descriptor (`application/vnd.oci.empty.v1+json`, digest of `{}`, size 2). */
export const EMPTY_DESCRIPTOR: Readonly<Descriptor> = Object.freeze({
  mediaType: TestMediaTypes.ociEmpty,
  digest: sha256Digest(EMPTY_JSON),
  size: 2,
});

function serialize(value: unknown, indent = 0): Buffer {
  return Buffer.from(JSON.stringify(value, null, indent || undefined), 'utf8');
}

function descriptorOf(mediaType: string, data: Buffer): Descriptor {
  return { mediaType, digest: sha256Digest(data), size: data.length };
}

/**
 * A single-platform image: a proper OCI / Docker image config (architecture, os, `config.Labels`,
 * `rootfs.diff_ids` equal to the layer digests) and a manifest referencing it and the layers.
 */
export function makeImage(options: MakeImageOptions = {}): TestImage {
  const seed = options.seed ?? 'gantry-test';
  const format = options.format ?? 'oci';
  const platform: Platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
  const specs = options.layers ?? [{ size: 1024, seed: `${seed}:layer:0` }];
  const defaultLayerType = format === 'oci' ? TestMediaTypes.ociLayer : TestMediaTypes.dockerLayer;
  const blobs = new Map<string, Buffer>();
  const layers = specs.map((spec) => {
    const data = spec.data ?? makeBlob(spec.size, spec.seed);
    const plain = descriptorOf(spec.mediaType ?? defaultLayerType, data);
    const descriptor = spec.urls ? { ...plain, urls: spec.urls } : plain;
    blobs.set(descriptor.digest, data);
    return descriptor;
  });
  const config = serialize({
    created: options.created ?? '2024-01-01T00:00:00Z',
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant === undefined ? {} : { variant: platform.variant }),
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: ['/bin/true'],
      Labels: { 'org.gantry.test.seed': seed, ...options.labels },
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l, i) => specs[i]?.diffId ?? l.digest) },
    history: layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'gantry test helper' })),
  });
  const configDescriptor = descriptorOf(
    format === 'oci' ? TestMediaTypes.ociConfig : TestMediaTypes.dockerConfig,
    config,
  );
  blobs.set(configDescriptor.digest, config);
  const mediaType = format === 'oci' ? TestMediaTypes.ociManifest : TestMediaTypes.dockerManifest;
  const manifest = serialize(
    {
      schemaVersion: 2,
      mediaType,
      config: configDescriptor,
      layers,
      ...(options.annotations ? { annotations: options.annotations } : {}),
    },
    options.indent,
  );
  const digest = sha256Digest(manifest);
  return {
    manifest,
    mediaType,
    digest,
    size: manifest.length,
    config,
    configDigest: configDescriptor.digest,
    layers,
    blobs,
    platform,
    descriptor: { mediaType, digest, size: manifest.length, platform },
  };
}

/** Options of {@link makeIndex}. */
export interface MakeIndexOptions {
  /** `oci` (image index, default) or `docker` (manifest list). */
  format?: ImageFormat;
  /** Index annotations. */
  annotations?: Record<string, string>;
  /** JSON indentation (default 0). */
  indent?: number;
}

/** An index / manifest list over `images`, one entry per image with its `platform` (artifacts: `artifactType`). */
export function makeIndex(images: readonly TestImage[], options: MakeIndexOptions = {}): TestIndex {
  const format = options.format ?? 'oci';
  const mediaType = format === 'oci' ? TestMediaTypes.ociIndex : TestMediaTypes.dockerList;
  const blobs = new Map<string, Buffer>();
  for (const image of images) for (const [digest, data] of image.blobs) blobs.set(digest, data);
  const manifest = serialize(
    {
      schemaVersion: 2,
      mediaType,
      manifests: images.map((i) => ({ ...i.descriptor })),
      ...(options.annotations ? { annotations: options.annotations } : {}),
    },
    options.indent,
  );
  const digest = sha256Digest(manifest);
  return {
    manifest,
    mediaType,
    digest,
    size: manifest.length,
    images: [...images],
    blobs,
    descriptor: { mediaType, digest, size: manifest.length },
  };
}

/** Options of {@link makeArtifact}. */
export interface MakeArtifactOptions {
  /** The manifest the artifact refers to (a TestImage / TestIndex works: only mediaType, digest, size are used). */
  subject: Pick<Descriptor, 'mediaType' | 'digest' | 'size'>;
  /** e.g. `application/vnd.example.sbom.v1+json`. */
  artifactType: string;
  /** The single layer's content. */
  content: Buffer | string;
  /** Media type of the content layer (default `application/octet-stream`). */
  contentMediaType?: string;
  /** Manifest annotations. */
  annotations?: Record<string, string>;
}

/**
 * An OCI 1.1 artifact manifest: `artifactType`, `config` = the empty descriptor, one layer with
 * `content`, and `subject`. `blobs` contains the `{}` empty blob and the content.
 */
export function makeArtifact(options: MakeArtifactOptions): TestImage {
  const content = Buffer.from(options.content);
  const layer = descriptorOf(options.contentMediaType ?? 'application/octet-stream', content);
  const subject: Descriptor = {
    mediaType: options.subject.mediaType,
    digest: options.subject.digest,
    size: options.subject.size,
  };
  const mediaType = TestMediaTypes.ociManifest;
  const manifest = serialize({
    schemaVersion: 2,
    mediaType,
    artifactType: options.artifactType,
    config: { ...EMPTY_DESCRIPTOR },
    layers: [layer],
    subject,
    ...(options.annotations ? { annotations: options.annotations } : {}),
  });
  const digest = sha256Digest(manifest);
  const blobs = new Map<string, Buffer>([
    [EMPTY_DESCRIPTOR.digest, EMPTY_JSON],
    [layer.digest, content],
  ]);
  return {
    manifest,
    mediaType,
    digest,
    size: manifest.length,
    config: EMPTY_JSON,
    configDigest: EMPTY_DESCRIPTOR.digest,
    layers: [layer],
    blobs,
    artifactType: options.artifactType,
    subject,
    descriptor: { mediaType, digest, size: manifest.length, artifactType: options.artifactType },
  };
}

/**
 * A syntactically valid OCI image manifest of exactly `bytes` bytes, padded with a huge
 * `org.gantry.test.padding` annotation (for manifest size limit tests, e.g. > 4 MiB). Its blobs
 * are not provided: serve it from a fake registry.
 */
export function makeOversizedManifest(bytes: number): Buffer {
  const layer = makeBlob(16, 'gantry-oversized');
  const base = {
    schemaVersion: 2,
    mediaType: TestMediaTypes.ociManifest,
    config: { ...EMPTY_DESCRIPTOR },
    layers: [descriptorOf(TestMediaTypes.ociLayer, layer)],
    annotations: { 'org.gantry.test.padding': '' },
  };
  const padding = bytes - serialize(base).length;
  if (padding < 0)
    throw new Error(`makeOversizedManifest: ${bytes} bytes is smaller than the minimum manifest`);
  base.annotations['org.gantry.test.padding'] = 'x'.repeat(padding);
  const out = serialize(base);
  if (out.length !== bytes)
    throw new Error(`makeOversizedManifest: produced ${out.length} bytes, wanted ${bytes}`);
  return out;
}

/**
 * The bytes of an (unsigned) Docker schema 1 manifest (`schemaVersion: 1`, media type
 * `application/vnd.docker.distribution.manifest.v1+json`), for refusal tests.
 */
export function makeSchema1Manifest(): Buffer {
  const layer = makeBlob(32, 'gantry-schema1');
  return serialize(
    {
      schemaVersion: 1,
      name: 'gantry/schema1',
      tag: 'latest',
      architecture: 'amd64',
      fsLayers: [{ blobSum: sha256Digest(layer) }],
      history: [
        {
          v1Compatibility: JSON.stringify({
            id: createHash('sha256').update('gantry-schema1').digest('hex'),
            created: '2016-01-01T00:00:00Z',
            architecture: 'amd64',
            os: 'linux',
            container_config: { Cmd: ['/bin/true'] },
          }),
        },
      ],
    },
    3,
  );
}
