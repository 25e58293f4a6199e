import { startRegistry, pushImage, pushBlob, pushManifest, makeImage, makeIndex, makeArtifact, makeOversizedManifest, makeSchema1Manifest, registryRequest, sha256Digest, makeBlob, listTags, TestMediaTypes } from './index.js';
const r = await startRegistry({ accessLog: false });
const show = async (label: string, path: string, o: Parameters<typeof registryRequest>[2] = {}) => {
  const res = await registryRequest(r, path, o);
  const h = Object.entries(res.headers).filter(([k]) => !['date', 'docker-distribution-api-version', 'x-content-type-options'].includes(k)).map(([k, v]) => `${k}: ${String(v)}`).join(' | ');
  console.log(`## ${label}: ${res.status}\n   ${h}\n   ${res.body.toString('utf8').slice(0, 300)}`);
  return res;
};
const img = makeImage({ seed: 'a' });
await pushImage(r, 'p/img', img, 'v1');
await show('GET oci manifest no Accept', '/v2/p/img/manifests/v1');
await show('GET oci manifest Accept docker only', '/v2/p/img/manifests/v1', { headers: { accept: TestMediaTypes.dockerManifest } });
await show('GET oci manifest by digest no Accept', `/v2/p/img/manifests/${img.digest}`);
await show('HEAD oci manifest Accept oci', '/v2/p/img/manifests/v1', { method: 'HEAD', headers: { accept: TestMediaTypes.ociManifest } });
await show('GET unknown blob', `/v2/p/img/blobs/${sha256Digest('x')}`);
await show('HEAD unknown blob', `/v2/p/img/blobs/${sha256Digest('x')}`, { method: 'HEAD' });
await show('GET blob range', `/v2/p/img/blobs/${img.layers[0]!.digest}`, { headers: { range: 'bytes=10-19' } });
await show('GET unknown manifest unknown repo by digest', `/v2/nope/nope/manifests/${sha256Digest('x')}`);
await show('referrers', `/v2/p/img/referrers/${img.digest}`);
// index
const a = makeImage({ seed: 'arm', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
const idx = makeIndex([img, a]);
await pushImage(r, 'p/idx', idx, 'multi');
await show('GET oci index Accept oci index', '/v2/p/idx/manifests/multi', { headers: { accept: TestMediaTypes.ociIndex } });
await show('GET oci index Accept oci manifest only', '/v2/p/idx/manifests/multi', { headers: { accept: TestMediaTypes.ociManifest } });
await show('GET oci index no accept', '/v2/p/idx/manifests/multi');
const dimg = makeImage({ seed: 'd', format: 'docker' });
const didx = makeIndex([dimg, makeImage({ seed: 'd2', format: 'docker', platform: { os: 'linux', architecture: 'arm64' } })], { format: 'docker' });
await pushImage(r, 'p/didx', didx, 'multi');
await show('GET docker list Accept docker manifest only', '/v2/p/didx/manifests/multi', { headers: { accept: TestMediaTypes.dockerManifest } });
await show('GET docker list no accept', '/v2/p/didx/manifests/multi');
await show('GET docker manifest no accept', `/v2/p/didx/manifests/${dimg.digest}`);
// index referencing a missing child
const missingIdx = makeIndex([makeImage({ seed: 'never-pushed' })]);
await show('PUT index with missing child', '/v2/p/idx/manifests/broken', { method: 'PUT', headers: { 'content-type': missingIdx.mediaType }, body: missingIdx.manifest });
// artifact
const art = makeArtifact({ subject: img, artifactType: 'application/vnd.gantry.test.sbom+json', content: '{"sbom":true}', annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' } });
for (const [d, b] of art.blobs) await pushBlob(r, 'p/img', b, d);
const put = await show('PUT artifact with subject', `/v2/p/img/manifests/${art.digest}`, { method: 'PUT', headers: { 'content-type': art.mediaType }, body: art.manifest });
const got = await show('GET artifact', `/v2/p/img/manifests/${art.digest}`, { headers: { accept: TestMediaTypes.ociManifest } });
console.log('   artifact bytes identical', got.body.equals(art.manifest));
// artifact with subject pointing to missing manifest
const art2 = makeArtifact({ subject: { mediaType: TestMediaTypes.ociManifest, digest: sha256Digest('nothing'), size: 7 }, artifactType: 'application/x-test', content: 'x' });
for (const [d, b] of art2.blobs) await pushBlob(r, 'p/img', b, d);
await show('PUT artifact with missing subject', `/v2/p/img/manifests/${art2.digest}`, { method: 'PUT', headers: { 'content-type': art2.mediaType }, body: art2.manifest });
// OCI manifest without mediaType field
const noMt = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: TestMediaTypes.ociConfig, digest: img.configDigest, size: img.config.length }, layers: img.layers }));
await show('PUT oci manifest w/o mediaType field', `/v2/p/img/manifests/nomt`, { method: 'PUT', headers: { 'content-type': TestMediaTypes.ociManifest }, body: noMt });
await show('GET oci manifest w/o mediaType field', `/v2/p/img/manifests/nomt`, { headers: { accept: TestMediaTypes.ociManifest } });
// mediaType mismatch content-type
await show('PUT oci manifest with docker content-type', `/v2/p/img/manifests/mismatch`, { method: 'PUT', headers: { 'content-type': TestMediaTypes.dockerManifest }, body: img.manifest });
// schema1
const s1 = makeSchema1Manifest();
await show('PUT schema1', `/v2/p/s1/manifests/latest`, { method: 'PUT', headers: { 'content-type': TestMediaTypes.dockerSchema1 }, body: s1 });
await show('PUT schema1 signed ct', `/v2/p/s1/manifests/latest`, { method: 'PUT', headers: { 'content-type': TestMediaTypes.dockerSchema1Signed }, body: s1 });
// oversized
const big = makeOversizedManifest(5 * 1024 * 1024);
const bigJson = JSON.parse(big.toString()) as { layers: { digest: string }[] };
await pushBlob(r, 'p/big', makeBlob(16, 'gantry-oversized'));
await pushBlob(r, 'p/big', Buffer.from('{}'));
console.log('   big layer', bigJson.layers[0]!.digest);
await show('PUT 5MiB manifest', `/v2/p/big/manifests/big`, { method: 'PUT', headers: { 'content-type': TestMediaTypes.ociManifest }, body: big });
const big2 = makeOversizedManifest(3 * 1024 * 1024);
await show('PUT 3MiB manifest', `/v2/p/big/manifests/big3`, { method: 'PUT', headers: { 'content-type': TestMediaTypes.ociManifest }, body: big2 });
// tags pagination
for (const t of ['c', 'a', 'b', 'd', 'e']) await pushManifest(r, 'p/img', img.manifest, img.mediaType, t);
await show('tags/list', '/v2/p/img/tags/list');
await show('tags/list n=2', '/v2/p/img/tags/list?n=2');
await show('tags/list n=2 last=b', '/v2/p/img/tags/list?n=2&last=b');
await show('tags/list n=0', '/v2/p/img/tags/list?n=0');
await show('tags/list n=100', '/v2/p/img/tags/list?n=100');
await show('catalog n=2', '/v2/_catalog?n=2');
// upload variants
const blob = makeBlob(100, 'up');
const dg = sha256Digest(blob);
await show('POST monolithic ?digest=', `/v2/p/up/blobs/uploads/?digest=${dg}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: blob });
await show('POST mount from p/img', `/v2/p/up2/blobs/uploads/?mount=${img.layers[0]!.digest}&from=p/img`, { method: 'POST' });
await show('POST mount unknown blob', `/v2/p/up2/blobs/uploads/?mount=${dg.replace('a', 'b')}&from=p/img`, { method: 'POST' });
const st = await show('POST start', `/v2/p/up3/blobs/uploads/`, { method: 'POST' });
const loc = st.header('location')!;
await show('GET upload status', loc);
await show('PATCH out of order', loc, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream', 'content-range': '10-19' }, body: blob.subarray(10, 20) });
const st2 = await show('POST start', `/v2/p/up4/blobs/uploads/`, { method: 'POST' });
const p1 = await show('PATCH no content-range', st2.header('location')!, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' }, body: blob.subarray(0, 50) });
const u = new URL(p1.header('location')!); u.searchParams.set('digest', sha256Digest('wrong'));
await show('PUT wrong digest', u.toString(), { method: 'PUT', body: blob.subarray(50) });
await show('DELETE by tag', '/v2/p/img/manifests/a', { method: 'DELETE' });
await show('DELETE by digest', `/v2/p/didx/manifests/${didx.digest}`, { method: 'DELETE' });
await show('GET invalid name', '/v2/UPPER/manifests/x');
await show('GET invalid digest', '/v2/p/img/manifests/sha256:abc');
await r.stop();
