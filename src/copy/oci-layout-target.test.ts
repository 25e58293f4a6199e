import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MediaTypes, isGantryError, type Digest, type ErrorCode } from '../core/index.js';
import type { Descriptor } from '../registry/index.js';
import {
  makeArtifact,
  makeBlob,
  makeImage,
  makeIndex,
  pushImage,
  sha256Digest,
  startRegistry,
  type RegistryProcess,
  type TestImage,
  type TestIndex,
} from '../../test/helpers/index.js';
import { OCI_REF_NAME_ANNOTATION, OciLayoutTarget } from './oci-layout-target.js';

const exec = promisify(execFile);

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gantry-oci-layout-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A fresh layout path inside a temp dir (the layout directory itself does not exist yet). */
async function layoutPath(): Promise<string> {
  return join(await tempDir(), 'layout');
}

const blobDescriptor = (digest: string, data: Buffer): Descriptor => ({
  mediaType: 'application/octet-stream',
  digest: digest as Digest,
  size: data.length,
});

async function writeImage(
  target: OciLayoutTarget,
  image: TestImage | TestIndex,
  tag?: string,
): Promise<void> {
  if ('images' in image) {
    for (const child of image.images) await writeImage(target, child);
  } else {
    await Promise.all(
      [...image.blobs].map(([digest, data]) =>
        target.pushBlob(blobDescriptor(digest, data), () => Readable.from([data])),
      ),
    );
  }
  await target.pushManifest(image.manifest, image.mediaType, tag ?? image.digest);
}

