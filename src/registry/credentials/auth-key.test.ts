import { describe, expect, it } from 'vitest';
import { AuthKeyIndex, normalizeRegistryHost, parseAuthKey, serverUrlForHost } from './auth-key.js';

describe('parseAuthKey', () => {
  it.each([
    ['docker.io', 'docker.io', ''],
    ['index.docker.io', 'docker.io', ''],
    ['registry-1.docker.io', 'docker.io', ''],
    ['https://index.docker.io/v1/', 'docker.io', ''],
    ['https://registry-1.docker.io/v2/', 'docker.io', ''],
    ['http://index.docker.io/v1', 'docker.io', ''],
    ['registry.example.com:5000', 'registry.example.com:5000', ''],
    ['http://registry.example.com:5000', 'registry.example.com:5000', ''],
    ['https://registry.example.com:5000/', 'registry.example.com:5000', ''],
    ['https://registry.example.com:5000/some/path', 'registry.example.com:5000', ''],
    ['registry.example.com:5000/v2/', 'registry.example.com:5000', ''],
    ['registry.example.com:5000/v1', 'registry.example.com:5000', ''],
    ['Registry.Example.COM', 'registry.example.com', ''],
    ['quay.io/team', 'quay.io', 'team'],
    ['quay.io/team/app/', 'quay.io', 'team/app'],
    ['docker.io/library', 'docker.io', 'library'],
    ['index.docker.io/myorg', 'docker.io', 'myorg'],
    ['localhost:5000/v2x', 'localhost:5000', 'v2x'],
    ['  ghcr.io  ', 'ghcr.io', ''],
    ['', '', ''],
  ])('%j → host %j path %j', (key, host, path) => {
    expect(parseAuthKey(key)).toEqual({ host, path });
  });
});

describe('normalizeRegistryHost / serverUrlForHost', () => {
  it.each([
    ['docker.io', 'docker.io', 'https://index.docker.io/v1/'],
    ['registry-1.docker.io', 'docker.io', 'https://index.docker.io/v1/'],
    ['https://index.docker.io/v1/', 'docker.io', 'https://index.docker.io/v1/'],
    ['ghcr.io', 'ghcr.io', 'ghcr.io'],
    ['http://localhost:5000', 'localhost:5000', 'localhost:5000'],
  ])('%j → %j, server URL %j', (input, host, serverUrl) => {
    expect(normalizeRegistryHost(input)).toBe(host);
    expect(serverUrlForHost(input)).toBe(serverUrl);
  });
});

describe('AuthKeyIndex', () => {
  it('yields the canonical spelling first, then other spellings in order, most specific scope first', () => {
    const index = new AuthKeyIndex([
      ['docker.io', 'plain'],
      ['index.docker.io', 'alias'],
      ['https://index.docker.io/v1/', 'canonical'],
      ['docker.io/myorg', 'scoped'],
      ['docker.io/myorg/app', 'deeper'],
      ['ghcr.io', 'other'],
    ]);
    expect([...index.candidates('registry-1.docker.io')]).toEqual(['canonical', 'plain', 'alias']);
    expect([...index.candidates('docker.io', 'myorg/app')]).toEqual([
      'deeper',
      'scoped',
      'canonical',
      'plain',
      'alias',
    ]);
    expect([...index.candidates('docker.io', 'myorg/application')]).toEqual([
      'scoped',
      'canonical',
      'plain',
      'alias',
    ]);
    expect([...index.candidates('ghcr.io', '/a//b/')]).toEqual(['other']);
    expect([...index.candidates('quay.io')]).toEqual([]);
    expect([...index.candidates('')]).toEqual([]);
  });
});
