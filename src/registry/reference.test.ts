import { describe, expect, it } from 'vitest';
import { canMount, formatReference, parseReference, parseRepository } from './reference.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  it.each([
    ['nginx', 'docker.io', 'library/nginx', 'latest', undefined],
    ['docker.io/nginx:1.25', 'docker.io', 'library/nginx', '1.25', undefined],
    ['index.docker.io/team/app', 'docker.io', 'team/app', 'latest', undefined],
    ['team/app:v1', 'docker.io', 'team/app', 'v1', undefined],
    ['localhost/app', 'localhost', 'app', 'latest', undefined],
    ['localhost:5000/team/app:1.0', 'localhost:5000', 'team/app', '1.0', undefined],
    ['127.0.0.1:5000/a/b/c:x', '127.0.0.1:5000', 'a/b/c', 'x', undefined],
    ['[::1]:5000/app:1', '[::1]:5000', 'app', '1', undefined],
    [`reg.example.com/app@${D}`, 'reg.example.com', 'app', undefined, D],
    [`reg.example.com/app:1.2@${D}`, 'reg.example.com', 'app', '1.2', D],
    ['docker://reg.example.com/app:1', 'reg.example.com', 'app', '1', undefined],
    ['reg.example.com/a__b/c-d.e_f:T_1.x-y', 'reg.example.com', 'a__b/c-d.e_f', 'T_1.x-y', undefined],
    ['Registry.Example.com/app', 'Registry.Example.com', 'app', 'latest', undefined],
  ])('%s', (input, registry, repository, tag, digest) => {
    const ref = parseReference(input);
    expect(ref.registry).toBe(registry);
    expect(ref.repository).toBe(repository);
    expect(ref.tag).toBe(tag);
    expect(ref.digest).toBe(digest);
  });

  it.each([
    ['', 'empty'],
    ['Nginx', 'lowercase'],
    ['reg.example.com/App:1', 'lowercase'],
    ['reg.example.com//app', 'empty path component'],
    ['reg.example.com/app:', 'invalid tag'],
    ['reg.example.com/app:-bad', 'invalid tag'],
    [`reg.example.com/app:${'x'.repeat(129)}`, 'invalid tag'],
    ['reg.example.com/app@sha256:abc', '64 lowercase hex'],
    [`reg.example.com/app@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
    ['reg.example.com/app name', 'whitespace'],
    ['reg-.example.com/app', 'invalid registry host'],
    ['localhost:99999/app', 'invalid registry host'],
    ['localhost:0/app', 'invalid registry host'],
    ['300.1.2.3/app', 'invalid registry host'],
    ['10.0.0.1.5:5000/app', 'invalid registry host'],
    ['[1::2::3]:5000/app', 'invalid registry host'],
    ['reg.example.com/a--/b', 'invalid path component'],
    [`reg.example.com/${'a'.repeat(256)}`, 'longer than 255'],
    ['reg.example.com/', 'missing repository name'],
  ])('rejects %j (%s)', (input, why) => {
    expect(() => parseReference(input)).toThrowError(expect.objectContaining({ code: 'REFERENCE_INVALID' }));
    expect(() => parseReference(input)).toThrow(why);
  });

  it('leaves tag unset when asked', () => {
    expect(parseReference('reg.example.com/app', { defaultTag: null }).tag).toBeUndefined();
  });

  it('round-trips through formatReference', () => {
    expect(formatReference(parseReference(`reg.example.com:443/a/b:1@${D}`))).toBe(
      `reg.example.com:443/a/b:1@${D}`,
    );
    expect(formatReference(parseReference('nginx'))).toBe('docker.io/library/nginx:latest');
  });
});

describe('parseRepository', () => {
  it('parses a repository', () => {
    expect(parseRepository('reg.example.com:5000/team/web')).toEqual({
      registry: 'reg.example.com:5000',
      repository: 'team/web',
    });
  });
  it.each(['reg.example.com/web:1', `reg.example.com/web@${D}`])('rejects %s', (input) => {
    expect(() => parseRepository(input)).toThrowError(expect.objectContaining({ code: 'REFERENCE_INVALID' }));
  });
});

describe('canMount', () => {
  const repo = (registry: string, repository: string) => ({ registry, repository });
  it('is true for two repositories of one registry, Docker Hub under either name', () => {
    expect(canMount(repo('r.example', 'a'), repo('r.example', 'b'))).toBe(true);
    expect(canMount(repo('docker.io', 'a'), repo('registry-1.docker.io', 'b'))).toBe(true);
  });
  it('is false for the same repository, another registry, or a missing side', () => {
    expect(canMount(repo('r.example', 'a'), repo('r.example', 'a'))).toBe(false);
    expect(canMount(repo('r.example', 'a'), repo('s.example', 'a'))).toBe(false);
    expect(canMount(undefined, repo('r.example', 'a'))).toBe(false);
  });
});