async function collect(stream: Readable): Promise<Buffer> {
  return Buffer.concat((await stream.toArray()) as Buffer[]);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<Error> {
  const err = await rejection(promise);
  expect(isGantryError(err) ? err.code : err).toBe(code);
  return err as Error;
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

interface IndexJson {
  schemaVersion: number;
  mediaType?: string;
  manifests: (Descriptor & { annotations?: Record<string, string> })[];
}

const blobFile = (root: string, digest: string): string => join(root, 'blobs', 'sha256', digest.slice(7));

const multiPlatform = (format: 'oci' | 'docker'): TestIndex =>
  makeIndex(
    [
      makeImage({ format, seed: `multi-${format}-amd64` }),
      makeImage({
        format,
        seed: `multi-${format}-arm64`,
        platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
        layers: [
          { size: 3000, seed: `multi-${format}-arm64:0` },
          { size: 200_000, seed: `multi-${format}-arm64:1` },
        ],
      }),
    ],
    { format },
  );

describe('OciLayoutTarget round trip', () => {
  it.each<[string, () => TestImage | TestIndex]>([
    ['an OCI image', () => makeImage({ seed: 'rt-oci', annotations: { a: 'b' } })],
    ['a Docker v2 image', () => makeImage({ format: 'docker', seed: 'rt-docker' })],
    ['a multi-platform OCI index', () => multiPlatform('oci')],
    ['a Docker manifest list', () => multiPlatform('docker')],
  ])('writes %s and reads it back byte-identical', async (_label, make) => {
    const image = make();
    const path = await layoutPath();
    const target = new OciLayoutTarget(path);
    expect(target.name).toBe(`oci:${path}`);
    expect('repository' in target).toBe(false);
    await writeImage(target, image, 'v1');

    expect(await readJson(join(path, 'oci-layout'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = await readJson<IndexJson>(join(path, 'index.json'));
    expect(index).toEqual({
      schemaVersion: 2,
      mediaType: MediaTypes.ociIndex,
      manifests: [
        {
          mediaType: image.mediaType,
          digest: image.digest,
          size: image.size,
          annotations: { [OCI_REF_NAME_ANNOTATION]: 'v1' },
        },
      ],
    });

    // A fresh instance: nothing cached.
    const reader = new OciLayoutTarget(path);
    const root = await reader.fetchManifest('v1');
    expect(root.bytes.equals(image.manifest)).toBe(true);
    expect(root.digest).toBe(image.digest);
    expect(root.mediaType).toBe(image.mediaType);
    expect((await reader.fetchManifest(image.digest)).bytes.equals(image.manifest)).toBe(true);
    expect(await reader.tags()).toEqual(['v1']);
    expect(await reader.resolve('v1')).toEqual({
      digest: image.digest,
      mediaType: image.mediaType,
      size: image.size,
    });
    expect(await reader.resolve(image.digest)).toEqual({
      digest: image.digest,
      mediaType: image.mediaType,
      size: image.size,
    });

    const images = 'images' in image ? image.images : [image];
    for (const child of images) {
      const m = await reader.fetchManifest(child.digest);
      expect(m.bytes.equals(child.manifest)).toBe(true);
      expect(m.mediaType).toBe(child.mediaType);
    }
    for (const [digest, data] of image.blobs) {
      const d = blobDescriptor(digest, data);
      expect(await reader.hasBlob(d)).toBe(true);
      expect((await collect(reader.fetchBlob(d))).equals(data)).toBe(true);
    }
    expect(await readdir(join(path, 'blobs', 'sha256'))).toHaveLength(
      image.blobs.size + images.length + (images.length > 1 ? 1 : 0),
    );
  });

  it('writes a manifest pushed by digest as a blob only', async () => {
    const path = await layoutPath();
    const target = new OciLayoutTarget(path);
    const image = makeImage({ seed: 'by-digest' });
    await writeImage(target, image);
    expect((await readJson<IndexJson>(join(path, 'index.json'))).manifests).toEqual([]);
    expect((await target.fetchManifest(image.digest)).bytes.equals(image.manifest)).toBe(true);
    expect(await target.resolve(image.digest)).toMatchObject({ digest: image.digest });
    expect(await target.tags()).toEqual([]);
  });

  it('keeps the only manifest readable without a tag, like skopeo', async () => {
    const path = await layoutPath();
    const target = new OciLayoutTarget(path);
    const image = makeImage({ seed: 'untagged' });
    await writeImage(target, image, '');
    await writeImage(target, image, '');
    const index = await readJson<IndexJson>(join(path, 'index.json'));
    expect(index.manifests).toEqual([{ mediaType: image.mediaType, digest: image.digest, size: image.size }]);
    expect((await target.fetchManifest('')).digest).toBe(image.digest);
    expect(await target.resolve('')).toMatchObject({ digest: image.digest });
    await writeImage(target, makeImage({ seed: 'untagged-2' }), 'v2');
    await expectCode(target.fetchManifest(''), 'USAGE_INVALID');
    expect(await target.resolve('')).toBeUndefined();
  });
});

describe('OciLayoutTarget tags', () => {
  it('replaces the entry of an existing tag in place', async () => {
    const path = await layoutPath();
    const target = new OciLayoutTarget(path);
    const [a, b, c] = ['tag-a', 'tag-b', 'tag-c'].map((seed) => makeImage({ seed }));
    await writeImage(target, a!, 'v1');
    await writeImage(target, b!, 'v2');
    await writeImage(target, c!, 'v1');
    const index = await readJson<IndexJson>(join(path, 'index.json'));
    expect(index.manifests.map((d) => [d.annotations?.[OCI_REF_NAME_ANNOTATION], d.digest])).toEqual([
      ['v1', c!.digest],
      ['v2', b!.digest],
    ]);
    expect(await target.tags()).toEqual(['v1', 'v2']);
    expect((await target.fetchManifest('v1')).digest).toBe(c!.digest);
    expect(await target.resolve('v1')).toMatchObject({ digest: c!.digest });
  });

  it('keeps every tag when 20 manifests are pushed at once', async () => {
    const path = await layoutPath();
    const target = new OciLayoutTarget(path);
    const images = Array.from({ length: 20 }, (_, i) => makeImage({ seed: `concurrent-${i}` }));
    await Promise.all(images.map((image, i) => writeImage(target, image, `t${i}`)));
    const index = await readJson<IndexJson>(join(path, 'index.json'));
    expect(index.manifests).toHaveLength(20);
    expect((await target.tags()).sort()).toEqual(images.map((_, i) => `t${i}`).sort());
    for (const [i, image] of images.entries()) {
      expect((await target.fetchManifest(`t${i}`)).digest).toBe(image.digest);
    }
    expect((await readdir(path)).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  });

  it('refuses an invalid tag', async () => {
    const target = new OciLayoutTarget(await layoutPath());
    const image = makeImage({ seed: 'bad-tag' });
    await expectCode(target.pushManifest(image.manifest, image.mediaType, 'Bad Tag'), 'USAGE_INVALID');
  });

  it('takes the last of several entries with the same tag', async () => {
    const path = await layoutPath();
    const target = new OciLayoutTarget(path);
    const [a, b] = ['dup-a', 'dup-b'].map((seed) => makeImage({ seed }));
    await writeImage(target, a!);
    await writeImage(target, b!);
    const entry = (image: TestImage) => ({
      mediaType: image.mediaType,
      digest: image.digest,
      size: image.size,
      annotations: { [OCI_REF_NAME_ANNOTATION]: 'v1' },
    });
    await writeFile(
      join(path, 'index.json'),
      JSON.stringify({ schemaVersion: 2, manifests: [entry(a!), entry(b!)] }),
    );
    expect((await new OciLayoutTarget(path).fetchManifest('v1')).digest).toBe(b!.digest);
    expect(await new OciLayoutTarget(path).tags()).toEqual(['v1']);
  });
});

describe('OciLayoutTarget referrers', () => {
  it('finds referrers written with pushReferrer, without duplicates', async () => {
    const path = await layoutPath();
    const target = new OciLayoutTarget(path);
    const image = makeImage({ seed: 'referred' });
    const other = makeImage({ seed: 'not-referred' });
    await writeImage(target, image, 'v1');
    await writeImage(target, other, 'v2');
    const sbom = makeArtifact({
      subject: image,
      artifactType: 'application/spdx+json',
      content: '{"spdx":true}',
      annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
    });
    const sig = makeArtifact({ subject: image, artifactType: 'application/vnd.dev.cosign', content: 'sig' });
    for (const artifact of [sbom, sig, sbom]) {
      for (const [digest, data] of artifact.blobs) {
        await target.pushBlob(blobDescriptor(digest, data), () => Readable.from([data]));
      }
      await target.pushReferrer(artifact.manifest, artifact.mediaType);
    }
    const expected = [
      {
        mediaType: MediaTypes.ociManifest,
        digest: sbom.digest,
        size: sbom.size,
        artifactType: 'application/spdx+json',
        annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
      },
      {
        mediaType: MediaTypes.ociManifest,
        digest: sig.digest,
        size: sig.size,
        artifactType: 'application/vnd.dev.cosign',
      },
    ];
    expect(await target.referrers(image.digest as Digest)).toEqual(expected);
    expect(await new OciLayoutTarget(path).referrers(image.digest as Digest)).toEqual(expected);
    expect(await target.referrers(other.digest as Digest)).toEqual([]);

    const index = await readJson<IndexJson>(join(path, 'index.json'));
    expect(index.manifests.map((d) => d.digest)).toEqual([
      image.digest,
      other.digest,
      sbom.digest,
      sig.digest,
    ]);
    expect(
      index.manifests.filter((d) => d.annotations?.[OCI_REF_NAME_ANNOTATION] !== undefined),
    ).toHaveLength(2);
    expect(await target.tags()).toEqual(['v1', 'v2']);
  });

  it('finds a tagged referrer and uses the config media type when there is no artifactType', async () => {
    const path = await layoutPath();
    const target = new OciLayoutTarget(path);
    const image = makeImage({ seed: 'subject' });
    await writeImage(target, image, 'v1');
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: { mediaType: 'application/vnd.example.config+json', digest: sha256Digest('{}'), size: 2 },
        layers: [],
        subject: image.descriptor,
      }),
    );
    await target.pushManifest(manifest, MediaTypes.ociManifest, 'sig');
    expect(await new OciLayoutTarget(path).referrers(image.digest as Digest)).toEqual([
      {
        mediaType: MediaTypes.ociManifest,
        digest: sha256Digest(manifest),
        size: manifest.length,
        artifactType: 'application/vnd.example.config+json',
      },
    ]);
  });

  it('has no referrers when there is no layout', async () => {
    expect(await new OciLayoutTarget(await layoutPath()).referrers(sha256Digest('x') as Digest)).toEqual([]);
  });
});

describe('OciLayoutTarget integrity', () => {
  async function layoutWithImage(): Promise<{ path: string; image: TestImage; layer: Descriptor }> {
    const path = await layoutPath();
    const image = makeImage({ seed: 'integrity', layers: [{ size: 100_000, seed: 'integrity:0' }] });
    await writeImage(new OciLayoutTarget(path), image, 'v1');
    return { path, image, layer: image.layers[0] as Descriptor };
  }

  it('fails fetchBlob with REGISTRY_DIGEST_MISMATCH for a corrupted blob file', async () => {
    const { path, layer } = await layoutWithImage();
    const file = blobFile(path, layer.digest);
    const bytes = await readFile(file);
    bytes[50_000] = (bytes[50_000] ?? 0) ^ 0xff;
    await writeFile(file, bytes);
    const err = await expectCode(
      collect(new OciLayoutTarget(path).fetchBlob(layer)),
      'REGISTRY_DIGEST_MISMATCH',
    );
    expect(err.message).toContain(layer.digest);
  });

  it('fails fetchBlob with REGISTRY_SIZE_MISMATCH for a truncated blob file', async () => {
    const { path, layer } = await layoutWithImage();
    await truncate(blobFile(path, layer.digest), layer.size - 1);
    await expectCode(collect(new OciLayoutTarget(path).fetchBlob(layer)), 'REGISTRY_SIZE_MISMATCH');
    expect(await new OciLayoutTarget(path).hasBlob(layer)).toBe(false);
  });

  it('fails fetchBlob with REGISTRY_SIZE_MISMATCH for a blob file longer than declared', async () => {
    const { path, layer } = await layoutWithImage();
    await writeFile(blobFile(path, layer.digest), Buffer.alloc(1), { flag: 'a' });
    await expectCode(collect(new OciLayoutTarget(path).fetchBlob(layer)), 'REGISTRY_SIZE_MISMATCH');
  });

  it('fails fetchBlob with REGISTRY_BLOB_UNKNOWN for a missing blob file', async () => {
    const { path, layer } = await layoutWithImage();
    await rm(blobFile(path, layer.digest));
    await expectCode(collect(new OciLayoutTarget(path).fetchBlob(layer)), 'REGISTRY_BLOB_UNKNOWN');
  });

  it('fails fetchManifest on a corrupted or missing manifest blob', async () => {
    const { path, image } = await layoutWithImage();
    const file = blobFile(path, image.digest);
    await writeFile(file, image.manifest.toString('utf8').replace('"schemaVersion":2', '"schemaVersion":3'));
    const target = new OciLayoutTarget(path);
    await expectCode(target.fetchManifest('v1'), 'REGISTRY_DIGEST_MISMATCH');
    await expectCode(target.fetchManifest(image.digest), 'REGISTRY_DIGEST_MISMATCH');
    expect(await target.resolve(image.digest)).toBeUndefined();
    await rm(file);
    await expectCode(target.fetchManifest('v1'), 'REGISTRY_MANIFEST_UNKNOWN');
    expect(await target.resolve('v1')).toBeUndefined();
  });

  it.each<[string, (data: Buffer) => Buffer[], ErrorCode]>([
    ['wrong content', (data) => [Buffer.from(data).fill(1, 0, 10)], 'REGISTRY_DIGEST_MISMATCH'],
    ['too few bytes', (data) => [data.subarray(1)], 'REGISTRY_SIZE_MISMATCH'],
    ['too many bytes', (data) => [data, Buffer.from('x')], 'REGISTRY_SIZE_MISMATCH'],
  ])('pushBlob with %s leaves no file behind', async (_label, chunks, code) => {
    const path = await layoutPath();
    const target = new OciLayoutTarget(path);
    const data = makeBlob(70_000, 'push-wrong');
    const descriptor = blobDescriptor(sha256Digest(data), data);
    await expectCode(
      target.pushBlob(descriptor, () => Readable.from(chunks(data))),
      code,
    );
    expect(await readdir(join(path, 'blobs', 'sha256'))).toEqual([]);
    expect(await target.hasBlob(descriptor)).toBe(false);
    await expectCode(collect(target.fetchBlob(descriptor)), 'REGISTRY_BLOB_UNKNOWN');
  });

  it('pushBlob passes a failing source on and leaves no file behind', async () => {
    const path = await layoutPath();
    const target = new OciLayoutTarget(path);
    const data = makeBlob(1000, 'push-fail');
    const failing = (): Readable =>
      Readable.from(
        (async function* () {
          yield data.subarray(0, 10);
          await Promise.resolve();
          throw new Error('connection reset');
        })(),
      );
    const err = await rejection(target.pushBlob(blobDescriptor(sha256Digest(data), data), failing));
    expect(isGantryError(err)).toBe(true);
    expect((err as Error).message).toContain('connection reset');
    expect(await readdir(join(path, 'blobs', 'sha256'))).toEqual([]);
  });

  it('pushManifest refuses bytes that do not match the digest reference', async () => {
    const path = await layoutPath();
    const target = new OciLayoutTarget(path);
    const [a, b] = ['m-a', 'm-b'].map((seed) => makeImage({ seed }));
    await expectCode(target.pushManifest(a!.manifest, a!.mediaType, b!.digest), 'REGISTRY_DIGEST_MISMATCH');
    expect(await target.resolve(b!.digest)).toBeUndefined();
  });
});

describe('OciLayoutTarget without a layout or with a broken one', () => {
  it('reports a missing layout, tag and manifest', async () => {
    const path = await layoutPath();
    const missing = new OciLayoutTarget(path);
    await expectCode(missing.fetchManifest('v1'), 'REGISTRY_NAME_UNKNOWN');
    await expectCode(missing.tags(), 'REGISTRY_NAME_UNKNOWN');
    expect(await missing.resolve('v1')).toBeUndefined();
    expect(await missing.hasBlob(blobDescriptor(sha256Digest('x'), Buffer.from('x')))).toBe(false);

    await writeImage(missing, makeImage({ seed: 'present' }), 'v1');
    await expectCode(missing.fetchManifest('v2'), 'REGISTRY_MANIFEST_UNKNOWN');
    await expectCode(missing.fetchManifest(sha256Digest('nothing')), 'REGISTRY_MANIFEST_UNKNOWN');
    expect(await missing.resolve('v2')).toBeUndefined();
    expect(await missing.resolve(sha256Digest('nothing'))).toBeUndefined();
  });

  it.each<[string, (path: string) => Promise<void>]>([
    ['index.json is not JSON', (path) => writeFile(join(path, 'index.json'), '{not json')],
    [
      'index.json has a bad digest',
      (path) =>
        writeFile(
          join(path, 'index.json'),
          JSON.stringify({
            schemaVersion: 2,
            manifests: [{ mediaType: MediaTypes.ociManifest, digest: 'sha256:xyz', size: 1 }],
          }),
        ),
    ],
    ['oci-layout is missing', (path) => rm(join(path, 'oci-layout'))],
    [
      'oci-layout names version 2',
      (path) => writeFile(join(path, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}'),
    ],
  ])('refuses a layout where %s with REGISTRY_MANIFEST_INVALID', async (_label, breakIt) => {
    const path = await layoutPath();
    await writeImage(new OciLayoutTarget(path), makeImage({ seed: 'broken' }), 'v1');
    await breakIt(path);
    await expectCode(new OciLayoutTarget(path).fetchManifest('v1'), 'REGISTRY_MANIFEST_INVALID');
  });

  it('keeps unknown fields of an existing index.json when adding an entry', async () => {
    const path = await layoutPath();
    const image = makeImage({ seed: 'keep' });
    await writeImage(new OciLayoutTarget(path), image);
    await writeFile(
      join(path, 'index.json'),
      JSON.stringify({ schemaVersion: 2, annotations: { owner: 'ops' }, manifests: [] }),
    );
    await new OciLayoutTarget(path).pushManifest(image.manifest, image.mediaType, 'v1');
    const index = await readJson<IndexJson & { annotations: unknown }>(join(path, 'index.json'));
    expect(index.annotations).toEqual({ owner: 'ops' });
    expect(index.manifests.map((d) => d.digest)).toEqual([image.digest]);
  });
});

describe('OciLayoutTarget interoperability with skopeo', () => {
  let registry: RegistryProcess;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it.each<[string, () => TestImage | TestIndex]>([
    ['an OCI image', () => makeImage({ seed: 'skopeo-read', annotations: { x: 'y' } })],
    ['a multi-platform index', () => multiPlatform('oci')],
  ])('skopeo reads %s written by OciLayoutTarget byte-identical', async (_label, make) => {
    const image = make();
    const path = await layoutPath();
    await writeImage(new OciLayoutTarget(path), image, 'v1');
    const { stdout } = await exec('skopeo', ['inspect', '--raw', `oci:${path}:v1`], { encoding: 'buffer' });
    expect(stdout.equals(image.manifest)).toBe(true);
    // A full copy out of the layout reads and verifies every blob.
    const out = join(await tempDir(), 'dir');
    await exec('skopeo', ['copy', '--all', '--preserve-digests', `oci:${path}:v1`, `dir:${out}`]);
    expect((await readFile(join(out, 'manifest.json'))).equals(image.manifest)).toBe(true);
  });

  it.each<[string, () => TestImage | TestIndex]>([
    ['an OCI image', () => makeImage({ seed: 'skopeo-write', layers: [{ size: 50_000, seed: 'sw:0' }] })],
    ['a multi-platform index', () => multiPlatform('oci')],
  ])('reads %s written by skopeo copy with the same digest', async (label, make) => {
    const image = make();
    const repository = `interop/${label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')}`;
    await pushImage(registry, repository, image, 'v1');
    const path = await layoutPath();
    // --preserve-digests: skopeo would otherwise compress the (uncompressed) test layers.
    await exec('skopeo', [
      'copy',
      '--all',
      '--preserve-digests',
      '--src-tls-verify=false',
      `docker://${registry.host}/${repository}:v1`,
      `oci:${path}:v1`,
    ]);
    const target = new OciLayoutTarget(path);
    const root = await target.fetchManifest('v1');
    expect(root.digest).toBe(image.digest);
    expect(root.bytes.equals(image.manifest)).toBe(true);
    expect(await target.tags()).toEqual(['v1']);
    expect(await target.resolve('v1')).toEqual({
      digest: image.digest,
      mediaType: image.mediaType,
      size: image.size,
    });
    for (const child of 'images' in image ? image.images : [image]) {
      expect((await target.fetchManifest(child.digest)).bytes.equals(child.manifest)).toBe(true);
    }
    for (const [digest, data] of image.blobs) {
      expect((await collect(target.fetchBlob(blobDescriptor(digest, data)))).equals(data)).toBe(true);
    }
  });
});
