/**
 * Candidates for an environment against in-memory registries: newest version first across the
 * source's tags, grouped by digest, whether the target holds each (with a record) or runs it, a
 * tag-mode source counting only what was promoted to it, the cap, and bounded registry reads.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { GantryError } from '../core/index.js';
import { configOf, dev, environment, prod, registry, repo } from './config-fixture.test-support.js';
import { imageWith, MemoryRegistry } from './memory-registry.test-support.js';
import { PromotionService } from './service.js';

/** A tag-mode environment in dev's repositories, and a copy-mode one promoted from it. */
const qa = environment({
  name: 'qa',
  registry: registry('dev'),
  mode: 'tag',
  tag: 'qa',
  floating: ['qa'],
  from: ['dev'],
});
const live = environment({ name: 'live', from: ['qa'], floating: ['live'] });
const config = configOf([dev, prod, qa, live]);
const NOW = new Date('2026-01-01T00:00:00Z');

let mem: MemoryRegistry;
const service = () => new PromotionService({ config, registry: mem.port, actor: 'ci', now: () => NOW });

const v100 = imageWith('web-1.0.0');
const v110 = imageWith('web-1.1.0');
const v1100 = imageWith('web-1.10.0');

beforeEach(() => {
  mem = new MemoryRegistry();
  const src = repo(dev, 'web');
  mem.put(src, v100, '1.0.0');
  mem.put(src, v110, '1.1.0', '1.1.0-rc.1');
  mem.put(src, v1100, '1.10.0', 'main');
});

describe('PromotionService.candidates', () => {
  it('lists the source images newest first, saying which one the target holds and runs', async () => {
    await service().promote({ app: 'web', reference: '1.0.0', to: 'prod' });
    const writes = mem.writes.length;
    const list = await service().candidates('web', 'prod');
    expect(list).toEqual({
      application: 'web',
      environment: 'prod',
      truncated: false,
      candidates: [
        {
          digest: v1100.digest,
          version: '1.10.0',
          tags: ['1.10.0'],
          from: 'dev',
          inTarget: false,
          current: false,
        },
        {
          digest: v110.digest,
          version: '1.1.0',
          tags: ['1.1.0', '1.1.0-rc.1'],
          from: 'dev',
          inTarget: false,
          current: false,
        },
        {
          digest: v100.digest,
          version: '1.0.0',
          tags: ['1.0.0'],
          from: 'dev',
          inTarget: true,
          current: true,
        },
      ],
    });
    // Listing writes nothing.
    expect(mem.writes).toHaveLength(writes);
  });

  it('a tag-mode source offers only what was promoted to it', async () => {
    await service().promote({ app: 'web', reference: '1.0.0', to: 'qa' });
    const list = await service().candidates('web', 'live');
    expect(list.candidates).toEqual([
      {
        digest: v100.digest,
        version: '1.0.0',
        tags: ['1.0.0', 'qa'],
        from: 'qa',
        inTarget: false,
        current: false,
      },
    ]);
  });

  it('caps the list and reads the registry a few requests at a time', async () => {
    const src = repo(dev, 'api');
    for (let i = 0; i < 60; i++) mem.put(src, imageWith(`api-${i}`), `2.${i}.0`);
    let inFlight = 0;
    let peak = 0;
    const port = mem.port;
    const counted = {
      ...port,
      resolve: async (...args: Parameters<typeof port.resolve>) => {
        peak = Math.max(peak, ++inFlight);
        await new Promise((r) => setImmediate(r));
        inFlight--;
        return port.resolve(...args);
      },
    };
    const s = new PromotionService({ config, registry: counted, now: () => NOW });
    const list = await s.candidates('api', 'prod', { limit: 50, concurrency: 8 });
    expect(list.truncated).toBe(true);
    expect(list.candidates).toHaveLength(50);
    expect(list.candidates[0]?.version).toBe('2.59.0');
    expect(list.candidates[49]?.version).toBe('2.10.0');
    expect(peak).toBeLessThanOrEqual(8);
    expect(peak).toBeGreaterThan(1);
  });

  it('an entry environment has no candidates; unknown names are PROMOTION_UNKNOWN', async () => {
    expect((await service().candidates('web', 'dev')).candidates).toEqual([]);
    const err = await service()
      .candidates('nope', 'prod')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GantryError);
    expect((err as GantryError).code).toBe('PROMOTION_UNKNOWN');
  });
});
