/**
 * Executable notes on how the real test registry (CNCF distribution 2.8.2, Debian
 * `docker-registry`) behaves, so Gantry's client and its tests rely on facts, not assumptions.
 * If the registry package changes, these tests say what changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TestMediaTypes,
  listTags,
  makeArtifact,
  makeBlob,
  makeImage,
  makeIndex,
  makeOversizedManifest,
  makeSchema1Manifest,
  pushBlob,
  pushImage,
  pushManifest,
  registryRequest,
  sha256Digest,
  startRegistry,
  type RegistryProcess,
} from './index.js';

const errorCode = (body: Buffer): string | undefined =>
  (JSON.parse(body.toString('utf8')) as { errors?: { code?: string }[] }).errors?.[0]?.code;

describe('distribution 2.8.2 behaviour', () => {
  let registry: RegistryProcess;
  const image = makeImage({ seed: 'facts' });
  beforeAll(async () => {
    registry = await startRegistry();
    await pushImage(registry, 'facts/app', image, 'v1');
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('has no referrers API: plain-text 404, not a JSON error', async () => {
    const res = await registryRequest(registry, `/v2/facts/app/referrers/${image.digest}`);
    expect(res.status).toBe(404);
    expect(res.header('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.body.toString()).toBe('404 page not found\n');
  });

  it('unknown manifests are 404 MANIFEST_UNKNOWN, even in unknown repositories', async () => {
    for (const path of [
      '/v2/facts/app/manifests/nope',
      `/v2/facts/app/manifests/${sha256Digest('x')}`,
      `/v2/facts/never-pushed/manifests/${sha256Digest('x')}`,
    ]) {
      const res = await registryRequest(registry, path, { headers: { accept: TestMediaTypes.ociManifest } });
      expect(res.status).toBe(404);
      expect(errorCode(res.body)).toBe('MANIFEST_UNKNOWN');
    }
    const tags = await registryRequest(registry, '/v2/facts/never-pushed/tags/list');
    expect([tags.status, errorCode(tags.body)]).toEqual([404, 'NAME_UNKNOWN']);
    const blob = await registryRequest(registry, `/v2/facts/app/blobs/${sha256Digest('x')}`);
    expect([blob.status, errorCode(blob.body)]).toEqual([404, 'BLOB_UNKNOWN']);
    const head = await registryRequest(registry, `/v2/facts/app/blobs/${sha256Digest('x')}`, {
      method: 'HEAD',
    });
    expect([head.status, head.body.length]).toEqual([404, 0]);
  });

  it('a digest-looking but invalid reference is a 500, not a 400', async () => {
    const res = await registryRequest(registry, '/v2/facts/app/manifests/sha256:abc');
    expect([res.status, errorCode(res.body)]).toEqual([500, 'UNKNOWN']);
  });

  it('OCI manifests / indexes are 404 unless Accept lists their media type', async () => {
    for (const accept of [undefined, TestMediaTypes.dockerManifest]) {
      const res = await registryRequest(registry, '/v2/facts/app/manifests/v1', {
        headers: accept ? { accept } : {},
      });
      expect(res.status).toBe(404);
      expect(res.body.toString()).toContain(
        'OCI manifest found, but accept header does not support OCI manifests',
      );
    }
    const index = makeIndex([image]);
    await pushImage(registry, 'facts/app', index, 'index');
    const res = await registryRequest(registry, '/v2/facts/app/manifests/index', {
      headers: { accept: TestMediaTypes.ociManifest },
    });
    expect(res.status).toBe(404);
    expect(res.body.toString()).toContain('OCI index found, but accept header does not support OCI indexes');
    const head = await registryRequest(registry, '/v2/facts/app/manifests/v1', {
      method: 'HEAD',
      headers: { accept: TestMediaTypes.ociManifest },
    });
    expect(head.status).toBe(200);
    expect(head.header('docker-content-digest')).toBe(image.digest);
    expect(head.header('content-length')).toBe(String(image.size));
  });

  it('a Docker manifest list is rewritten when Accept lacks the list type', async () => {
    const amd = makeImage({ seed: 'facts-amd', format: 'docker' });
    const arm = makeImage({
      seed: 'facts-arm',
      format: 'docker',
      platform: { os: 'linux', architecture: 'arm64' },
    });
    const list = makeIndex([amd, arm], { format: 'docker' });
    await pushImage(registry, 'facts/list', list, 'multi');
    const noAccept = await registryRequest(registry, '/v2/facts/list/manifests/multi');
    expect(noAccept.status).toBe(200);
    expect(noAccept.header('content-type')).toBe(TestMediaTypes.dockerSchema1Signed); // converted to schema 1!
    const v2Only = await registryRequest(registry, '/v2/facts/list/manifests/multi', {
      headers: { accept: TestMediaTypes.dockerManifest },
    });
    expect(v2Only.header('docker-content-digest')).toBe(amd.digest); // the linux/amd64 child
  });

  it('accepts OCI indexes only when every child exists', async () => {
    const broken = makeIndex([makeImage({ seed: 'never-pushed' })]);
    const res = await registryRequest(registry, '/v2/facts/app/manifests/broken', {
      method: 'PUT',
      headers: { 'content-type': broken.mediaType },
      body: broken.manifest,
    });
    expect([res.status, errorCode(res.body)]).toEqual([400, 'MANIFEST_BLOB_UNKNOWN']);
  });

  it('stores OCI 1.1 artifacts (subject, artifactType) byte for byte but ignores subject', async () => {
    const artifact = makeArtifact({
      subject: image,
      artifactType: 'application/vnd.example.sbom',
      content: '{}x',
    });
    for (const [digest, data] of artifact.blobs) await pushBlob(registry, 'facts/app', data, digest);
    const put = await registryRequest(registry, `/v2/facts/app/manifests/${artifact.digest}`, {
      method: 'PUT',
      headers: { 'content-type': artifact.mediaType },
      body: artifact.manifest,
    });
    expect(put.status).toBe(201);
    expect(put.header('oci-subject')).toBeUndefined();
    const got = await registryRequest(registry, `/v2/facts/app/manifests/${artifact.digest}`, {
      headers: { accept: artifact.mediaType },
    });
    expect(got.body.equals(artifact.manifest)).toBe(true);
    // a dangling subject is accepted too
    const dangling = makeArtifact({
      subject: { mediaType: TestMediaTypes.ociManifest, digest: sha256Digest('missing'), size: 1 },
      artifactType: 'application/vnd.example.sig',
      content: '{}x',
    });
    await expect(pushImage(registry, 'facts/app', dangling)).resolves.toBe(dangling.digest);
  });

  it('refuses schema 1, Content-Type mismatches and manifests over 4 MiB', async () => {
    const put = (bytes: Buffer, contentType: string) =>
      registryRequest(registry, '/v2/facts/put/manifests/x', {
        method: 'PUT',
        headers: { 'content-type': contentType },
        body: bytes,
      });
    const schema1 = await put(makeSchema1Manifest(), TestMediaTypes.dockerSchema1);
    expect([schema1.status, errorCode(schema1.body)]).toEqual([400, 'MANIFEST_INVALID']);
    for (const [digest, data] of image.blobs) await pushBlob(registry, 'facts/put', data, digest);
    const mismatch = await put(image.manifest, TestMediaTypes.dockerManifest);
    expect([mismatch.status, errorCode(mismatch.body)]).toEqual([400, 'MANIFEST_INVALID']);

    await pushBlob(registry, 'facts/put', makeBlob(16, 'gantry-oversized'));
    await pushBlob(registry, 'facts/put', Buffer.from('{}'));
    expect((await put(makeOversizedManifest(4 * 1024 * 1024), TestMediaTypes.ociManifest)).status).toBe(201);
    const tooBig = await put(makeOversizedManifest(4 * 1024 * 1024 + 1), TestMediaTypes.ociManifest);
    expect([tooBig.status, errorCode(tooBig.body)]).toEqual([400, 'MANIFEST_INVALID']);
    expect(tooBig.body.toString()).toContain('http: request body too large');
  });

  it('uploads: chunked PATCH works, Content-Range is not checked, no OCI-Chunk-Min-Length', async () => {
    const data = makeBlob(100, 'chunks');
    const start = await registryRequest(registry, '/v2/facts/up/blobs/uploads/', { method: 'POST' });
    expect(start.status).toBe(202);
    expect(start.header('range')).toBe('0-0');
    expect(start.header('docker-upload-uuid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(start.header('oci-chunk-min-length')).toBeUndefined();
    const location = start.header('location')!;
    expect(location.startsWith(`${registry.url}/v2/facts/up/blobs/uploads/`)).toBe(true); // absolute
    expect(location).toContain('_state=');

    const patch = await registryRequest(registry, location, {
      method: 'PATCH',
      headers: { 'content-type': 'application/octet-stream', 'content-range': '10-49' }, // wrong on purpose
      body: data.subarray(0, 40),
    });
    expect([patch.status, patch.header('range')]).toEqual([202, '0-39']);
    const status = await registryRequest(registry, patch.header('location')!);
    expect([status.status, status.header('range')]).toEqual([204, '0-39']);
    const final = new URL(patch.header('location')!);
    final.searchParams.set('digest', sha256Digest(data));
    const put = await registryRequest(registry, final.toString(), {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: data.subarray(40), // last chunk in the PUT body
    });
    expect([put.status, put.header('docker-content-digest')]).toEqual([201, sha256Digest(data)]);
  });

  it('uploads: POST ?digest= is not a one-shot upload; mounts work; bad digests are DIGEST_INVALID', async () => {
    const data = makeBlob(50, 'one-shot');
    const oneShot = await registryRequest(
      registry,
      `/v2/facts/up2/blobs/uploads/?digest=${sha256Digest(data)}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: data,
      },
    );
    expect([oneShot.status, oneShot.header('range')]).toEqual([202, '0-0']); // body ignored
    const layer = image.layers[0]!.digest;
    const mount = await registryRequest(
      registry,
      `/v2/facts/up2/blobs/uploads/?mount=${layer}&from=facts/app`,
      {
        method: 'POST',
      },
    );
    expect([mount.status, mount.header('docker-content-digest')]).toEqual([201, layer]);
    const missing = await registryRequest(
      registry,
      `/v2/facts/up2/blobs/uploads/?mount=${sha256Digest('nope')}&from=facts/app`,
      { method: 'POST' },
    );
    expect(missing.status).toBe(202); // falls back to a new upload session
    await expect(pushBlob(registry, 'facts/up2', data, sha256Digest('wrong'))).rejects.toThrow(
      /DIGEST_INVALID/,
    );
  });

  it('tags/list ignores n and last (no Link, unsorted); _catalog paginates', async () => {
    await pushImage(registry, 'facts/tags', image, 'c'); // blobs are linked per repository
    for (const tag of ['a', 'b']) {
      await pushManifest(registry, 'facts/tags', image.manifest, image.mediaType, tag);
    }
    const page = await listTags(registry, 'facts/tags', { n: 1 });
    expect([...page.tags].sort()).toEqual(['a', 'b', 'c']);
    expect(page.link).toBeUndefined();
    const catalog = await registryRequest(registry, '/v2/_catalog?n=1');
    expect(JSON.parse(catalog.body.toString()).repositories).toHaveLength(1);
    expect(catalog.header('link')).toMatch(/^<\/v2\/_catalog\?last=[^&]+&n=1>; rel="next"$/);
  });

  it('supports Range on blobs; DELETE works by digest only', async () => {
    const layer = image.layers[0]!;
    const range = await registryRequest(registry, `/v2/facts/app/blobs/${layer.digest}`, {
      headers: { range: 'bytes=10-19' },
    });
    expect([range.status, range.header('content-range'), range.body.length]).toEqual([
      206,
      'bytes 10-19/1024',
      10,
    ]);
    await pushImage(registry, 'facts/delete', image, 'a');
    const byTag = await registryRequest(registry, '/v2/facts/delete/manifests/a', { method: 'DELETE' });
    expect(byTag.status).toBe(400);
    const byDigest = await registryRequest(registry, `/v2/facts/delete/manifests/${image.digest}`, {
      method: 'DELETE',
    });
    expect(byDigest.status).toBe(202);
    const gone = await registryRequest(registry, '/v2/facts/delete/manifests/a', {
      headers: { accept: image.mediaType },
    });
    expect([gone.status, errorCode(gone.body)]).toEqual([404, 'MANIFEST_UNKNOWN']);
  });
});
