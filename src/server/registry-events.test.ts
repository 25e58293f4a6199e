import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isGantryError } from '../core/index.js';
import { parseRegistryNotification } from './registry-events.js';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../test/fixtures/registry-events/${name}`, import.meta.url), 'utf8'));
const C = `sha256:${'c'.repeat(64)}`;

describe('parseRegistryNotification', () => {
  it('reads the tagged image pushes of a distribution envelope and ignores blobs, untagged manifests, referrer tags, pulls and deletes', () => {
    expect(parseRegistryNotification(fixture('distribution-push.json'))).toEqual({
      source: 'notification:distribution',
      pushes: [
        {
          host: 'registry.example.com:5000',
          repository: 'dev/web',
          digest: C,
          tag: '1.4.2',
          at: '2026-06-01T12:00:00.323Z',
        },
      ],
      ignored: 5,
    });
  });

  it('takes the host from the target URL when the request names none, and ignores artifact manifests', () => {
    const event = (extra: Record<string, unknown>) => ({
      action: 'push',
      target: {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: C,
        repository: 'dev/web',
        url: `https://reg.example.com/v2/dev/web/manifests/${C}`,
        tag: 'v1',
        ...extra,
      },
    });
    const parsed = parseRegistryNotification({
      events: [event({}), event({ artifactType: 'application/spdx+json' })],
    });
    expect(parsed.pushes).toEqual([{ host: 'reg.example.com', repository: 'dev/web', digest: C, tag: 'v1' }]);
    expect(parsed.ignored).toBe(1);
  });

  it("reads Harbor's PUSH_ARTIFACT webhook and ignores its other event types", () => {
    expect(parseRegistryNotification(fixture('harbor-push.json'))).toEqual({
      source: 'notification:harbor',
      pushes: [
        {
          host: 'harbor.example.com',
          repository: 'dev/web',
          digest: C,
          tag: '1.4.2',
          at: new Date(1780315200 * 1000).toISOString(),
        },
      ],
      ignored: 0,
    });
    expect(parseRegistryNotification(fixture('harbor-pull.json'))).toMatchObject({ pushes: [], ignored: 1 });
  });

  it('reads the host of a Harbor resource URL written with a scheme', () => {
    const body = fixture('harbor-push.json') as { event_data: { resources: { resource_url: string }[] } };
    const resource = body.event_data.resources[0];
    if (resource) resource.resource_url = 'https://harbor.example.com/dev/web:1.4.2';
    expect(parseRegistryNotification(body).pushes[0]?.host).toBe('harbor.example.com');
  });

  it('reads a Harbor push by digest (the digest in "tag") as an untagged push', () => {
    const body = fixture('harbor-push.json') as { event_data: { resources: { tag: string }[] } };
    const resource = body.event_data.resources[0];
    if (resource) resource.tag = C;
    expect(parseRegistryNotification(body).pushes).toEqual([
      expect.not.objectContaining({ tag: expect.anything() as unknown }),
    ]);
  });

  it.each([
    [{ repository: 'reg.example.com:5000/dev/web', tag: 'v1', digest: C }, 'reg.example.com:5000', 'v1'],
    [{ registry: 'reg.example.com', repository: 'dev/web', digest: C }, 'reg.example.com', undefined],
    [{ repository: 'localhost/dev/web', digest: C }, 'localhost', undefined],
  ])('reads the generic form %j', (body, host, tag) => {
    expect(parseRegistryNotification(body)).toEqual({
      source: 'notification:generic',
      pushes: [{ host, repository: 'dev/web', digest: C, ...(tag !== undefined && { tag }) }],
      ignored: 0,
    });
  });

  it.each([
    ['an array', []],
    ['a string', 'push'],
    ['null', null],
    ['none of the forms', { hello: 'world' }],
    ['events that are not an array', { events: 'push' }],
    ['an event without an action', { events: [{ target: {} }] }],
    ['a Harbor webhook without a repository', { type: 'PUSH_ARTIFACT', event_data: { resources: [] } }],
    [
      'a Harbor push without repo_full_name',
      { type: 'PUSH_ARTIFACT', event_data: { resources: [{ digest: C }], repository: {} } },
    ],
    ['a generic event with a bad digest', { repository: 'r.example.com/web', digest: 'sha256:abc' }],
    ['a generic event with a bad tag', { repository: 'r.example.com/web', digest: C, tag: '-x' }],
    ['a generic event without a registry', { repository: 'team/web', digest: C }],
    ['a generic event with unknown keys', { repository: 'r.example.com/web', digest: C, extra: 1 }],
    ['too many events', { events: Array.from({ length: 1001 }, () => ({ action: 'pull' })) }],
  ])('refuses %s with API_REQUEST_INVALID and one line', (_what, body) => {
    let error: unknown;
    try {
      parseRegistryNotification(body);
    } catch (e) {
      error = e;
    }
    expect(isGantryError(error) && error.code).toBe('API_REQUEST_INVALID');
    expect((error as Error).message).not.toContain('\n');
  });
});
