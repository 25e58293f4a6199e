/**
 * Referrers fallback index writes under a lock (`RegistryClientOptions.referrerLock`, what
 * `gantry serve` holds across replicas) on a real registry without the referrers API
 * (distribution 2.8): ten attaches at once to one subject keep all ten entries, each writes the
 * index once and confirms it with one re-read, and none waits a settle period
 * (docs/decisions/0012-referrer-index-writes.md, addendum). A pass-through proxy counts the
 * requests; an injected clock counts the waits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock, type Clock, type Digest } from '../../src/core/index.js';
import { RegistryClient, referrersTag, type ReferrerLock } from '../../src/registry/index.js';
import {
  makeArtifact,
  makeImage,
  pushImage,
  startFaultProxy,
  startRegistry,
  type FaultProxy,
  type RegistryProcess,
} from '../helpers/index.js';

const WRITERS = 10;

let registry: RegistryProcess;
let proxy: FaultProxy;

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startFaultProxy({ target: registry.url });
});
afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
});

/** An in-process mutex per key, standing in for the server's lock across replicas. */
function mutex(): { lock: ReferrerLock; held: string[]; maxHolders: () => number } {
  const tails = new Map<string, Promise<void>>();
  const held: string[] = [];
  let holders = 0;
  let max = 0;
  const lock: ReferrerLock = async (key, task) => {
    const before = tails.get(key) ?? Promise.resolve();
    let release = (): void => undefined;
    const mine = new Promise<void>((resolve) => (release = resolve));
    tails.set(key, mine);
    await before;
    holders++;
    max = Math.max(max, holders);
    held.push(key);
    try {
      await task();
    } finally {
      holders--;
      release();
    }
  };
  return { lock, held, maxHolders: () => max };
}

/** A clock that records every wait. */
function countingClock(): Clock & { waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    now: () => systemClock.now(),
    sleep: (ms, signal) => {
      waits.push(ms);
      return systemClock.sleep(ms, signal);
    },
  };
}

/** A subject and WRITERS artifacts referring to it (their blobs uploaded), in `repository`. */
async function subjectWithArtifacts(client: RegistryClient, repository: string) {
  const image = makeImage({ seed: `lock-${repository}` });
  await pushImage(registry, repository, image, 'v1');
  const subject = { mediaType: image.mediaType, digest: image.digest, size: image.size };
  const artifacts = Array.from({ length: WRITERS }, (_, i) =>
    makeArtifact({ subject, artifactType: 'application/vnd.example.report+json', content: `{"n":${i}}` }),
  );
  const repo = { registry: proxy.host, repository };
  for (const a of artifacts)
    for (const [digest, bytes] of a.blobs)
      await client.blobUpload(repo, digest as Digest, bytes.byteLength, bytes);
  return { image, artifacts, repo, digests: artifacts.map((a) => a.digest).sort() };
}

/** Requests to the subject's fallback tag since request number `after`, as `METHOD` lines. */
function tagRequests(repository: string, subject: string, after: number): string[] {
  const path = `/v2/${repository}/manifests/${referrersTag(subject as Digest)}`;
  return proxy.requests.filter((r) => r.n > after && r.url === path).map((r) => r.method);
}

describe('referrers fallback writes under a lock', () => {
  it(`keeps all ${WRITERS} entries, writing each once with one re-read and no settle wait`, async () => {
    const { lock, held, maxHolders } = mutex();
    const clock = countingClock();
    const client = new RegistryClient({
      hostSettings: () => ({ scheme: 'http' }),
      clock,
      referrerLock: lock,
    });
    try {
      const { image, artifacts, repo, digests } = await subjectWithArtifacts(client, 'locked/web');
      const before = proxy.requests.length;
      await Promise.all(artifacts.map((a) => client.referrerPush(repo, a.manifest, a.mediaType)));
      const listed = await client.referrersList(repo, image.digest as Digest);
      expect(listed.source).toBe('tag-schema');
      expect(listed.descriptors.map((d) => d.digest).sort()).toEqual(digests);
      // Each attach took the lock on its subject once, one at a time.
      expect(held).toEqual(Array.from({ length: WRITERS }, () => `${proxy.host}/locked/web@${image.digest}`));
      expect(maxHolders()).toBe(1);
      // Per attach: read, write, one confirming read; and no settle wait at all.
      const requests = tagRequests('locked/web', image.digest, before);
      expect(requests.filter((m) => m === 'PUT')).toHaveLength(WRITERS);
      expect(requests.filter((m) => m === 'GET')).toHaveLength(2 * WRITERS + 1);
      expect(clock.waits).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('without the lock (the CLI) every write still settles before it is confirmed', async () => {
    const clock = countingClock();
    const client = new RegistryClient({ hostSettings: () => ({ scheme: 'http' }), clock });
    try {
      const { image, artifacts, repo, digests } = await subjectWithArtifacts(client, 'unlocked/web');
      await Promise.all(artifacts.map((a) => client.referrerPush(repo, a.manifest, a.mediaType)));
      const listed = await client.referrersList(repo, image.digest as Digest);
      expect(listed.descriptors.map((d) => d.digest).sort()).toEqual(digests);
      expect(clock.waits.filter((ms) => ms >= 100)).toHaveLength(WRITERS);
    } finally {
      await client.close();
    }
  });
});
