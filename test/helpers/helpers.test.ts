/**
 * Proves the test helpers work: every registry variant, the fake token server, the image
 * generators, the fake registry and the fault proxy.
 */
import { spawn } from 'node:child_process';
import { X509Certificate, verify } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_TEST_USER,
  EMPTY_DESCRIPTOR,
  TestMediaTypes,
  decodeJwt,
  fetchBlob,
  fetchManifest,
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
  runCommand,
  sendJson,
  sha256Digest,
  startFakeRegistry,
  startFaultProxy,
  startRegistry,
  startTokenServer,
  type RegistryProcess,
  type TestImage,
  type TestIndex,
  type TokenServer,
} from './index.js';

const basic = (username: string, password: string): string =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

async function expectRoundTrip(registry: RegistryProcess, repository: string, image: TestImage | TestIndex) {
  const fetched = await fetchManifest(registry, repository, image.digest);
  expect(fetched.bytes.equals(image.manifest)).toBe(true);
  expect(fetched.mediaType).toBe(image.mediaType);
  expect(fetched.digest).toBe(image.digest);
  for (const [digest, data] of image.blobs) {
    expect((await fetchBlob(registry, repository, digest)).equals(data)).toBe(true);
  }
}

function isGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('image generators', () => {
  it('makeBlob is deterministic, sized and incompressible-looking', () => {
    const a = makeBlob(1000, 'seed');
    expect(a.length).toBe(1000);
    expect(makeBlob(1000, 'seed').equals(a)).toBe(true);
    expect(makeBlob(1000, 'other').equals(a)).toBe(false);
    expect(makeBlob(37, 'seed').equals(a.subarray(0, 37))).toBe(true);
    expect(makeBlob(0, 'seed').length).toBe(0);
    expect(new Set(a).size).toBeGreaterThan(200);
  });

  it('makeImage: same seed, same digest; proper config and manifest', () => {
    const a = makeImage({ seed: 's1', labels: { team: 'core' }, annotations: { 'org.example': 'x' } });
    const b = makeImage({ seed: 's1', labels: { team: 'core' }, annotations: { 'org.example': 'x' } });
    expect(a.digest).toBe(b.digest);
    expect(a.manifest.equals(b.manifest)).toBe(true);
    expect(makeImage({ seed: 's2' }).digest).not.toBe(a.digest);
    expect(a.digest).toBe(sha256Digest(a.manifest));
    expect(a.size).toBe(a.manifest.length);
    expect(a.mediaType).toBe(TestMediaTypes.ociManifest);

    const manifest = JSON.parse(a.manifest.toString('utf8'));
    expect(manifest.schemaVersion).toBe(2);
    expect(manifest.config).toEqual({
      mediaType: TestMediaTypes.ociConfig,
      digest: a.configDigest,
      size: a.config.length,
    });
    expect(manifest.layers).toEqual(a.layers);
    expect(manifest.annotations).toEqual({ 'org.example': 'x' });
    const config = JSON.parse(a.config.toString('utf8'));
    expect(config).toMatchObject({
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: { team: 'core' } },
    });
    expect(config.rootfs).toEqual({ type: 'layers', diff_ids: a.layers.map((l) => l.digest) });
    expect([...a.blobs.keys()].sort()).toEqual([a.configDigest, ...a.layers.map((l) => l.digest)].sort());
    for (const [digest, data] of a.blobs) expect(sha256Digest(data)).toBe(digest);
  });

  it('makeImage: docker format, custom layers and platform', () => {
    const image = makeImage({
      format: 'docker',
      platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
      layers: [
        { size: 10, seed: 'l1' },
        { size: 20, seed: 'l2', mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip' },
      ],
    });
    const manifest = JSON.parse(image.manifest.toString('utf8')) as {
      mediaType: string;
      config: { mediaType: string };
      layers: { mediaType: string }[];
    };
    expect(image.mediaType).toBe(TestMediaTypes.dockerManifest);
    expect(manifest.mediaType).toBe(TestMediaTypes.dockerManifest);
    expect(manifest.config.mediaType).toBe(TestMediaTypes.dockerConfig);
    expect(manifest.layers.map((l) => l.mediaType)).toEqual([
      TestMediaTypes.dockerLayer,
      'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
    ]);
    expect(JSON.parse(image.config.toString('utf8'))).toMatchObject({ architecture: 'arm', variant: 'v7' });
    expect(image.descriptor.platform).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
  });

  it('makeIndex: one entry per image with its platform, union of blobs', () => {
    const amd = makeImage({ seed: 'amd' });
    const arm = makeImage({ seed: 'arm', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    const index = makeIndex([amd, arm], { annotations: { a: 'b' } });
    expect(index.mediaType).toBe(TestMediaTypes.ociIndex);
    expect(index.digest).toBe(sha256Digest(index.manifest));
    const parsed = JSON.parse(index.manifest.toString('utf8'));
    expect(parsed.manifests).toEqual([
      {
        mediaType: amd.mediaType,
        digest: amd.digest,
        size: amd.size,
        platform: { os: 'linux', architecture: 'amd64' },
      },
      {
        mediaType: arm.mediaType,
        digest: arm.digest,
        size: arm.size,
        platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
      },
    ]);
    expect(parsed.annotations).toEqual({ a: 'b' });
    expect(index.blobs.size).toBe(amd.blobs.size + arm.blobs.size);
    const list = makeIndex([makeImage({ format: 'docker' })], { format: 'docker' });
    expect(list.mediaType).toBe(TestMediaTypes.dockerList);
    expect(JSON.parse(list.manifest.toString('utf8')).mediaType).toBe(TestMediaTypes.dockerList);
  });

  it('makeArtifact: OCI 1.1 artifact with empty config and subject', () => {
    const subject = makeImage();
    const artifact = makeArtifact({
      subject,
      artifactType: 'application/vnd.example.sbom.v1+json',
      content: '{"sbom":1}',
      annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
    });
    const parsed = JSON.parse(artifact.manifest.toString('utf8'));
    expect(parsed).toMatchObject({
      schemaVersion: 2,
      mediaType: TestMediaTypes.ociManifest,
      artifactType: 'application/vnd.example.sbom.v1+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: EMPTY_DESCRIPTOR.digest, size: 2 },
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    });
    expect(Object.keys(parsed.subject as object)).toEqual(['mediaType', 'digest', 'size']);
    expect(parsed.layers).toHaveLength(1);
    expect(artifact.blobs.get(EMPTY_DESCRIPTOR.digest)?.toString()).toBe('{}');
    expect(EMPTY_DESCRIPTOR.digest).toBe(
      'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
    );
    expect(artifact.blobs.get(artifact.layers[0]!.digest)?.toString()).toBe('{"sbom":1}');
    expect(parsed.layers).toEqual(artifact.layers);
    expect(artifact.platform).toBeUndefined();
  });

  it('makeOversizedManifest is exactly the requested size and valid JSON', () => {
    for (const size of [1000, 4 * 1024 * 1024 + 1]) {
      const bytes = makeOversizedManifest(size);
      expect(bytes.length).toBe(size);
      expect(JSON.parse(bytes.toString('utf8')).schemaVersion).toBe(2);
    }
    expect(() => makeOversizedManifest(10)).toThrow(/smaller/);
  });

  it('makeSchema1Manifest is a schema 1 manifest', () => {
    const parsed = JSON.parse(makeSchema1Manifest().toString('utf8'));
    expect(parsed.schemaVersion).toBe(1);
    expect(parsed.fsLayers).toHaveLength(1);
    expect(makeSchema1Manifest().equals(makeSchema1Manifest())).toBe(true);
  });
});

describe('anonymous registry', () => {
  let registry: RegistryProcess;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('answers /v2/ on 127.0.0.1 with an http URL', async () => {
    expect(registry.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(registry.url).toBe(`http://${registry.host}`);
    expect(registry.users).toEqual([]);
    const res = await registryRequest(registry, '/v2/');
    expect(res.status).toBe(200);
    expect(res.header('docker-distribution-api-version')).toBe('registry/2.0');
  });

  it('pushes OCI and Docker images, indexes and artifacts and pulls back identical bytes', async () => {
    const image = makeImage({
      seed: 'anon-oci',
      layers: [
        { size: 70_000, seed: 'big' },
        { size: 1, seed: 'tiny' },
      ],
    });
    expect(await pushImage(registry, 'helpers/anon', image, 'v1')).toBe(image.digest);
    await expectRoundTrip(registry, 'helpers/anon', image);
    expect((await fetchManifest(registry, 'helpers/anon', 'v1')).digest).toBe(image.digest);

    const docker = makeImage({ seed: 'anon-docker', format: 'docker', indent: 3 });
    await pushImage(registry, 'helpers/anon', docker, 'docker');
    await expectRoundTrip(registry, 'helpers/anon', docker);

    const index = makeIndex([
      makeImage({ seed: 'i-amd' }),
      makeImage({ seed: 'i-arm', platform: { os: 'linux', architecture: 'arm64' } }),
    ]);
    await pushImage(registry, 'helpers/anon', index, 'multi');
    await expectRoundTrip(registry, 'helpers/anon', index);
    for (const child of index.images) await expectRoundTrip(registry, 'helpers/anon', child);

    const list = makeIndex([makeImage({ seed: 'l-amd', format: 'docker' })], { format: 'docker' });
    await pushImage(registry, 'helpers/anon', list, 'list');
    await expectRoundTrip(registry, 'helpers/anon', list);

    const artifact = makeArtifact({
      subject: image,
      artifactType: 'application/vnd.example.sig',
      content: 'sig',
    });
    await pushImage(registry, 'helpers/anon', artifact);
    await expectRoundTrip(registry, 'helpers/anon', artifact);
  });

  it('pushBlob / pushManifest work on their own and report digests', async () => {
    const data = makeBlob(5000, 'solo');
    expect(await pushBlob(registry, 'helpers/solo', data)).toBe(sha256Digest(data));
    expect(await pushBlob(registry, 'helpers/solo', data)).toBe(sha256Digest(data)); // already there: skipped
    await expect(pushBlob(registry, 'helpers/solo', data, sha256Digest('other'))).rejects.toThrow(
      /DIGEST_INVALID/,
    );
    const image = makeImage({ seed: 'solo' });
    for (const [digest, blob] of image.blobs) await pushBlob(registry, 'helpers/solo', blob, digest);
    const pushed = await pushManifest(registry, 'helpers/solo', image.manifest, image.mediaType, 'latest');
    expect(pushed.digest).toBe(image.digest);
    expect(pushed.location).toContain(`/v2/helpers/solo/manifests/${image.digest}`);
  });

  it('what pushImage writes is readable by an independent client (skopeo)', async () => {
    const image = makeImage({ seed: 'skopeo', labels: { 'org.example.team': 'gantry' } });
    await pushImage(registry, 'helpers/skopeo', image, 'v1');
    const ref = `docker://${registry.host}/helpers/skopeo:v1`;
    const raw = await runCommand('skopeo', ['inspect', '--tls-verify=false', '--raw', ref]);
    expect(Buffer.from(raw.stdout).equals(image.manifest)).toBe(true);
    const info = JSON.parse((await runCommand('skopeo', ['inspect', '--tls-verify=false', ref])).stdout);
    expect(info).toMatchObject({ Digest: image.digest, Architecture: 'amd64', Os: 'linux' });
    expect(info.Labels).toMatchObject({ 'org.example.team': 'gantry' });
  });

  describe('fault proxy in front of it', () => {
    it('passes requests through and rewrites upload Locations to itself', async () => {
      const proxy = await startFaultProxy({ target: registry.url });
      try {
        const viaProxy: RegistryProcess = { ...registry, url: proxy.url, host: proxy.host };
        const image = makeImage({ seed: 'via-proxy' });
        await pushImage(viaProxy, 'helpers/proxy', image, 'v1');
        await expectRoundTrip(viaProxy, 'helpers/proxy', image);
        await expectRoundTrip(registry, 'helpers/proxy', image);
        expect(proxy.requests.length).toBeGreaterThan(5);
        expect(proxy.requests.every((r) => r.fault === 'pass')).toBe(true);
        const uploads = proxy.requests.filter((r) => r.method === 'PUT' && r.url.includes('/blobs/uploads/'));
        expect(uploads.length).toBe(image.blobs.size); // PUT <location> came back through the proxy
      } finally {
        await proxy.stop();
      }
    });

    it('injects a 503 and then passes', async () => {
      const proxy = await startFaultProxy({
        target: registry.url,
        fault: (_req, n) =>
          n === 1 ? { status: 503, headers: { 'Retry-After': '1' }, body: 'busy' } : 'pass',
      });
      try {
        const first = await request(`${proxy.url}/v2/`);
        expect(first.statusCode).toBe(503);
        expect(first.headers['retry-after']).toBe('1');
        expect(await first.body.text()).toBe('busy');
        const second = await request(`${proxy.url}/v2/`);
        expect(second.statusCode).toBe(200);
        expect(second.headers['docker-distribution-api-version']).toBe('registry/2.0');
        await second.body.dump();
        expect(proxy.requests.map((r) => [r.n, r.fault, r.status])).toEqual([
          [1, 'canned', 503],
          [2, 'pass', 200],
        ]);
      } finally {
        await proxy.stop();
      }
    });

    it('corrupts a byte, resets mid-body and resets before answering', async () => {
      const data = makeBlob(4096, 'faulty');
      const digest = await pushBlob(registry, 'helpers/faulty', data);
      const proxy = await startFaultProxy({ target: registry.url, fault: () => 'corrupt-byte' });
      try {
        const url = `${proxy.url}/v2/helpers/faulty/blobs/${digest}`;
        const corrupted = Buffer.from(await (await request(url)).body.arrayBuffer());
        expect(corrupted.length).toBe(data.length);
        expect(corrupted.equals(data)).toBe(false);
        expect(sha256Digest(corrupted)).not.toBe(digest);

        proxy.setFault(() => 'reset-mid-body');
        const res = await request(url);
        expect(res.statusCode).toBe(200);
        await expect(res.body.arrayBuffer()).rejects.toThrow();

        proxy.setFault(() => 'reset');
        await expect(request(url)).rejects.toThrow();
        expect(proxy.requests.map((r) => r.fault)).toEqual(['corrupt-byte', 'reset-mid-body', 'reset']);
      } finally {
        await proxy.stop();
      }
    });
  });
});

describe('registry lifecycle', () => {
  it('stop() kills the process group and removes the temp dir', async () => {
    const registry = await startRegistry();
    expect(existsSync(registry.dir)).toBe(true);
    expect(isGroupAlive(registry.pgid)).toBe(true);
    await registry.stop();
    expect(isGroupAlive(registry.pgid)).toBe(false);
    expect(existsSync(registry.dir)).toBe(false);
    await expect(request(`${registry.url}/v2/`)).rejects.toThrow();
    await registry.stop(); // idempotent
  });

  it('a registry dies with the Node process that started it, even on SIGKILL', async () => {
    const helper = new URL('./registry.ts', import.meta.url).pathname;
    const code = [
      `const { startRegistry } = await import(${JSON.stringify(helper)});`,
      'const r = await startRegistry();',
      "process.stdout.write(JSON.stringify({ url: r.url, pgid: r.pgid, dir: r.dir }) + '\\n');",
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const deadline = Date.now() + 20_000;
    while (!out.includes('\n') && Date.now() < deadline) await sleep(50);
    const started = JSON.parse(out.split('\n')[0]!) as { url: string; pgid: number; dir: string };
    expect(isGroupAlive(started.pgid)).toBe(true);
    child.kill('SIGKILL');
    const until = Date.now() + 10_000;
    while (isGroupAlive(started.pgid) && Date.now() < until) await sleep(100);
    expect(isGroupAlive(started.pgid)).toBe(false);
    expect(existsSync(started.dir)).toBe(false);
    await expect(request(`${started.url}/v2/`)).rejects.toThrow();
  });

  it('fails loudly when the binary is missing', async () => {
    await expect(startRegistry({ binary: '/nonexistent/docker-registry' })).rejects.toThrow(
      'docker-registry not found: install the Debian package docker-registry',
    );
  });

  it('fails loudly, with the registry output, when the registry cannot start', async () => {
    const error = await startRegistry({
      extraConfig: { storage: { filesystem: null, nosuchdriver: {} } },
    }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/exited early/);
    expect((error as Error).message).toMatch(/nosuchdriver/);
  });
});

describe('htpasswd registry', () => {
  let registry: RegistryProcess;
  beforeAll(async () => {
    registry = await startRegistry({
      auth: 'htpasswd',
      users: [DEFAULT_TEST_USER, { username: 'bob', password: 'builder' }],
    });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('rejects anonymous requests with a Basic challenge', async () => {
    const res = await registryRequest(registry, '/v2/', { authorization: null });
    expect(res.status).toBe(401);
    expect(res.header('www-authenticate')).toBe('Basic realm="gantry-test-registry"');
    const htpasswd = readFileSync(`${registry.dir}/htpasswd`, 'utf8');
    expect(htpasswd).toMatch(/^alice:\$2y\$/m);
    expect(htpasswd).toMatch(/^bob:\$2y\$/m);
  });

  it('accepts alice (and bob), rejects a wrong password', async () => {
    const ok = await registryRequest(registry, '/v2/', {
      authorization: basic('alice', 'wonderland-secret'),
    });
    expect(ok.status).toBe(200);
    const bob = await registryRequest(registry, '/v2/', { authorization: basic('bob', 'builder') });
    expect(bob.status).toBe(200);
    const bad = await registryRequest(registry, '/v2/', { authorization: basic('alice', 'nope') });
    expect(bad.status).toBe(401);
  });

  it('pushes and pulls as the first user', async () => {
    const image = makeImage({ seed: 'htpasswd' });
    await pushImage(registry, 'helpers/basic', image, 'v1');
    await expectRoundTrip(registry, 'helpers/basic', image);
    const anonymous = await registryRequest(registry, `/v2/helpers/basic/manifests/${image.digest}`, {
      authorization: null,
      headers: { accept: image.mediaType },
    });
    expect(anonymous.status).toBe(401);
  });
});

describe('token registry', () => {
  let registry: RegistryProcess;
  let tokens: TokenServer;
  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token' });
    tokens = registry.tokenServer!;
  });
  afterAll(async () => {
    await registry?.stop();
  });

  async function getToken(scopes: string[], credentials?: [string, string]) {
    const url = new URL(tokens.realm);
    url.searchParams.set('service', tokens.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const res = await request(url, { headers: credentials ? { authorization: basic(...credentials) } : {} });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  }

  it('challenges anonymous clients with the token realm', async () => {
    const res = await registryRequest(registry, '/v2/', { authorization: null });
    expect(res.status).toBe(401);
    expect(res.header('www-authenticate')).toBe(
      `Bearer realm="${tokens.realm}",service="gantry-test-registry"`,
    );
  });

  it('a token for repository:test/x:pull,push lets alice push a blob and a manifest with raw undici', async () => {
    const before = tokens.requests.length;
    const { status, body } = await getToken(['repository:test/x:pull,push'], ['alice', 'wonderland-secret']);
    expect(status).toBe(200);
    expect(body.token).toBe(body.access_token);
    expect(body.expires_in).toBe(300);
    expect(typeof body.issued_at).toBe('string');
    expect(tokens.requests.slice(before)).toEqual([
      expect.objectContaining({
        method: 'GET',
        scopes: ['repository:test/x:pull,push'],
        user: 'alice',
        service: 'gantry-test-registry',
        status: 200,
        granted: [{ type: 'repository', name: 'test/x', actions: ['pull', 'push'] }],
      }),
    ]);
    const authorization = `Bearer ${body.token as string}`;
    const image = makeImage({ seed: 'token' });
    for (const [digest, data] of image.blobs) {
      const start = await request(`${registry.url}/v2/test/x/blobs/uploads/`, {
        method: 'POST',
        headers: { authorization },
      });
      await start.body.dump();
      expect(start.statusCode).toBe(202);
      const location = new URL(start.headers.location as string, registry.url);
      location.searchParams.set('digest', digest);
      const put = await request(location, {
        method: 'PUT',
        headers: { authorization, 'content-type': 'application/octet-stream' },
        body: data,
      });
      await put.body.dump();
      expect(put.statusCode).toBe(201);
    }
    const put = await request(`${registry.url}/v2/test/x/manifests/v1`, {
      method: 'PUT',
      headers: { authorization, 'content-type': image.mediaType },
      body: image.manifest,
    });
    await put.body.dump();
    expect(put.statusCode).toBe(201);
    expect(put.headers['docker-content-digest']).toBe(image.digest);
    await expectRoundTrip(registry, 'test/x', image);
  });

  it('denies anonymous pulls and tokens for another repository', async () => {
    await pushImage(registry, 'test/x', makeImage({ seed: 'token' }), 'v1');
    const path = '/v2/test/x/manifests/v1';
    const accept = { accept: TestMediaTypes.ociManifest };
    const none = await registryRequest(registry, path, { authorization: null, headers: accept });
    expect(none.status).toBe(401);
    expect(none.header('www-authenticate')).toContain('scope="repository:test/x:pull"');

    const anon = await getToken(['repository:test/x:pull']);
    expect(anon.status).toBe(200);
    expect(decodeJwt(anon.body.token as string).claims.access).toEqual([]);
    const anonRes = await registryRequest(registry, path, {
      authorization: `Bearer ${anon.body.token as string}`,
      headers: accept,
    });
    expect(anonRes.status).toBe(401);
    expect(anonRes.header('www-authenticate')).toContain('error="insufficient_scope"');

    const other = await getToken(['repository:test/other:pull,push'], ['alice', 'wonderland-secret']);
    const otherRes = await registryRequest(registry, path, {
      authorization: `Bearer ${other.body.token as string}`,
      headers: accept,
    });
    expect(otherRes.status).toBe(401);

    const own = await getToken(['repository:test/x:pull'], ['alice', 'wonderland-secret']);
    const ownRes = await registryRequest(registry, path, {
      authorization: `Bearer ${own.body.token as string}`,
      headers: accept,
    });
    expect(ownRes.status).toBe(200);
  });

  it('rejects a token signed for another service', async () => {
    const forged = await startTokenServer({ service: 'someone-else' });
    try {
      const token = forged.issueToken('alice', [{ type: 'repository', name: 'test/x', actions: ['pull'] }]);
      const res = await registryRequest(registry, '/v2/test/x/tags/list', {
        authorization: `Bearer ${token}`,
      });
      expect(res.status).toBe(401);
    } finally {
      await forged.stop();
    }
  });

  it('bad credentials get 401 from the token server (GET and POST)', async () => {
    expect((await getToken(['repository:test/x:pull'], ['alice', 'wrong'])).status).toBe(401);
    const res = await request(tokens.realm, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'password',
        username: 'alice',
        password: 'wrong',
        service: tokens.service,
        client_id: 'gantry',
        scope: 'repository:test/x:pull',
      }).toString(),
    });
    await res.body.dump();
    expect(res.statusCode).toBe(401);
  });

  it('OAuth2 POST: password grant with refresh token, then refresh_token grant', async () => {
    const post = async (form: Record<string, string>) => {
      const res = await request(tokens.realm, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      });
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
    };
    const first = await post({
      grant_type: 'password',
      username: 'alice',
      password: 'wonderland-secret',
      service: tokens.service,
      client_id: 'gantry-test',
      access_type: 'offline',
      scope: 'repository:test/x:pull repository:test/y:pull,push',
    });
    expect(first.status).toBe(200);
    expect(typeof first.body.refresh_token).toBe('string');
    expect(first.body.scope).toBe('repository:test/x:pull repository:test/y:pull,push');
    const refreshed = await post({
      grant_type: 'refresh_token',
      refresh_token: first.body.refresh_token as string,
      service: tokens.service,
      client_id: 'gantry-test',
      scope: 'repository:test/x:pull',
    });
    expect(refreshed.status).toBe(200);
    const res = await registryRequest(registry, '/v2/test/x/tags/list', {
      authorization: `Bearer ${refreshed.body.access_token as string}`,
    });
    expect(res.status).toBe(200);
    expect(tokens.requests.slice(-2)).toEqual([
      expect.objectContaining({
        method: 'POST',
        grantType: 'password',
        clientId: 'gantry-test',
        offline: true,
      }),
      expect.objectContaining({ method: 'POST', grantType: 'refresh_token', user: 'alice', status: 200 }),
    ]);
    const bogus = await post({ grant_type: 'refresh_token', refresh_token: 'nope', service: tokens.service });
    expect(bogus.status).toBe(401);
  });
});

describe('token server options', () => {
  let server: TokenServer;
  beforeAll(async () => {
    server = await startTokenServer({
      users: [DEFAULT_TEST_USER, { username: 'reader', password: 'r' }],
      anonymousPull: /^public\//,
      acl: (user, repository) => (user === 'reader' || repository.startsWith('locked/') ? ['pull'] : ['*']),
      disablePost: true,
      expiresIn: 42,
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const get = async (scopes: string[], credentials?: [string, string]) => {
    const url = new URL(server.realm);
    url.searchParams.set('service', server.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const res = await request(url, { headers: credentials ? { authorization: basic(...credentials) } : {} });
    const body = (await res.body.json()) as Record<string, unknown>;
    return { status: res.statusCode, body, claims: decodeJwt(body.token as string).claims };
  };

  it('signs verifiable ES256 JWTs with x5c and the expected claims', async () => {
    const { body, claims } = await get(['repository:a/b:pull'], ['alice', 'wonderland-secret']);
    const token = body.token as string;
    const { header } = decodeJwt(token);
    expect(header).toMatchObject({ typ: 'JWT', alg: 'ES256' });
    const cert = new X509Certificate(server.certPem);
    expect(header.x5c).toEqual([cert.raw.toString('base64')]);
    const [h, c, s] = token.split('.') as [string, string, string];
    const valid = verify(
      'sha256',
      Buffer.from(`${h}.${c}`),
      { key: cert.publicKey, dsaEncoding: 'ieee-p1363' },
      Buffer.from(s, 'base64url'),
    );
    expect(valid).toBe(true);
    expect(claims).toMatchObject({ iss: 'gantry-test-issuer', sub: 'alice', aud: 'gantry-test-registry' });
    expect((claims.exp as number) - (claims.iat as number)).toBe(42);
    expect(body.expires_in).toBe(42);
    expect(typeof claims.jti).toBe('string');
    expect(claims.nbf as number).toBeLessThanOrEqual(claims.iat as number);
  });

  it('anonymous: pull only, only on anonymousPull repositories', async () => {
    const { claims } = await get(['repository:public/app:pull,push', 'repository:private/app:pull']);
    expect(claims.access).toEqual([{ type: 'repository', name: 'public/app', actions: ['pull'] }]);
    expect(claims.sub).toBe('');
    expect(server.requests.at(-1)?.user).toBeUndefined();
  });

  it('acl limits what authenticated users get; scopes for one repository merge', async () => {
    const alice = await get(
      [
        'repository:locked/x:pull,push',
        'repository:open/x:pull',
        'repository:open/x:push',
        'registry:catalog:*',
      ],
      ['alice', 'wonderland-secret'],
    );
    expect(alice.claims.access).toEqual([
      { type: 'repository', name: 'locked/x', actions: ['pull'] },
      { type: 'repository', name: 'open/x', actions: ['pull', 'push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    const reader = await get(['repository:open/x:pull,push,delete'], ['reader', 'r']);
    expect(reader.claims.access).toEqual([{ type: 'repository', name: 'open/x', actions: ['pull'] }]);
  });

  it('disablePost makes POST 404 (GET fallback); GET offline_token returns a refresh token', async () => {
    const res = await request(server.realm, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=password&username=alice&password=wonderland-secret&service=x&client_id=y',
    });
    await res.body.dump();
    expect(res.statusCode).toBe(404);
    expect(server.requests.at(-1)).toMatchObject({ method: 'POST', status: 404, grantType: 'password' });
    const url = new URL(server.realm);
    url.searchParams.set('offline_token', 'true');
    url.searchParams.set('scope', 'repository:a:pull');
    const get2 = await request(url, { headers: { authorization: basic('alice', 'wonderland-secret') } });
    expect(((await get2.body.json()) as Record<string, unknown>).refresh_token).toEqual(expect.any(String));
  });

  it('override can script failures; other paths 404', async () => {
    const flaky = await startTokenServer({
      override: (_r, n) => (n === 1 ? { status: 503, body: 'later' } : undefined),
    });
    try {
      const first = await request(`${flaky.realm}?service=s&scope=repository:a:pull`);
      expect(first.statusCode).toBe(503);
      await first.body.dump();
      const second = await request(`${flaky.realm}?service=s&scope=repository:a:pull`);
      expect(second.statusCode).toBe(200);
      await second.body.dump();
      const other = await request(`${flaky.url}/nope`);
      expect(other.statusCode).toBe(404);
      await other.body.dump();
      expect(flaky.requests.map((r) => r.status)).toEqual([503, 200]);
    } finally {
      await flaky.stop();
    }
  });
});

describe('TLS registry', () => {
  let registry: RegistryProcess;
  beforeAll(async () => {
    registry = await startRegistry({ tls: true, auth: 'htpasswd' });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('is reachable over https with the test CA', async () => {
    expect(registry.url).toBe(`https://${registry.host}`);
    expect(registry.caPem).toContain('BEGIN CERTIFICATE');
    expect(readFileSync(registry.caFile!, 'utf8')).toBe(registry.caPem);
    const image = makeImage({ seed: 'tls' });
    await pushImage(registry, 'helpers/tls', image, 'v1');
    await expectRoundTrip(registry, 'helpers/tls', image);
  });

  it('is trusted by Go clients (skopeo) given caDir, and refused without it', async () => {
    const image = makeImage({ seed: 'tls-skopeo' });
    await pushImage(registry, 'helpers/tls', image, 'skopeo');
    const ref = `docker://${registry.host}/helpers/tls:skopeo`;
    const creds = ['--creds', 'alice:wonderland-secret'];
    const raw = await runCommand('skopeo', [
      'inspect',
      '--raw',
      '--cert-dir',
      registry.caDir!,
      ...creds,
      ref,
    ]);
    expect(Buffer.from(raw.stdout).equals(image.manifest)).toBe(true);
    await expect(runCommand('skopeo', ['inspect', '--raw', ...creds, ref])).rejects.toThrow(
      /certificate signed by unknown authority/,
    );
  });

  it('is rejected by undici with default verification (unknown CA)', async () => {
    const error = await request(`${registry.url}/v2/`).catch((e: unknown) => e as NodeJS.ErrnoException);
    expect(error).toBeInstanceOf(Error);
    expect((error as NodeJS.ErrnoException).code).toMatch(/CERT|VERIFY|SIGNATURE/);
  });

  it('also works with localhost in the URL (SAN DNS:localhost)', async () => {
    const res = await registryRequest(
      { ...registry, url: registry.url.replace('127.0.0.1', 'localhost') },
      '/v2/',
    );
    expect(res.status).toBe(200);
  });
});

describe('fake registry', () => {
  it('reads the body, records requests and runs the script', async () => {
    let calls = 0;
    const fake = await startFakeRegistry((req, res) => {
      calls++;
      if (req.url === '/v2/') {
        if (calls === 1) return sendJson(res, 429, { errors: [] }, { 'Retry-After': '2' });
        return sendJson(res, 200, {});
      }
      if (req.url === '/boom') throw new Error('scripted failure');
      sendJson(res, 200, { echoed: req.body.toString('utf8') });
    });
    try {
      expect(fake.url).toBe(`http://${fake.host}`);
      const limited = await request(`${fake.url}/v2/`);
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['retry-after']).toBe('2');
      await limited.body.dump();
      const ok = await request(`${fake.url}/v2/`);
      expect(ok.statusCode).toBe(200);
      await ok.body.dump();
      const echo = await request(`${fake.url}/v2/a/blobs/uploads/`, {
        method: 'POST',
        headers: { 'x-test': 'yes' },
        body: 'hello',
      });
      expect(await echo.body.json()).toEqual({ echoed: 'hello' });
      const boom = await request(`${fake.url}/boom`);
      expect(boom.statusCode).toBe(500);
      expect(await boom.body.text()).toContain('scripted failure');
      expect(fake.errors).toHaveLength(1);
      expect(fake.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
        'GET /v2/',
        'GET /v2/',
        'POST /v2/a/blobs/uploads/',
        'GET /boom',
      ]);
      expect(fake.requests[2]!.headers['x-test']).toBe('yes');
      expect(fake.requests[2]!.body.toString()).toBe('hello');
    } finally {
      await fake.stop();
    }
  });
});
