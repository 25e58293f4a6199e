import { describe, expect, it } from 'vitest';
import { mergeScopes, parseChallenges } from './challenge.js';

describe('parseChallenges', () => {
  it.each([
    [
      'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.example.com/token',
            service: 'registry.example.com',
            scope: 'repository:a/b:pull,push',
          },
        },
      ],
    ],
    ['Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    [
      'Bearer realm="https://a/t",error="insufficient_scope",scope="repository:x:push"',
      [
        {
          scheme: 'bearer',
          params: { realm: 'https://a/t', error: 'insufficient_scope', scope: 'repository:x:push' },
        },
      ],
    ],
    [
      'Basic realm="r", Bearer realm="https://a/t", service=svc',
      [
        { scheme: 'basic', params: { realm: 'r' } },
        { scheme: 'bearer', params: { realm: 'https://a/t', service: 'svc' } },
      ],
    ],
    ['BEARER Realm="x\\"y"', [{ scheme: 'bearer', params: { realm: 'x"y' } }]],
    ['', []],
  ])('%s', (header, expected) => {
    expect(parseChallenges([header])).toEqual(expected);
  });
});

describe('mergeScopes', () => {
  it('unites actions per resource and sorts', () => {
    expect(
      mergeScopes(
        ['repository:b:pull', 'repository:a:push'],
        ['repository:a:pull', 'repository:b:pull repository:c:pull'],
      ),
    ).toEqual(['repository:a:pull,push', 'repository:b:pull', 'repository:c:pull']);
  });
});
