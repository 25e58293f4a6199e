/**
 * The registry client against a real CNCF distribution registry (anonymous access): manifests,
 * blobs, uploads (monolithic and chunked), mounts, tag pagination, referrers fallback, deletes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaTypes, digestOf, type Digest } from '../../src/core/index.js';
import { referrersTag, type Reference, type RegistryClient } from '../../src/registry/index.js';
import {
  makeArtifact,
  makeBlob,
  makeImage,
  makeIndex,
  pushImage,
  startRegistry,
  type RegistryProcess,
} from '../helpers/index.js';
import { clientFor, collect } from './clients.js';

let registry: RegistryProcess;
let client: RegistryClient;

beforeAll(async () => {
  registry = await startRegistry();
  client = clientFor(registry);
});
afterAll(async () => {
  await client?.close();
  await registry?.stop();
});

const repo = (repository: string) => ({ registry: registry.host, repository });

describe('manifests', () => {
  it.each(['oci', 'docker'] as const)('gets a %s image byte-exact with its digest', async (format) => {
    const image = makeImage({ format, seed: `get-${format}`, labels: { a: 'b' } });
    await pushImage(registry, `get/${format}`, image, 'v1');
    const m = await client.manifestGet({ ...repo(`get/${format}`), tag: 'v1' });
    expect(m.kind).toBe('image');
    expect(m.bytes.equals(image.manifest)).toBe(true);
    expect(m.digest).toBe(image.digest);
    expect(m.mediaType).toBe(image.mediaType);
    const head = await client.manifestHead({ ...repo(`get/${format}`), tag: 'v1' });
    expect(head).toEqual({
      digest: image.digest,
      mediaType: image.mediaType,
      size: image.manifest.byteLength,
    });
  });

  it('gets a multi-platform index and each platform by digest', async () => {
    const amd = makeImage({ seed: 'idx-amd', platform: { os: 'linux', architecture: 'amd64' } });
    const arm = makeImage({
      seed: 'idx-arm',
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    });
    const index = makeIndex([amd, arm]);
    await pushImage(registry, 'get/index', index, 'multi');
    const m = await client.manifestGet({ ...repo('get/index'), tag: 'multi' });
    expect(m.kind).toBe('index');
    expect(m.digest).toBe(index.digest);
    if (m.kind !== 'index') throw new Error('unreachable');
    expect(m.body.manifests.map((d) => d.platform?.architecture)).toEqual(['amd64', 'arm64']);
    for (const child of [amd, arm]) {
      const c = await client.manifestGet({ ...repo('get/index'), digest: child.digest as Digest });
      expect(c.bytes.equals(child.manifest)).toBe(true);
    }
  });

  it('reports an unknown tag, an unknown repository and a HEAD miss', async () => {
    await expect(client.manifestGet({ ...repo('get/oci'), tag: 'nope' })).rejects.toMatchObject({
      code: 'REGISTRY_MANIFEST_UNKNOWN',
    });
    await expect(client.manifestGet({ ...repo('no/such/repo'), tag: 'v1' })).rejects.toMatchObject({
      code: 'REGISTRY_MANIFEST_UNKNOWN',
    });
    expect(await client.manifestHead({ ...repo('get/oci'), tag: 'nope' })).toBeUndefined();
  });

  it('puts by tag and digest, then deletes by digest', async () => {
    const image = makeImage({ seed: 'put-delete' });
    for (const [digest, bytes] of image.blobs)
      await client.blobUpload(repo('put/x'), digest as Digest, bytes.byteLength, bytes);
    const put = await client.manifestPut(repo('put/x'), 'v1', image.manifest, image.mediaType);
    expect(put.digest).toBe(image.digest);
    await client.manifestDelete({ ...repo('put/x'), digest: image.digest as Digest });
    expect(await client.manifestHead({ ...repo('put/x'), digest: image.digest as Digest })).toBeUndefined();
    await expect(
      client.manifestDelete({ ...repo('put/x'), digest: image.digest as Digest }),
    ).rejects.toMatchObject({
      code: 'REGISTRY_MANIFEST_UNKNOWN',
    });
  });

  it('refuses to put bytes under a digest they do not hash to', async () => {
    const image = makeImage({ seed: 'wrong-digest' });
    await expect(
      client.manifestPut(repo('put/y'), digestOf('other'), image.manifest, image.mediaType),
    ).rejects.toMatchObject({
      code: 'REGISTRY_DIGEST_MISMATCH',
    });
  });
});

describe('blobs', () => {
  it('uploads with one streamed PUT and streams it back verified', async () => {
    const data = makeBlob(3 * 1024 * 1024 + 17, 'mono');
    const digest = digestOf(data);
    const { Readable } = await import('node:stream');
    await client.blobUpload(repo('blob/mono'), digest, data.byteLength, () =>
      Readable.from([data.subarray(0, 1000), data.subarray(1000)]),
    );
    expect(await client.blobHead(repo('blob/mono'), digest)).toBe(data.byteLength);
    const back = await collect(client.blobGet(repo('blob/mono'), digest, { size: data.byteLength }));
    expect(back.equals(data)).toBe(true);
  });

  it('uploads in chunks with PATCH', async () => {
    const data = makeBlob(300_000, 'chunked');
    const digest = digestOf(data);
    const { Readable } = await import('node:stream');
    await client.blobUpload(repo('blob/chunked'), digest, data.byteLength, () => Readable.from([data]), {
      chunked: true,
      chunkSize: 64 * 1024,
    });
    const back = await collect(client.blobGet(repo('blob/chunked'), digest));
    expect(back.equals(data)).toBe(true);
  });

  it('fails a download whose declared size is wrong', async () => {
    const data = makeBlob(1000, 'size');
    const digest = digestOf(data);
    await client.blobUpload(repo('blob/size'), digest, data.byteLength, data);
    await expect(collect(client.blobGet(repo('blob/size'), digest, { size: 999 }))).rejects.toMatchObject({
      code: 'REGISTRY_SIZE_MISMATCH',
    });
  });

  it('rejects an upload whose bytes do not match the digest', async () => {
    const data = makeBlob(1000, 'liar');
    await expect(
      client.blobUpload(repo('blob/liar'), digestOf('something else'), data.byteLength, data),
    ).rejects.toMatchObject({
      code: 'REGISTRY_DIGEST_MISMATCH',
    });
  });

  it('mounts a blob from another repository, and opens an upload when it cannot', async () => {
    const data = makeBlob(50_000, 'mount');
    const digest = digestOf(data);
    await client.blobUpload(repo('mount/src'), digest, data.byteLength, data);
    expect(await client.blobMount(repo('mount/dst'), digest, repo('mount/src'))).toEqual({ mounted: true });
    expect(await client.blobHead(repo('mount/dst'), digest)).toBe(data.byteLength);

    const missing = digestOf('not there');
    const result = await client.blobMount(repo('mount/dst2'), missing, repo('mount/src'));
    expect(result.mounted).toBe(false);
    if (result.mounted) throw new Error('unreachable');
    const other = makeBlob(10, 'after-mount');
    await client.blobUpload(repo('mount/dst2'), digestOf(other), other.byteLength, other, {
      location: result.location,
    });
    expect(await client.blobHead(repo('mount/dst2'), digestOf(other))).toBe(10);
  });
});

describe('tags', () => {
  it('lists every tag (distribution 2.8 ignores n and sends one page; Link pagination is covered by the fake-registry suite)', async () => {
    const image = makeImage({ seed: 'tags' });
    const names = Array.from({ length: 23 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    for (const t of names) await pushImage(registry, 'tags/many', image, t);
    expect((await client.tagList(repo('tags/many'), 5)).sort()).toEqual(names);
    expect((await client.tagList(repo('tags/many'))).length).toBe(23);
  });
});

describe('catalog', () => {
  it("lists every repository, following the registry's Link pages", async () => {
    const image = makeImage({ seed: 'catalog' });
    for (const r of ['catalog/a', 'catalog/b', 'catalog/c']) await pushImage(registry, r, image, 'v1');
    const { repositories, invalid } = await client.catalogList(registry.host, 1);
    expect(repositories.filter((r) => r.startsWith('catalog/'))).toEqual([
      'catalog/a',
      'catalog/b',
      'catalog/c',
    ]);
    expect(invalid).toEqual([]);
  });
});

describe('referrers', () => {
  it('falls back to the sha256-<hex> tag schema on a registry without the referrers API', async () => {
    const image = makeImage({ seed: 'subject' });
    await pushImage(registry, 'ref/app', image, 'v1');
    const subject = { mediaType: image.mediaType, digest: image.digest, size: image.size };
    const sbom = makeArtifact({
      subject,
      artifactType: 'application/spdx+json',
      content: '{"spdxVersion":"SPDX-2.3"}',
    });
    const sig = makeArtifact({
      subject,
      artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
      content: 'sig',
    });
    for (const a of [sbom, sig]) {
      for (const [digest, bytes] of a.blobs)
        await client.blobUpload(repo('ref/app'), digest as Digest, bytes.byteLength, bytes);
      await client.referrerPush(repo('ref/app'), a.manifest, a.mediaType);
    }
    const all = await client.referrersList(repo('ref/app'), image.digest as Digest);
    expect(all.source).toBe('tag-schema');
    expect(all.descriptors.map((d) => d.digest).sort()).toEqual([sbom.digest, sig.digest].sort());
    expect(all.descriptors.find((d) => d.digest === sbom.digest)?.artifactType).toBe('application/spdx+json');
    // a full reference (tag and digest) is only used for its repository
    const full: Reference = { ...repo('ref/app'), tag: 'v1', digest: image.digest as Digest };
    const viaRef = await client.referrersList(full, image.digest as Digest);
    expect(viaRef.descriptors).toHaveLength(2);
    const only = await client.referrersList(repo('ref/app'), image.digest as Digest, 'application/spdx+json');
    expect(only.descriptors.map((d) => d.digest)).toEqual([sbom.digest]);
    const tag = await client.manifestGet({ ...repo('ref/app'), tag: referrersTag(image.digest as Digest) });
    expect(tag.mediaType).toBe(MediaTypes.ociIndex);
    // pushing the same referrer again does not duplicate it
    await client.referrerPush(repo('ref/app'), sbom.manifest, sbom.mediaType);
    expect((await client.referrersList(repo('ref/app'), image.digest as Digest)).descriptors).toHaveLength(2);
  });

  it('returns no referrers for an image without any', async () => {
    const image = makeImage({ seed: 'lonely' });
    await pushImage(registry, 'ref/lonely', image, 'v1');
    expect((await client.referrersList(repo('ref/lonely'), image.digest as Digest)).descriptors).toEqual([]);
  });
});
