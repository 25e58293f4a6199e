/**
 * A manifest (or a small blob read whole, such as an image config) whose body arrives damaged — a flipped byte in transit, or cut off half-way — is read
 * again (at most three reads in all), as a damaged blob is; a registry that keeps sending wrong
 * bytes still fails with REGISTRY_DIGEST_MISMATCH, and the wrong bytes are never accepted. Found by
 * the faults suite (test/reliability/faults.test.ts): one flipped byte in a manifest read failed a
 * whole promotion, while the same byte in a blob was retried.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGantryError, type Digest } from '../../src/core/index.js';
import { RegistryClient, type Reference } from '../../src/registry/index.js';
import {
  makeImage,
  pushImage,
  startFaultProxy,
  startRegistry,
  type FaultDecision,
  type FaultProxy,
  type RegistryProcess,
} from '../helpers/index.js';

describe('damaged manifest bodies are read again', () => {
  let registry: RegistryProcess;
  let proxy: FaultProxy;
  let client: RegistryClient;
  const image = makeImage({ seed: 'manifest-reread', layers: [{ size: 512, seed: 'manifest-reread-0' }] });
  /** The decisions for the next manifest GETs, in order; then 'pass'. */
  let script: FaultDecision[] = [];

  beforeAll(async () => {
    registry = await startRegistry();
    await pushImage(registry, 'app/web', image, '1.0.0');
    proxy = await startFaultProxy({
      target: registry.url,
      fault: (req) =>
        req.method === 'GET' && /\/(manifests|blobs)\//.test(req.url) ? (script.shift() ?? 'pass') : 'pass',
    });
    client = new RegistryClient({ hostSettings: () => ({ scheme: 'http' }) });
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await proxy?.stop();
    await registry?.stop();
  });

  const ref = (reference: { digest: string } | { tag: string }): Reference =>
    ({ registry: proxy.host, repository: 'app/web', ...reference }) as Reference;
  const gets = (): number =>
    proxy.requests.filter((r) => r.method === 'GET' && r.url.includes('/manifests/')).length;

  it('a flipped byte, then a cut body: the third read is used, byte-exact', async () => {
    script = ['corrupt-byte', 'reset-mid-body'];
    const before = gets();
    const m = await client.manifestGet(ref({ digest: image.digest }));
    expect(m.digest).toBe(image.digest);
    expect(Buffer.compare(m.bytes, image.manifest)).toBe(0);
    expect(gets() - before).toBe(3);
    script = ['corrupt-byte'];
    expect((await client.manifestHead(ref({ tag: '1.0.0' })))?.digest).toBe(image.digest);
  });

  it('a small blob read whole (an image config) is read again too', async () => {
    script = ['corrupt-byte', 'reset-mid-body'];
    const repo = { registry: proxy.host, repository: 'app/web' };
    const bytes = await client.blobBytes(repo, image.configDigest as Digest, image.config.length);
    expect(Buffer.compare(bytes, image.config)).toBe(0);
    script = [];
  });

  it('a registry that keeps sending wrong bytes: REGISTRY_DIGEST_MISMATCH after three reads', async () => {
    script = ['corrupt-byte', 'corrupt-byte', 'corrupt-byte', 'corrupt-byte'];
    const before = gets();
    const err = await client.manifestGet(ref({ digest: image.digest })).catch((e: unknown) => e);
    expect(isGantryError(err, 'REGISTRY_DIGEST_MISMATCH'), String(err)).toBe(true);
    expect(gets() - before).toBe(3);
    script = [];
  });
});
