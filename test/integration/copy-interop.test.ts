/**
 * Interoperability of `gantry copy` with skopeo, and the air-gap path through an OCI image
 * layout: skopeo reads and re-copies what Gantry wrote with the same digests, Gantry copies what
 * skopeo wrote with the same digests, and registry → `oci:DIR:TAG` → registry keeps the digest
 * and the referrers.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Digest } from '../../src/core/index.js';
import { referrersTag, type RegistryClient } from '../../src/registry/index.js';
import {
  ALL_MANIFEST_TYPES,
  TestMediaTypes,
  fetchBlob,
  fetchManifest,
  makeArtifact,
  makeBlob,
  makeImage,
  makeIndex,
  pushImage,
  registryRequest,
  sha256Digest,
  startRegistry,
  type RegistryProcess,
  type TestImage,
  type TestIndex,
} from '../helpers/index.js';
import { clientFor } from './clients.js';
import { runCli } from './run-cli.js';

const exec = promisify(execFile);

let src: RegistryProcess;
let mid: RegistryProcess;
let third: RegistryProcess;
let client: RegistryClient;
let dir: string;
const insecure = '--tls-verify=false';

beforeAll(async () => {
  [src, mid, third] = await Promise.all([startRegistry(), startRegistry(), startRegistry()]);
  client = clientFor(src);
  dir = await mkdtemp(join(tmpdir(), 'gantry-copy-interop-'));
});
afterAll(async () => {
  await client?.close();
  await Promise.all([src?.stop(), mid?.stop(), third?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * An OCI image whose layer really is gzip, so skopeo's default copy (which compresses layers it
 * sees as uncompressed) leaves it, and the digest, alone.
 */
function makeGzipImage(seed: string): TestImage {
  const raw = makeBlob(120_000, `${seed}:raw`);
  const layerBytes = gzipSync(raw);
  const layer = {
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    digest: sha256Digest(layerBytes),
    size: layerBytes.length,
  };
  const platform = { os: 'linux', architecture: 'amd64' };
  const config = Buffer.from(
    JSON.stringify({
      created: '2024-01-01T00:00:00Z',
      ...platform,
      config: { Labels: { 'org.gantry.test.seed': seed } },
      rootfs: { type: 'layers', diff_ids: [sha256Digest(raw)] },
    }),
  );
  const configDescriptor = {
    mediaType: TestMediaTypes.ociConfig,
    digest: sha256Digest(config),
    size: config.length,
  };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: TestMediaTypes.ociManifest,
      config: configDescriptor,
      layers: [layer],
    }),
  );
  const digest = sha256Digest(manifest);
  return {
    manifest,
    mediaType: TestMediaTypes.ociManifest,
    digest,
    size: manifest.length,
    config,
    configDigest: configDescriptor.digest,
    layers: [layer],
    blobs: new Map([
      [configDescriptor.digest, config],
      [layer.digest, layerBytes],
    ]),
    platform,
    descriptor: { mediaType: TestMediaTypes.ociManifest, digest, size: manifest.length, platform },
  };
}

/** `skopeo inspect --raw`: the exact manifest bytes skopeo reads, and their digest. */
async function skopeoRaw(image: string): Promise<{ bytes: Buffer; digest: string }> {
  const { stdout } = await exec('skopeo', ['inspect', '--raw', '--tls-verify=false', image], {
    encoding: 'buffer',
  });
  return { bytes: stdout, digest: `sha256:${createHash('sha256').update(stdout).digest('hex')}` };
}

async function skopeoCopy(...args: string[]): Promise<void> {
  await exec('skopeo', ['copy', '--quiet', ...args]);
}

