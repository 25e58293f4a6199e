/**
 * Behaviour no real registry shows on demand, played by a scripted FAKE registry: lying digests,
 * oversized and schema 1 manifests, 429/503 with Retry-After, redirects to storage hosts, dropped
 * and corrupted blob downloads, chunked-upload minimums, pagination loops, huge error bodies.
 */
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { MediaTypes, digestOf, type Digest } from '../../src/core/index.js';
import { RegistryClient, staticCredentials } from '../../src/registry/index.js';
import {
  makeBlob,
  makeImage,
  makeOversizedManifest,
  makeSchema1Manifest,
  sendBytes,
  sendJson,
  sendRegistryError,
  startFakeRegistry,
  type FakeHandler,
  type FakeRegistry,
} from '../helpers/index.js';
import { collect } from './clients.js';

const started: FakeRegistry[] = [];
const clients: RegistryClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

async function fake(handler: FakeHandler): Promise<FakeRegistry> {
  const f = await startFakeRegistry(handler);
  started.push(f);
  return f;
}

function client(
  options: { maxAttempts?: number; credential?: { username: string; password: string }; host?: string } = {},
): RegistryClient {
  const c = new RegistryClient({
    hostSettings: () => ({ scheme: 'http' }),
    retry: {
      baseDelayMs: 5,
      maxDelayMs: 20,
      maxRetryAfterMs: 5000,
      ...(options.maxAttempts !== undefined && { maxAttempts: options.maxAttempts }),
    },
    ...(options.credential &&
      options.host && { credentials: staticCredentials({ [options.host]: options.credential }) }),
  });
  clients.push(c);
  return c;
}

const image = makeImage({ seed: 'fake' });
const ref = (f: FakeRegistry, tag = 'v1') => ({ registry: f.host, repository: 'app', tag });

describe('manifests from a hostile registry (fake)', () => {
  it('rejects a Docker-Content-Digest that disagrees with the bytes', async () => {
    const f = await fake((_req, res) =>
      sendBytes(res, 200, image.manifest, {
        'content-type': image.mediaType,
        'docker-content-digest': digestOf('lie'),
      }),
    );
    await expect(client().manifestGet(ref(f))).rejects.toMatchObject({ code: 'REGISTRY_DIGEST_MISMATCH' });
  });

  it('rejects bytes that do not hash to the requested digest', async () => {
    const f = await fake((_req, res) =>
      sendBytes(res, 200, image.manifest, { 'content-type': image.mediaType }),
    );
    const wanted = digestOf('something else');
    const err: unknown = await client()
      .manifestGet({ registry: f.host, repository: 'app', digest: wanted })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_DIGEST_MISMATCH' });
    expect(String(err)).toContain(wanted);
  });

  it('refuses a manifest over 4 MiB, declared or streamed', async () => {
    const big = makeOversizedManifest(4 * 1024 * 1024 + 10);
    const declared = await fake((_req, res) =>
      sendBytes(res, 200, big, { 'content-type': MediaTypes.ociManifest }),
    );
    await expect(client().manifestGet(ref(declared))).rejects.toMatchObject({ code: 'REGISTRY_TOO_LARGE' });
    const streamed = await fake((_req, res) => {
      res.writeHead(200, { 'content-type': MediaTypes.ociManifest });
      for (let i = 0; i < big.length; i += 65536) res.write(big.subarray(i, i + 65536));
      res.end();
    });
    await expect(client().manifestGet(ref(streamed))).rejects.toMatchObject({ code: 'REGISTRY_TOO_LARGE' });
  });

  it('refuses Docker schema 1 clearly', async () => {
    const f = await fake((_req, res) =>
      sendBytes(res, 200, makeSchema1Manifest(), { 'content-type': MediaTypes.dockerSchema1Signed }),
    );
    const err: unknown = await client()
      .manifestGet(ref(f))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_MANIFEST_SCHEMA1' });
    expect(String(err)).toMatch(/schema 1/);
  });

  it('refuses a manifest that is not JSON', async () => {
    const f = await fake((_req, res) =>
      sendBytes(res, 200, '<html>hello</html>', { 'content-type': MediaTypes.ociManifest }),
    );
    await expect(client().manifestGet(ref(f))).rejects.toMatchObject({ code: 'REGISTRY_MANIFEST_INVALID' });
  });

  it('keeps a huge error body out of the message', async () => {
    const f = await fake((_req, res) => sendBytes(res, 400, 'x'.repeat(1024 * 1024)));
    const err: unknown = await client()
      .manifestGet(ref(f))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_PROTOCOL' });
    expect(String(err).length).toBeLessThan(600);
  });

  it('keeps the registry error code and message', async () => {
    const f = await fake((_req, res) =>
      sendJson(res, 404, {
        errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }],
      }),
    );
    const err: unknown = await client()
      .manifestGet(ref(f))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_MANIFEST_UNKNOWN' });
  });
});

