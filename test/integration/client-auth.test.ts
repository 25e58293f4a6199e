/**
 * Authentication and TLS against real CNCF distribution registries: htpasswd basic auth, bearer
 * tokens from a token server (OAuth2 POST and GET fallback, per-scope caching, one token covering
 * a cross-repository mount), and TLS with a test CA.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, type Digest } from '../../src/core/index.js';
import { RegistryClient } from '../../src/registry/index.js';
import {
  DEFAULT_TEST_USER,
  makeBlob,
  makeImage,
  pushImage,
  startRegistry,
  type RegistryProcess,
} from '../helpers/index.js';
import { clientFor } from './clients.js';

const alice = { username: DEFAULT_TEST_USER.username, password: DEFAULT_TEST_USER.password };
const wrong = { username: 'alice', password: 'not-the-password-42' };

function expectNoSecret(err: unknown, secret: string): void {
  const text = `${String(err)} ${JSON.stringify((err as { details?: unknown }).details ?? {})}`;
  expect(text).not.toContain(secret);
  expect(text).not.toContain(Buffer.from(`alice:${secret}`).toString('base64'));
}

describe('htpasswd basic auth', () => {
  let registry: RegistryProcess;
  beforeAll(async () => {
    registry = await startRegistry({ auth: 'htpasswd' });
    await pushImage(registry, 'team/web', makeImage({ seed: 'basic' }), 'v1');
  });
  afterAll(async () => registry?.stop());

  it('refuses anonymous access with REGISTRY_UNAUTHORIZED', async () => {
    const client = clientFor(registry);
    await expect(
      client.manifestGet({ registry: registry.host, repository: 'team/web', tag: 'v1' }),
    ).rejects.toMatchObject({
      code: 'REGISTRY_UNAUTHORIZED',
    });
    await client.close();
  });

  it('accepts the right credentials for pull and push', async () => {
    const client = clientFor(registry, { credential: alice });
    const m = await client.manifestGet({ registry: registry.host, repository: 'team/web', tag: 'v1' });
    expect(m.kind).toBe('image');
    const data = makeBlob(100, 'basic-push');
    await client.blobUpload({ registry: registry.host, repository: 'team/other' }, digestOf(data), 100, data);
    await client.close();
  });

  it('rejects a wrong password without ever printing it', async () => {
    const client = clientFor(registry, { credential: wrong });
    const err: unknown = await client
      .manifestGet({ registry: registry.host, repository: 'team/web', tag: 'v1' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_UNAUTHORIZED' });
    expectNoSecret(err, wrong.password);
    await client.close();
  });
});

describe('bearer token auth', () => {
  let registry: RegistryProcess;
  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token', tokenServer: { anonymousPull: ['public/app'] } });
    await pushImage(registry, 'team/web', makeImage({ seed: 'token' }), 'v1');
    await pushImage(registry, 'public/app', makeImage({ seed: 'public' }), 'v1');
  });
  afterAll(async () => registry?.stop());
  const ts = () => registry.tokenServer!;

  it('pulls anonymously where the token server allows it, and is refused elsewhere', async () => {
    const client = clientFor(registry);
    await client.manifestGet({ registry: registry.host, repository: 'public/app', tag: 'v1' });
    await expect(
      client.manifestGet({ registry: registry.host, repository: 'team/web', tag: 'v1' }),
    ).rejects.toMatchObject({
      code: 'REGISTRY_UNAUTHORIZED',
    });
    await client.close();
  });

  it('fetches one token per scope set and reuses it (OAuth2 POST)', async () => {
    const client = clientFor(registry, { credential: alice });
    const before = ts().requests.length;
    const ref = { registry: registry.host, repository: 'team/web', tag: 'v1' };
    const m = await client.manifestGet(ref);
    await client.manifestHead(ref);
    await client.manifestGet({ ...ref, digest: m.digest });
    await client.tagList(ref);
    const made = ts().requests.slice(before);
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({ method: 'POST', user: 'alice', scopes: ['repository:team/web:pull'] });
    await client.close();
  });

  it('falls back to GET when the token server has no OAuth2 POST', async () => {
    const other = await startRegistry({ auth: 'token', tokenServer: { disablePost: true } });
    try {
      await pushImage(other, 'team/web', makeImage({ seed: 'get-fallback' }), 'v1');
      const client = clientFor(other, { credential: alice });
      await client.manifestGet({ registry: other.host, repository: 'team/web', tag: 'v1' });
      const methods = other.tokenServer!.requests.filter((r) => r.user === 'alice').map((r) => r.method);
      expect(methods.slice(-2)).toEqual(['POST', 'GET']);
      await client.close();
    } finally {
      await other.stop();
    }
  });

  it('mounts with one token covering pull on the source and push on the destination', async () => {
    const client = clientFor(registry, { credential: alice });
    const data = makeBlob(2048, 'token-mount');
    const digest = digestOf(data);
    await client.blobUpload(
      { registry: registry.host, repository: 'mount/src' },
      digest,
      data.byteLength,
      data,
    );
    const before = ts().requests.length;
    const result = await client.blobMount({ registry: registry.host, repository: 'mount/dst' }, digest, {
      registry: registry.host,
      repository: 'mount/src',
    });
    expect(result).toEqual({ mounted: true });
    const scopes = ts()
      .requests.slice(before)
      .map((r) => [...r.scopes].sort());
    expect(scopes).toContainEqual(['repository:mount/dst:pull,push', 'repository:mount/src:pull']);
    await client.close();
  });

  it('refuses wrong credentials at the token server without printing them', async () => {
    const client = clientFor(registry, { credential: alice });
    const ref = { registry: registry.host, repository: 'team/web', tag: 'v1' };
    await client.manifestGet(ref);
    // A second client with a different password is refused by the token server.
    const bad = clientFor(registry, { credential: wrong });
    const err: unknown = await bad.manifestGet(ref).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_UNAUTHORIZED' });
    expectNoSecret(err, wrong.password);
    await bad.close();
    await client.close();
  });

  it('fetches a fresh token once the cached one expires', async () => {
    const short = await startRegistry({ auth: 'token', tokenServer: { expiresIn: 2 } });
    try {
      await pushImage(short, 'team/web', makeImage({ seed: 'expiry' }), 'v1');
      const client = clientFor(short, { credential: alice });
      const ref = { registry: short.host, repository: 'team/web', tag: 'v1' };
      const count = () => short.tokenServer!.requests.filter((r) => r.user === 'alice').length;
      const before = count();
      await client.manifestGet(ref);
      await client.manifestGet(ref);
      expect(count() - before).toBe(1);
      await new Promise((r) => setTimeout(r, 2100));
      await client.manifestGet(ref);
      expect(count() - before).toBe(2);
      await client.close();
    } finally {
      await short.stop();
    }
  });

  it('refuses push where the ACL grants only pull', async () => {
    const limited = await startRegistry({
      auth: 'token',
      tokenServer: { acl: (_user, repository) => (repository.startsWith('ro/') ? ['pull'] : ['*']) },
    });
    try {
      const client = clientFor(limited, { credential: alice });
      const data = makeBlob(10, 'ro');
      const err: unknown = await client
        .blobUpload({ registry: limited.host, repository: 'ro/app' }, digestOf(data), 10, data)
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: expect.stringMatching(/REGISTRY_(UNAUTHORIZED|DENIED)/) as unknown });
      await client.close();
    } finally {
      await limited.stop();
    }
  });
});

describe('TLS', () => {
  let registry: RegistryProcess;
  beforeAll(async () => {
    registry = await startRegistry({ tls: true });
    await pushImage(registry, 'secure/app', makeImage({ seed: 'tls' }), 'v1');
  });
  afterAll(async () => registry?.stop());
  const ref = () => ({ registry: registry.host, repository: 'secure/app', tag: 'v1' });

  it('works when the CA is trusted', async () => {
    const client = clientFor(registry);
    expect((await client.manifestGet(ref())).kind).toBe('image');
    await client.close();
  });

  it('fails with REGISTRY_TLS when the CA is not trusted', async () => {
    const client = new RegistryClient({ retry: { maxAttempts: 1 } });
    await expect(client.manifestGet(ref())).rejects.toMatchObject({ code: 'REGISTRY_TLS' });
    await client.close();
  });

  it('connects without verification when tlsVerify is false', async () => {
    const client = new RegistryClient({ hostSettings: () => ({ tlsVerify: false }) });
    expect((await client.manifestGet(ref())).digest).toMatch(/^sha256:/);
    await client.close();
  });

  it('falls back to plain HTTP for an insecure registry', async () => {
    const plain = await startRegistry();
    try {
      const image = makeImage({ seed: 'plain' });
      await pushImage(plain, 'plain/app', image, 'v1');
      const client = new RegistryClient({ hostSettings: () => ({ tlsVerify: false }) });
      const m = await client.manifestGet({ registry: plain.host, repository: 'plain/app', tag: 'v1' });
      expect(m.digest).toBe(image.digest as Digest);
      await client.close();
      const strict = new RegistryClient({ retry: { maxAttempts: 1 } });
      await expect(
        strict.manifestGet({ registry: plain.host, repository: 'plain/app', tag: 'v1' }),
      ).rejects.toMatchObject({
        code: 'REGISTRY_TLS',
      });
      await strict.close();
    } finally {
      await plain.stop();
    }
  });
});