async function gantryCopy(...args: string[]): Promise<Record<string, unknown>> {
  const r = await runCli(['copy', ...args, '--json']);
  expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** HEADs `repo:reference`: the digest it resolves to, or undefined. */
async function headDigest(
  registry: RegistryProcess,
  repo: string,
  reference: string,
): Promise<string | undefined> {
  const res = await registryRequest(registry, `/v2/${repo}/manifests/${reference}`, {
    method: 'HEAD',
    headers: { accept: ALL_MANIFEST_TYPES.join(', ') },
  });
  return res.status === 200 ? res.header('docker-content-digest') : undefined;
}

/** Every manifest and blob of `image` is on `registry` in `repo`, byte for byte. */
async function expectComplete(
  registry: RegistryProcess,
  repo: string,
  image: TestImage | TestIndex,
): Promise<void> {
  const children = 'images' in image ? image.images : [];
  for (const m of [image, ...children]) {
    expect((await fetchManifest(registry, repo, m.digest)).bytes.equals(m.manifest)).toBe(true);
  }
  for (const [digest, bytes] of image.blobs) {
    expect((await fetchBlob(registry, repo, digest)).equals(bytes), `blob ${digest}`).toBe(true);
  }
}

const docker = (registry: RegistryProcess, repo: string, tag: string) =>
  `docker://${registry.host}/${repo}:${tag}`;

describe('skopeo reads what gantry copy wrote', () => {
  it.each<[string, () => TestImage | TestIndex]>([
    [
      'an OCI image',
      () => makeImage({ seed: 'interop-oci', layers: [{ size: 150_000, seed: 'interop-oci:0' }] }),
    ],
    ['a Docker schema 2 image', () => makeImage({ seed: 'interop-docker', format: 'docker' })],
    [
      'a multi-platform index',
      () =>
        makeIndex([
          makeImage({ seed: 'interop-idx-amd', platform: { os: 'linux', architecture: 'amd64' } }),
          makeImage({
            seed: 'interop-idx-arm',
            platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
          }),
        ]),
    ],
  ])(
    '%s: skopeo inspect sees the same digest, and skopeo copy to a third registry keeps it',
    async (label, make) => {
      const image = make();
      const repo = `skopeo-reads/${label
        .replace(/[^a-z0-9]+/gi, '-')
        .toLowerCase()
        .replace(/^-|-$/g, '')}`;
      await pushImage(src, repo, image, 'v1');
      const summary = await gantryCopy(`${src.host}/${repo}:v1`, `${mid.host}/${repo}`, insecure);
      expect(summary.digest).toBe(image.digest);

      const seen = await skopeoRaw(docker(mid, repo, 'v1'));
      expect(seen.digest).toBe(image.digest);
      expect(seen.bytes.equals(image.manifest)).toBe(true);

      // --preserve-digests: the test layers are uncompressed, which skopeo would otherwise compress.
      await skopeoCopy(
        '--all',
        '--preserve-digests',
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
        docker(mid, repo, 'v1'),
        docker(third, repo, 'v1'),
      );
      expect((await skopeoRaw(docker(third, repo, 'v1'))).digest).toBe(image.digest);
      await expectComplete(third, repo, image);
    },
  );

  it("skopeo's default copy of a gzip image gantry wrote keeps the digest", async () => {
    const image = makeGzipImage('interop-gzip');
    await pushImage(src, 'skopeo-reads/gzip', image, 'v1');
    await gantryCopy(`${src.host}/skopeo-reads/gzip:v1`, `${mid.host}/skopeo-reads/gzip`, insecure);
    await skopeoCopy(
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      docker(mid, 'skopeo-reads/gzip', 'v1'),
      docker(third, 'skopeo-reads/gzip', 'v1'),
    );
    expect(await headDigest(third, 'skopeo-reads/gzip', 'v1')).toBe(image.digest);
    await expectComplete(third, 'skopeo-reads/gzip', image);
  });
});

describe('gantry copy copies what skopeo wrote', () => {
  it('a manifest skopeo converted to Docker schema 2: identical digest at the destination', async () => {
    const image = makeGzipImage('interop-skopeo-v2s2');
    await pushImage(src, 'skopeo-wrote/v2s2', image, 'v1');
    await skopeoCopy(
      '--format',
      'v2s2',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      docker(src, 'skopeo-wrote/v2s2', 'v1'),
      docker(mid, 'skopeo-wrote/v2s2', 'v1'),
    );
    const written = await skopeoRaw(docker(mid, 'skopeo-wrote/v2s2', 'v1'));
    // skopeo really wrote something of its own.
    expect(written.digest).not.toBe(image.digest);
    expect((JSON.parse(written.bytes.toString()) as { mediaType: string }).mediaType).toBe(
      TestMediaTypes.dockerManifest,
    );

    const summary = await gantryCopy(
      `${mid.host}/skopeo-wrote/v2s2:v1`,
      `${third.host}/skopeo-wrote/v2s2:v1`,
      insecure,
    );
    expect(summary.digest).toBe(written.digest);
    const copied = await skopeoRaw(docker(third, 'skopeo-wrote/v2s2', 'v1'));
    expect(copied.bytes.equals(written.bytes)).toBe(true);
    // skopeo can pull every blob of the copy (it verifies each digest).
    await skopeoCopy(
      '--src-tls-verify=false',
      docker(third, 'skopeo-wrote/v2s2', 'v1'),
      `dir:${join(dir, 'v2s2')}`,
    );
  });

  it('a multi-platform index skopeo copied with --all: identical digests, every child present', async () => {
    const index = makeIndex(
      [
        makeImage({
          seed: 'interop-sk-amd',
          format: 'docker',
          platform: { os: 'linux', architecture: 'amd64' },
        }),
        makeImage({
          seed: 'interop-sk-arm',
          format: 'docker',
          platform: { os: 'linux', architecture: 'arm64' },
        }),
      ],
      { format: 'docker' },
    );
    await pushImage(src, 'skopeo-wrote/index', index, 'v1');
    await skopeoCopy(
      '--all',
      '--preserve-digests',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      docker(src, 'skopeo-wrote/index', 'v1'),
      docker(mid, 'skopeo-wrote/index', 'v1'),
    );
    const written = await skopeoRaw(docker(mid, 'skopeo-wrote/index', 'v1'));
    expect(written.digest).toBe(index.digest);
    const summary = await gantryCopy(
      `docker://${mid.host}/skopeo-wrote/index:v1`,
      `docker://${third.host}/skopeo-wrote/index:v1`,
      insecure,
    );
    expect(summary).toMatchObject({ digest: index.digest, manifests: { copied: 3 } });
    expect((await skopeoRaw(docker(third, 'skopeo-wrote/index', 'v1'))).digest).toBe(index.digest);
    await expectComplete(third, 'skopeo-wrote/index', index);
  });

  it('an OCI layout skopeo wrote: gantry copies it to a registry with the same digest', async () => {
    const image = makeImage({
      seed: 'interop-sk-layout',
      layers: [{ size: 80_000, seed: 'interop-sk-layout:0' }],
    });
    await pushImage(src, 'skopeo-wrote/layout', image, 'v1');
    const layout = join(dir, 'skopeo-layout');
    await skopeoCopy(
      '--preserve-digests',
      '--src-tls-verify=false',
      docker(src, 'skopeo-wrote/layout', 'v1'),
      `oci:${layout}:v1`,
    );
    const summary = await gantryCopy(`oci:${layout}:v1`, `${third.host}/skopeo-wrote/layout`, insecure);
    expect(summary).toMatchObject({ digest: image.digest, tags: ['v1'] });
    expect(await headDigest(third, 'skopeo-wrote/layout', 'v1')).toBe(image.digest);
    await expectComplete(third, 'skopeo-wrote/layout', image);
  });
});

describe('air gap through an OCI layout', () => {
  const image = makeImage({
    seed: 'airgap',
    layers: [
      { size: 250_000, seed: 'airgap:0' },
      { size: 1_000, seed: 'airgap:1' },
    ],
  });
  const subject = { mediaType: image.mediaType, digest: image.digest, size: image.size };
  const sbom = makeArtifact({ subject, artifactType: 'application/spdx+json', content: '{"sbom":"airgap"}' });
  const sbomSig = makeArtifact({
    subject: { mediaType: sbom.mediaType, digest: sbom.digest, size: sbom.size },
    artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
    content: 'signature-of-the-sbom',
  });
  // A legacy cosign signature: a plain image manifest (no subject) under `sha256-<hex>.sig`.
  const cosign = makeImage({ seed: 'airgap-cosign', layers: [{ size: 300, seed: 'airgap-cosign:sig' }] });
  const cosignTag = `${referrersTag(image.digest as Digest)}.sig`;
  let layout: string;

  beforeAll(async () => {
    await pushImage(src, 'airgap/app', image, 'v1');
    for (const a of [sbom, sbomSig]) {
      await pushImage(src, 'airgap/app', a);
      // distribution 2.8 has no referrers API: referrerPush maintains the tag-schema fallback index.
      await client.referrerPush({ registry: src.host, repository: 'airgap/app' }, a.manifest, a.mediaType);
    }
    await pushImage(src, 'airgap/app', cosign, cosignTag);
    layout = join(dir, 'airgap-layout');
  });

  it('registry → oci:DIR:v1 → registry keeps the digest, the referrers and the cosign tag', async () => {
    const out = await gantryCopy(`${src.host}/airgap/app:v1`, `oci:${layout}:v1`, insecure);
    expect(out).toMatchObject({ digest: image.digest, tags: ['v1'], referrers: { copied: 3 } });
    const indexJson = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    };
    const named = (d: { annotations?: Record<string, string> }) =>
      d.annotations?.['org.opencontainers.image.ref.name'];
    expect(indexJson.manifests.filter((d) => named(d) === 'v1').map((d) => d.digest)).toEqual([image.digest]);
    expect(indexJson.manifests.map((d) => d.digest)).toEqual(
      expect.arrayContaining([sbom.digest, sbomSig.digest]),
    );

    const back = await gantryCopy(`oci:${layout}:v1`, `${third.host}/airgap/app`, insecure);
    expect(back).toMatchObject({ digest: image.digest, sourceDigest: image.digest, tags: ['v1'] });
    expect(await headDigest(third, 'airgap/app', 'v1')).toBe(image.digest);
    await expectComplete(third, 'airgap/app', image);

    const dest = { registry: third.host, repository: 'airgap/app' };
    const referrers = await client.referrersList(dest, image.digest as Digest);
    expect(referrers.descriptors.map((d) => d.digest)).toEqual([sbom.digest]);
    const nested = await client.referrersList(dest, sbom.digest as Digest);
    expect(nested.descriptors.map((d) => d.digest)).toEqual([sbomSig.digest]);
    for (const a of [sbom, sbomSig]) await expectComplete(third, 'airgap/app', a);
    expect(await headDigest(third, 'airgap/app', cosignTag)).toBe(cosign.digest);

    // The same way again: nothing left to do.
    const again = await gantryCopy(`oci:${layout}:v1`, `${third.host}/airgap/app`, insecure);
    expect(again).toMatchObject({ digest: image.digest, alreadyComplete: true, bytesTransferred: 0 });
  });

  it('skopeo copies the gantry-written layout to a registry with the same digest', async () => {
    const gz = makeGzipImage('airgap-gzip');
    await pushImage(src, 'airgap/gzip', gz, 'v2');
    const gzLayout = join(dir, 'airgap-gzip-layout');
    await gantryCopy(`${src.host}/airgap/gzip:v2`, `oci:${gzLayout}:v2`, insecure);
    expect((await skopeoRaw(`oci:${gzLayout}:v2`)).digest).toBe(gz.digest);
    // skopeo's default copy, no flags that pin digests.
    await skopeoCopy('--dest-tls-verify=false', `oci:${gzLayout}:v2`, docker(third, 'airgap/gzip', 'v2'));
    expect(await headDigest(third, 'airgap/gzip', 'v2')).toBe(gz.digest);
    await expectComplete(third, 'airgap/gzip', gz);

    // A layout that also holds referrers (entries without a name): skopeo still finds v1.
    const withReferrers = join(dir, 'airgap-layout-for-skopeo');
    await gantryCopy(`${src.host}/airgap/app:v1`, `oci:${withReferrers}:v1`, insecure);
    await skopeoCopy(
      '--preserve-digests',
      '--dest-tls-verify=false',
      `oci:${withReferrers}:v1`,
      docker(third, 'airgap/by-skopeo', 'v1'),
    );
    expect(await headDigest(third, 'airgap/by-skopeo', 'v1')).toBe(image.digest);
  });
});
