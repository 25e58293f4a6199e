import { describe, expect, it } from 'vitest';
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