describe('retries (fake)', () => {
  it('waits for Retry-After on 429 and pauses every request to that host', async () => {
    const times: number[] = [];
    const f = await fake((req, res) => {
      times.push(Date.now());
      if (times.length === 1) return sendBytes(res, 429, '', { 'retry-after': '1' });
      return sendBytes(res, 200, image.manifest, { 'content-type': image.mediaType });
    });
    const c = client();
    const first = c.manifestGet(ref(f));
    await new Promise((r) => setTimeout(r, 150));
    const second = c.manifestGet(ref(f, 'v2'));
    await Promise.all([first, second]);
    expect(times).toHaveLength(3);
    for (const t of times.slice(1)) expect(t - times[0]!).toBeGreaterThanOrEqual(900);
  });

  it('retries 503 until it succeeds', async () => {
    let n = 0;
    const f = await fake((_req, res) => {
      n++;
      if (n <= 2) return sendBytes(res, 503, 'busy');
      return sendBytes(res, 200, image.manifest, { 'content-type': image.mediaType });
    });
    expect((await client().manifestGet(ref(f))).digest).toBe(image.digest);
    expect(n).toBe(3);
  });

  it('gives up after the attempt limit with the last status', async () => {
    const f = await fake((_req, res) => sendBytes(res, 503, 'down'));
    await expect(client({ maxAttempts: 3 }).manifestGet(ref(f))).rejects.toMatchObject({
      code: 'REGISTRY_SERVER_ERROR',
    });
    expect(f.requests).toHaveLength(3);
  });

  it('does not wait for a Retry-After beyond the limit', async () => {
    const f = await fake((_req, res) => sendBytes(res, 429, '', { 'retry-after': '3600' }));
    await expect(client().manifestGet(ref(f))).rejects.toMatchObject({ code: 'REGISTRY_TOO_MANY_REQUESTS' });
    expect(f.requests).toHaveLength(1);
  });
});

