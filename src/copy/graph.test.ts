import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MediaTypes, digestOf } from '../core/index.js';
import { parseManifest, type Descriptor, type Manifest } from '../registry/index.js';
import { MAX_INDEX_DEPTH, MAX_MANIFESTS_PER_COPY, resolveGraph } from './graph.js';
import type { ReadTarget } from './target.js';

/** An in-memory source that counts manifest fetches. */
class MemorySource implements ReadTarget {
  readonly name = 'memory/source';
  readonly manifests = new Map<string, Manifest>();
  fetches = 0;

  add(body: object, mediaType: string): Manifest {
    const bytes = Buffer.from(JSON.stringify(body));
    const m = parseManifest(bytes, digestOf(bytes), mediaType);
    this.manifests.set(m.digest, m);
    return m;
  }

  fetchManifest(reference: string): Promise<Manifest> {
    this.fetches++;
    const m = this.manifests.get(reference);
    return m ? Promise.resolve(m) : Promise.reject(new Error(`no manifest ${reference}`));
  }

  fetchBlob(): Readable {
    throw new Error('not used');
  }

  referrers(): Promise<readonly Descriptor[]> {
    return Promise.resolve([]);
  }

  tags(): Promise<string[]> {
    return Promise.resolve([]);
  }
}

const desc = (m: Manifest): Descriptor => ({
  mediaType: m.mediaType,
  digest: m.digest,
  size: m.bytes.length,
});

function image(source: MemorySource, seed: string): Manifest {
  const config = Buffer.from(`{"seed":"${seed}"}`);
  return source.add(
    {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociConfig, digest: digestOf(config), size: config.length },
      layers: [],
    },
    MediaTypes.ociManifest,
  );
}

/** `levels` indexes above one image, each listing the level below twice (the 40-level graph). */
function doubledChain(source: MemorySource, levels: number): Manifest {
  let below = image(source, 'leaf');
  for (let i = 0; i < levels; i++) {
    below = source.add(
      { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [desc(below), desc(below)] },
      MediaTypes.ociIndex,
    );
  }
  return below;
}

describe('resolveGraph bounds', () => {
  it('visits each digest once: an index listing its child twice, nested to the depth limit', async () => {
    const source = new MemorySource();
    const root = doubledChain(source, MAX_INDEX_DEPTH);
    const graph = await resolveGraph(source, root.digest, { referrers: false });
    // Without de-duplication this tree has 2^8 - 1 child visits; it has 8 distinct manifests below the root.
    expect(graph.root.children).toHaveLength(MAX_INDEX_DEPTH);
    expect(new Set(graph.root.children.map((m) => m.digest)).size).toBe(MAX_INDEX_DEPTH);
    expect(graph.root.blobs).toHaveLength(1);
    expect(source.fetches).toBe(MAX_INDEX_DEPTH + 1);
    // Children come before the parents that list them.
    const order = graph.root.children.map((m) => m.digest);
    for (const [i, m] of graph.root.children.entries()) {
      if (m.kind !== 'index') continue;
      for (const d of m.body.manifests) expect(order.indexOf(d.digest)).toBeLessThan(i);
    }
  });

  it('refuses the 40-level doubled index with COPY_LIMIT_EXCEEDED after a handful of fetches', async () => {
    const source = new MemorySource();
    const root = doubledChain(source, 40);
    await expect(resolveGraph(source, root.digest, { referrers: false })).rejects.toMatchObject({
      code: 'COPY_LIMIT_EXCEEDED',
      message: expect.stringContaining(`more than ${MAX_INDEX_DEPTH} levels`),
    });
    expect(source.fetches).toBeLessThanOrEqual(MAX_INDEX_DEPTH + 2);
  });

  it('refuses 1,000 nested indexes', async () => {
    const source = new MemorySource();
    let below = image(source, 'deep');
    for (let i = 0; i < 1000; i++) {
      below = source.add(
        { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [desc(below)] },
        MediaTypes.ociIndex,
      );
    }
    await expect(resolveGraph(source, below.digest, { referrers: false })).rejects.toMatchObject({
      code: 'COPY_LIMIT_EXCEEDED',
    });
  });

  it('refuses a copy of more than the manifest limit', async () => {
    const source = new MemorySource();
    const children: Descriptor[] = [];
    for (let i = 0; i <= MAX_MANIFESTS_PER_COPY; i++) children.push(desc(image(source, `wide-${i}`)));
    const root = source.add(
      { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: children },
      MediaTypes.ociIndex,
    );
    await expect(resolveGraph(source, root.digest, { referrers: false })).rejects.toMatchObject({
      code: 'COPY_LIMIT_EXCEEDED',
      message: expect.stringContaining(`more than ${MAX_MANIFESTS_PER_COPY} manifests`),
    });
    expect(source.fetches).toBeLessThanOrEqual(MAX_MANIFESTS_PER_COPY);
  });
});
