import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { isValidRepositoryPath, isValidTag } from './reference.js';
import { Authenticator } from './auth/authenticator.js';
import { Session } from './session.js';
import { HttpTransport } from './transport/http-transport.js';

const D = `sha256:${'a'.repeat(64)}`;
const repo = { registry: 'reg.example.com', repository: 'mirror/web' };

describe('request paths', () => {
  it.each([
    ['1.0', '/v2/mirror/web/manifests/1.0'],
    ['latest', '/v2/mirror/web/manifests/latest'],
    ['_x.y-z', '/v2/mirror/web/manifests/_x.y-z'],
    [D, `/v2/mirror/web/manifests/${D}`],
  ])('builds the manifest path for %s', (reference, path) => {
    expect(Session.manifestPath(repo, reference)).toBe(path);
  });

  it.each([
    '../../../prod/web/manifests/latest',
    '..',
    '.',
    '.hidden',
    '-dash',
    'a/b',
    '%2e%2e',
    '%2e%2e%2fprod',
    'a?b=c',
    'a#frag',
    'line\nbreak',
    'x\u001b[2J',
    'café',
    '',
    'a'.repeat(129),
    'sha256:abc',
    'a\\b',
  ])('refuses the tag or digest %j before any request', (reference) => {
    expect(() => Session.manifestPath(repo, reference)).toThrowError(
      expect.objectContaining({ code: 'REFERENCE_INVALID' }),
    );
    expect(isValidTag(reference)).toBe(false);
  });

  it.each(['..', 'a/../b', 'a/./b', 'A/b', 'a//b', '%2e%2e/b', 'a/b/', '/a', 'a b', 'a\nb'])(
    'refuses the repository name %j',
    (repository) => {
      expect(isValidRepositoryPath(repository)).toBe(false);
      expect(() => Session.repoPath({ registry: 'reg.example.com', repository })).toThrowError(
        expect.objectContaining({ code: 'REFERENCE_INVALID' }),
      );
      expect(() => Session.manifestPath({ registry: 'reg.example.com', repository }, '1.0')).toThrowError(
        expect.objectContaining({ code: 'REFERENCE_INVALID' }),
      );
    },
  );
});

describe('Session.call', () => {
  const transport = new HttpTransport({ hostSettings: () => ({ scheme: 'http' }) });
  const session = new Session(transport, new Authenticator({ transport }));

  it.each([
    '/v2/mirror/web/manifests/../../../prod/web/manifests/latest',
    '/v2/mirror/web/manifests/%2e%2e/x',
    '/v2/mirror/web/manifests/a\\..\\..\\b',
    '/v2/mirror/web/manifests/a#b',
    '/v2/mirror/web/manifests/x\ny',
    '/v2/mirror/./web/tags/list',
    '//evil.example/v2/x',
    '/other/path',
  ])('refuses to send a path whose structure URL parsing would change: %j', async (path) => {
    await expect(
      session.call({ method: 'PUT', registry: '127.0.0.1:9', path, scopes: [], expect: [201], what: 'test' }),
    ).rejects.toMatchObject({ code: 'REFERENCE_INVALID' });
  });
});

describe('Session.call credentials and origins', () => {
  const seen: { server: string; headers: IncomingHttpHeaders }[] = [];
  const servers: Server[] = [];
  /** A server that asks for Basic credentials when a request carries none. */
  const listen = async (name: string): Promise<string> => {
    const server = createServer((req, res) => {
      seen.push({ server: name, headers: req.headers });
      if (!req.headers.authorization) res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
      else res.writeHead(201).end();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  afterAll(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

  it('sends the registry credentials to its own origin only, never to an upload Location elsewhere', async () => {
    const registry = await listen('registry');
    const elsewhere = await listen('elsewhere');
    const transport = new HttpTransport({ hostSettings: () => ({ scheme: 'http' }) });
    const session = new Session(
      transport,
      new Authenticator({
        transport,
        credentials: { get: () => Promise.resolve({ username: 'alice', password: 's3cret' }) },
      }),
    );
    const put = (path: string, expect: number[]) =>
      session.call({ method: 'PUT', registry, path, scopes: [], expect, what: 'upload' });
    await put('/v2/team/web/blobs/uploads/x', [201]);
    await put(`http://${registry}/v2/team/web/blobs/uploads/y`, [201]);
    await expect(put(`http://${elsewhere}/upload?token=1`, [201])).rejects.toMatchObject({
      code: 'REGISTRY_UNAUTHORIZED',
    });
    const own = seen.filter((s) => s.server === 'registry');
    expect(own.some((s) => s.headers.authorization?.startsWith('Basic '))).toBe(true);
    const foreign = seen.filter((s) => s.server === 'elsewhere');
    expect(foreign).toHaveLength(1);
    expect(foreign[0]?.headers.authorization).toBeUndefined();
  });
});