describe('blobs from a flaky registry (fake)', () => {
  const data = makeBlob(256 * 1024, 'flaky');
  const digest = digestOf(data);

  it('resumes a dropped download with Range and still verifies the digest', async () => {
    let n = 0;
    const f = await fake((req, res) => {
      n++;
      if (n === 1) {
        res.writeHead(200, { 'content-length': String(data.length) });
        res.write(data.subarray(0, 100_000), () => res.socket?.destroy());
        return;
      }
      const m = /bytes=(\d+)-/.exec(String(req.headers.range));
      const start = Number(m?.[1]);
      sendBytes(res, 206, data.subarray(start), {
        'content-range': `bytes ${start}-${data.length - 1}/${data.length}`,
      });
    });
    const back = await collect(
      client().blobGet({ registry: f.host, repository: 'app' }, digest, { size: data.length }),
    );
    expect(back.equals(data)).toBe(true);
    expect(f.requests[1]?.headers.range).toMatch(/^bytes=\d+-$/);
  });

  it('resumes correctly when the server ignores Range', async () => {
    let n = 0;
    const f = await fake((_req, res) => {
      n++;
      if (n === 1) {
        res.writeHead(200, { 'content-length': String(data.length) });
        res.write(data.subarray(0, 70_000), () => res.socket?.destroy());
        return;
      }
      sendBytes(res, 200, data);
    });
    const back = await collect(client().blobGet({ registry: f.host, repository: 'app' }, digest));
    expect(back.equals(data)).toBe(true);
  });

  it('fails a corrupted blob with REGISTRY_DIGEST_MISMATCH', async () => {
    const bad = Buffer.from(data);
    bad[1000] = (bad[1000]! + 1) % 256;
    const f = await fake((_req, res) => sendBytes(res, 200, bad));
    await expect(
      collect(client().blobGet({ registry: f.host, repository: 'app' }, digest)),
    ).rejects.toMatchObject({
      code: 'REGISTRY_DIGEST_MISMATCH',
    });
  });

  it('reads a small blob whole, and refuses one of the wrong size or content', async () => {
    const small = data.subarray(0, 4096);
    const smallDigest = digestOf(small);
    const bad = Buffer.from(small);
    bad[100] = (bad[100]! + 1) % 256;
    // A damaged small blob is read three times before it fails (src/registry/reread.ts, rereadDamaged).
    const thrice = (b: Buffer): Buffer[] => [b, b, b];
    const answers = [
      small,
      ...thrice(Buffer.concat([small, Buffer.from('extra')])),
      ...thrice(small.subarray(0, 4000)),
      ...thrice(bad),
    ];
    let n = 0;
    const f = await fake((_req, res) => sendBytes(res, 200, answers[n++]!));
    const c = client();
    const at = { registry: f.host, repository: 'app' };
    expect((await c.blobBytes(at, smallDigest, small.length)).equals(small)).toBe(true);
    await expect(c.blobBytes(at, smallDigest, small.length)).rejects.toMatchObject({
      code: 'REGISTRY_SIZE_MISMATCH',
    });
    await expect(c.blobBytes(at, smallDigest, small.length)).rejects.toMatchObject({
      code: 'REGISTRY_SIZE_MISMATCH',
    });
    await expect(c.blobBytes(at, smallDigest, small.length)).rejects.toMatchObject({
      code: 'REGISTRY_DIGEST_MISMATCH',
    });
    expect(n).toBe(answers.length);
  });

  it('never sends credentials to the host a blob redirects to', async () => {
    const storage = await fake((_req, res) => sendBytes(res, 200, data));
    const f = await fake((req, res) => {
      if (!req.headers.authorization)
        return sendBytes(res, 401, '', { 'www-authenticate': 'Basic realm="fake"' });
      res.writeHead(307, { location: `${storage.url}/blob?X-Amz-Signature=s3cr3t` });
      res.end();
    });
    const c = client({ credential: { username: 'u', password: 'pw-123' }, host: f.host });
    const back = await collect(c.blobGet({ registry: f.host, repository: 'app' }, digest));
    expect(back.equals(data)).toBe(true);
    expect(f.requests.at(-1)?.headers.authorization).toMatch(/^Basic /);
    expect(storage.requests[0]?.headers.authorization).toBeUndefined();
  });
});

describe('uploads to a picky registry (fake)', () => {
  it('falls back to chunks when a single PUT is refused, honouring OCI-Chunk-Min-Length', async () => {
    const data = makeBlob(250_000, 'picky');
    const digest = digestOf(data);
    const patches: number[] = [];
    let received = Buffer.alloc(0);
    const f = await fake((req, res) => {
      if (req.method === 'POST') {
        received = Buffer.alloc(0);
        return sendBytes(res, 202, '', {
          location: '/v2/app/blobs/uploads/u1?_state=x',
          'oci-chunk-min-length': '100000',
        });
      }
      if (req.method === 'PATCH') {
        patches.push(req.body.length);
        const [start] = String(req.headers['content-range']).split('-').map(Number);
        expect(start).toBe(received.length);
        received = Buffer.concat([received, req.body]);
        return sendBytes(res, 202, '', {
          location: '/v2/app/blobs/uploads/u1?_state=y',
          range: `0-${received.length - 1}`,
        });
      }
      if (req.method === 'PUT' && req.body.length > 0) return sendBytes(res, 413, 'too large');
      if (req.method === 'PUT') {
        expect(digestOf(received)).toBe(new URL(req.url ?? '', 'http://x').searchParams.get('digest'));
        return sendBytes(res, 201, '', { 'docker-content-digest': digest });
      }
      sendBytes(res, 405, '');
    });
    await client().blobUpload(
      { registry: f.host, repository: 'app' },
      digest,
      data.length,
      () => Readable.from([data]),
      {
        chunkSize: 1000,
      },
    );
    expect(patches).toEqual([100_000, 100_000, 50_000]);
    expect(received.equals(data)).toBe(true);
  });

  it('rejects a registry that stores a blob under another digest', async () => {
    const data = makeBlob(10, 'stored-wrong');
    const f = await fake((req, res) => {
      if (req.method === 'POST') return sendBytes(res, 202, '', { location: '/v2/app/blobs/uploads/u1' });
      sendBytes(res, 201, '', { 'docker-content-digest': digestOf('other') });
    });
    await expect(
      client().blobUpload({ registry: f.host, repository: 'app' }, digestOf(data), 10, data),
    ).rejects.toMatchObject({
      code: 'REGISTRY_DIGEST_MISMATCH',
    });
  });
});

