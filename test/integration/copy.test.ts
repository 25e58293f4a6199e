/**
 * The copy engine between real CNCF distribution registries: byte-exact single images and
 * indexes (OCI and Docker), no-op re-runs, mounts within a registry, referrers and cosign tags
 * travelling, platform narrowing, foreign layers, dry runs, and tags written last.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaTypes, type Digest } from '../../src/core/index.js';
import {
  SMALL_BLOB_BYTES,
  Scheduler,
  copyImage,
  parsePlatform,
  type CopyEvent,
} from '../../src/copy/index.js';
import { referrersTag, type RegistryClient } from '../../src/registry/index.js';
import {
  fetchBlob,
  fetchManifest,
  makeArtifact,
  makeImage,
  makeIndex,
  pushImage,
  startRegistry,
  type RegistryProcess,
  type TestImage,
} from '../helpers/index.js';
import { clientFor } from './clients.js';
import { target } from './copy-helpers.js';

let src: RegistryProcess;
let dst: RegistryProcess;
let client: RegistryClient;

beforeAll(async () => {
  // Foreign layers are referenced by URL; distribution accepts them only for allowed URLs.
  const allowUrls = { validation: { manifests: { urls: { allow: ['^https?://'] } } } };
  [src, dst] = await Promise.all([
    startRegistry({ extraConfig: allowUrls }),
    startRegistry({ extraConfig: allowUrls }),
  ]);
  client = clientFor(src);
});
afterAll(async () => {
  await client?.close();
  await Promise.all([src?.stop(), dst?.stop()]);
});

// One client serves both registries: both are plain HTTP test registries.
const S = (repo: string) => target(client, src, repo);
const D = (repo: string) => target(client, dst, repo);

async function expectSameImage(repo: string, tagOrDigest: string, image: TestImage): Promise<void> {
  const got = await fetchManifest(dst, repo, tagOrDigest);
  expect(got.digest).toBe(image.digest);
  for (const [digest, bytes] of image.blobs)
    expect((await fetchBlob(dst, repo, digest)).equals(bytes)).toBe(true);
}

describe('copyImage between registries', () => {
  it.each(['oci', 'docker'] as const)('copies a %s image byte-exact and tags it last', async (format) => {
    const image = makeImage({
      format,
      seed: `copy-${format}`,
      layers: [
        { size: 300_000, seed: `a-${format}` },
        { size: 280_000, seed: `c-${format}` },
        { size: 1000, seed: `b-${format}` },
      ],
    });
    await pushImage(src, `c/${format}`, image, 'v1');
    const events: CopyEvent[] = [];
    // One transfer at a time shows the scheduling order: biggest blob first. (Blobs small enough to
    // travel as one buffer draw on the scheduler's light pool and may start alongside.)
    const r = await copyImage(S(`c/${format}`), 'v1', D(`c/${format}`), {
      tags: ['v1'],
      scheduler: new Scheduler({ concurrency: 1 }),
      onEvent: (e) => events.push(e),
    });
    expect(r.digest).toBe(image.digest);
    expect(r.sourceDigest).toBe(image.digest);
    expect(r.blobs).toEqual({ copied: 4, mounted: 0, skipped: 0, foreign: 0 });
    expect(r.bytesTransferred).toBe([...image.blobs.values()].reduce((n, b) => n + b.length, 0));
    await expectSameImage(`c/${format}`, 'v1', image);
    const manifestEvents = events.filter((e) => e.type === 'manifest-done');
    expect(manifestEvents.at(-1)).toMatchObject({ reference: 'v1' });
    const sizes = events
      .filter((e) => e.type === 'blob-start')
      .map((e) => (e as { size: number }).size)
      .filter((size) => size > SMALL_BLOB_BYTES);
    expect(sizes).toEqual([300_000, 280_000]);
    // Progress: the bytes reported per blob add up to each blob's size.
    for (const [digest, bytes] of image.blobs) {
      const sent = events
        .filter((e) => e.type === 'blob-bytes' && e.digest === digest)
        .reduce((n, e) => n + (e as { bytes: number }).bytes, 0);
      expect(sent).toBe(bytes.length);
    }
  });

  it.each(['oci', 'docker'] as const)('copies every platform of a %s index', async (format) => {
    const imgs = ['amd64', 'arm64', 's390x'].map((architecture) =>
      makeImage({ format, seed: `idx-${format}-${architecture}`, platform: { os: 'linux', architecture } }),
    );
    const index = makeIndex(imgs, { format });
    await pushImage(src, `i/${format}`, index, 'multi');
    const r = await copyImage(S(`i/${format}`), 'multi', D(`i/${format}`), { tags: ['multi'] });
    expect(r.digest).toBe(index.digest);
    expect(r.manifests.copied).toBe(4);
    expect((await fetchManifest(dst, `i/${format}`, 'multi')).digest).toBe(index.digest);
    for (const img of imgs) await expectSameImage(`i/${format}`, img.digest, img);
  });

  it('is a no-op when the destination already has the image', async () => {
    const image = makeImage({ seed: 'noop' });
    await pushImage(src, 'n/app', image, 'v1');
    await copyImage(S('n/app'), 'v1', D('n/app'), { tags: ['v1'] });
    const again = await copyImage(S('n/app'), 'v1', D('n/app'), { tags: ['v1'] });
    expect(again.alreadyComplete).toBe(true);
    expect(again.bytesTransferred).toBe(0);
  });

  it('skips blobs the destination already has', async () => {
    const shared = { size: 200_000, seed: 'shared-base' };
    const one = makeImage({ seed: 'skip-1', layers: [shared, { size: 10, seed: 'x1' }] });
    const two = makeImage({ seed: 'skip-2', layers: [shared, { size: 10, seed: 'x2' }] });
    await pushImage(src, 's/app', one, 'v1');
    await pushImage(src, 's/app', two, 'v2');
    await copyImage(S('s/app'), 'v1', D('s/app'), { tags: ['v1'] });
    const r = await copyImage(S('s/app'), 'v2', D('s/app'), { tags: ['v2'] });
    expect(r.blobs.skipped).toBe(1);
    expect(r.blobs.copied).toBe(2);
    expect(r.bytesTransferred).toBeLessThan(1000);
  });

  it('mounts instead of copying within one registry', async () => {
    const image = makeImage({ seed: 'mount', layers: [{ size: 500_000, seed: 'mount-layer' }] });
    await pushImage(src, 'm/one', image, 'v1');
    const r = await copyImage(S('m/one'), 'v1', S('m/two'), { tags: ['v1'] });
    expect(r.blobs.mounted).toBe(2);
    expect(r.bytesTransferred).toBe(0);
    expect((await fetchManifest(src, 'm/two', 'v1')).digest).toBe(image.digest);
  });

  it('copies by digest without writing any tag', async () => {
    const image = makeImage({ seed: 'by-digest' });
    await pushImage(src, 'd/app', image, 'v1');
    const r = await copyImage(S('d/app'), image.digest, D('d/app'));
    expect(r.tags).toEqual([]);
    expect(await client.manifestHead({ registry: dst.host, repository: 'd/app', tag: 'v1' })).toBeUndefined();
    expect((await fetchManifest(dst, 'd/app', image.digest)).digest).toBe(image.digest);
  });
});

describe('referrers travel', () => {
  it('copies referrers (and referrers of referrers) and cosign tags through the tag schema', async () => {
    const image = makeImage({ seed: 'signed' });
    await pushImage(src, 'r/app', image, 'v1');
    const subject = { mediaType: image.mediaType, digest: image.digest, size: image.size };
    const sbom = makeArtifact({ subject, artifactType: 'application/spdx+json', content: '{"sbom":1}' });
    const sbomSig = makeArtifact({
      subject: { mediaType: sbom.mediaType, digest: sbom.digest, size: sbom.size },
      artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
      content: 'signature-of-sbom',
    });
    const s = S('r/app');
    for (const a of [sbom, sbomSig]) {
      await pushImage(src, 'r/app', a);
      await client.referrerPush({ registry: src.host, repository: 'r/app' }, a.manifest, a.mediaType);
    }
    const cosign = makeArtifact({
      subject,
      artifactType: 'application/vnd.dev.cosign.simplesigning.v1+json',
      content: 'legacy-sig',
    });
    await pushImage(src, 'r/app', cosign, `${referrersTag(image.digest as Digest)}.sig`);

    const r = await copyImage(s, 'v1', D('r/app'), { tags: ['v1'] });
    expect(r.referrers.copied).toBe(3);
    const list = await client.referrersList(
      { registry: dst.host, repository: 'r/app' },
      image.digest as Digest,
    );
    expect(list.descriptors.map((d) => d.digest)).toEqual([sbom.digest]);
    const nested = await client.referrersList(
      { registry: dst.host, repository: 'r/app' },
      sbom.digest as Digest,
    );
    expect(nested.descriptors.map((d) => d.digest)).toEqual([sbomSig.digest]);
    expect((await fetchManifest(dst, 'r/app', `${referrersTag(image.digest as Digest)}.sig`)).digest).toBe(
      cosign.digest,
    );

    const again = await copyImage(s, 'v1', D('r/app'), { tags: ['v1'] });
    expect(again.alreadyComplete).toBe(true);
  });

  it('leaves referrers behind with referrers: false', async () => {
    const image = makeImage({ seed: 'unsigned-copy' });
    await pushImage(src, 'r/plain', image, 'v1');
    const sbom = makeArtifact({
      subject: { mediaType: image.mediaType, digest: image.digest, size: image.size },
      artifactType: 'application/spdx+json',
      content: '{}',
    });
    await pushImage(src, 'r/plain', sbom);
    await client.referrerPush({ registry: src.host, repository: 'r/plain' }, sbom.manifest, sbom.mediaType);
    const r = await copyImage(S('r/plain'), 'v1', D('r/plain'), { tags: ['v1'], referrers: false });
    expect(r.referrers.copied).toBe(0);
    expect(
      (await client.referrersList({ registry: dst.host, repository: 'r/plain' }, image.digest as Digest))
        .descriptors,
    ).toEqual([]);
  });
});

describe('platforms and foreign layers', () => {
  const amd = makeImage({ seed: 'p-amd', platform: { os: 'linux', architecture: 'amd64' } });
  const arm = makeImage({ seed: 'p-arm', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  const ppc = makeImage({ seed: 'p-ppc', platform: { os: 'linux', architecture: 'ppc64le' } });
  const index = makeIndex([amd, arm, ppc]);

  beforeAll(async () => pushImage(src, 'p/app', index, 'v1'));

  it("narrows to one platform: the result is that platform's manifest", async () => {
    const r = await copyImage(S('p/app'), 'v1', D('p/one'), {
      tags: ['v1'],
      platforms: [parsePlatform('linux/arm64')],
    });
    expect(r.platformNarrowed).toBe(true);
    expect(r.digest).toBe(arm.digest);
    expect(r.sourceDigest).toBe(index.digest);
    await expectSameImage('p/one', 'v1', arm);
  });

  it('narrows to several platforms: a new index with only those', async () => {
    const r = await copyImage(S('p/app'), 'v1', D('p/two'), {
      tags: ['v1'],
      platforms: [parsePlatform('linux/amd64'), parsePlatform('linux/ppc64le')],
    });
    expect(r.digest).not.toBe(index.digest);
    const got = await fetchManifest(dst, 'p/two', 'v1');
    expect(got.digest).toBe(r.digest);
    const body = JSON.parse(got.bytes.toString()) as { manifests: { digest: string }[] };
    expect(body.manifests.map((m) => m.digest)).toEqual([amd.digest, ppc.digest]);
  });

  it('refuses a platform the index does not have', async () => {
    await expect(
      copyImage(S('p/app'), 'v1', D('p/none'), { platforms: [parsePlatform('windows/amd64')] }),
    ).rejects.toMatchObject({
      code: 'USAGE_INVALID',
    });
  });

  it('leaves foreign layers out unless asked', async () => {
    const image = makeImage({
      seed: 'foreign',
      format: 'docker',
      layers: [
        {
          size: 1000,
          seed: 'foreign-layer',
          mediaType: MediaTypes.dockerForeignLayerGzip,
          urls: ['https://layers.example.com/f'],
        },
        { size: 1000, seed: 'normal-layer' },
      ],
    });
    await pushImage(src, 'f/app', image, 'v1');
    const r = await copyImage(S('f/app'), 'v1', D('f/app'), { tags: ['v1'] });
    expect(r.blobs.foreign).toBe(1);
    expect(r.blobs.copied).toBe(2);
    expect(r.digest).toBe(image.digest);
    const withForeign = await copyImage(S('f/app'), 'v1', D('f/all'), { tags: ['v1'], includeForeign: true });
    expect(withForeign.blobs.copied).toBe(3);
  });
});

describe('dry run', () => {
  it('reports the plan and writes nothing', async () => {
    const image = makeImage({ seed: 'dry', layers: [{ size: 4000, seed: 'dry-l' }] });
    await pushImage(src, 'dry/app', image, 'v1');
    const r = await copyImage(S('dry/app'), 'v1', D('dry/app'), { tags: ['v1'], dryRun: true });
    expect(r.dryRun).toBe(true);
    expect(r.plan?.map((p) => p.action)).toEqual(['copy', 'copy']);
    expect(r.bytesPlanned).toBe(4000 + image.config.length);
    expect(
      await client.manifestHead({ registry: dst.host, repository: 'dry/app', tag: 'v1' }),
    ).toBeUndefined();
    const mount = await copyImage(S('dry/app'), 'v1', S('dry/other'), { tags: ['v1'], dryRun: true });
    expect(mount.plan?.map((p) => p.action)).toEqual(['mount', 'mount']);
  });
});

describe('errors say which side failed', () => {
  it('names the source for a missing tag', async () => {
    const err: unknown = await copyImage(S('e/app'), 'nope', D('e/app')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_MANIFEST_UNKNOWN', details: { side: 'source' } });
    expect(String(err)).toMatch(/source manifest/);
  });
});