describe('tag lists (fake)', () => {
  it('follows absolute and relative Link headers', async () => {
    const f = await fake((req, res) => {
      const last = new URL(req.url ?? '', 'http://x').searchParams.get('last');
      if (!last)
        return sendJson(
          res,
          200,
          { name: 'app', tags: ['a', 'b'] },
          { link: '</v2/app/tags/list?n=2&last=b>; rel="next"' },
        );
      if (last === 'b')
        return sendJson(
          res,
          200,
          { name: 'app', tags: ['c'] },
          { link: `<http://${req.headers.host}/v2/app/tags/list?n=2&last=c>; rel="next"` },
        );
      return sendJson(res, 200, { name: 'app', tags: null });
    });
    expect(await client().tagList({ registry: f.host, repository: 'app' }, 2)).toEqual(['a', 'b', 'c']);
  });

  it('stops a pagination loop', async () => {
    const f = await fake((_req, res) =>
      sendJson(res, 200, { tags: ['a'] }, { link: '</v2/app/tags/list?n=1&last=a>; rel="next"' }),
    );
    await expect(client().tagList({ registry: f.host, repository: 'app' }, 1)).rejects.toMatchObject({
      code: 'REGISTRY_PROTOCOL',
    });
  });
});

describe('catalogs (fake)', () => {
  it('follows Link pages and sets apart names that are not repository paths', async () => {
    const f = await fake((req, res) => {
      const last = new URL(req.url ?? '', 'http://x').searchParams.get('last');
      if (!last)
        return sendJson(
          res,
          200,
          { repositories: ['base/a', '../etc'] },
          { link: '</v2/_catalog?n=2&last=base%2Fa>; rel="next"' },
        );
      return sendJson(res, 200, { repositories: ['base/b'] });
    });
    expect(await client().catalogList(f.host, 2)).toEqual({
      repositories: ['base/a', 'base/b'],
      invalid: ['../etc'],
    });
  });

  it.each([
    [404, 'REGISTRY_UNSUPPORTED'],
    [403, 'REGISTRY_DENIED'],
  ])('a catalog answered %i is %s', async (status, code) => {
    const f = await fake((_req, res) =>
      status === 404
        ? sendRegistryError(res, 404, 'UNSUPPORTED', 'no catalog here')
        : sendRegistryError(res, 403, 'DENIED', 'catalog access denied'),
    );
    await expect(client({ maxAttempts: 1 }).catalogList(f.host)).rejects.toMatchObject({ code });
  });

  it('refuses a next page on another path', async () => {
    const f = await fake((_req, res) =>
      sendJson(res, 200, { repositories: ['a'] }, { link: '</v2/a/tags/list?n=1>; rel="next"' }),
    );
    await expect(client().catalogList(f.host)).rejects.toMatchObject({ code: 'REGISTRY_PROTOCOL' });
  });
});

describe('token servers that misbehave (fake)', () => {
  it('reports a token response without a token', async () => {
    const f = await fake((req, res) => {
      if ((req.url ?? '').startsWith('/token')) return sendJson(res, 200, { nothing: true });
      sendBytes(res, 401, '', {
        'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="fake"`,
      });
    });
    await expect(client().manifestGet(ref(f))).rejects.toMatchObject({ code: 'REGISTRY_PROTOCOL' });
  });

  it('does not loop on a registry that refuses every token', async () => {
    const f = await fake((req, res) => {
      if ((req.url ?? '').startsWith('/token')) return sendJson(res, 200, { token: 'useless' });
      sendBytes(res, 401, '', {
        'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="fake"`,
      });
    });
    await expect(client().manifestGet(ref(f))).rejects.toMatchObject({ code: 'REGISTRY_UNAUTHORIZED' });
    expect(f.requests.length).toBeLessThanOrEqual(3);
  });
});

describe('digest helpers', () => {
  it('keep Digest typing', () => {
    const d: Digest = digestOf('x');
    expect(d).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
