import { describe, expect, it } from 'vitest';
import type { Digest, Manifest, Repository } from '../core/index.js';
import type { RegistryPort } from './ports.js';
import { contentCache } from './trusted-registry.js';

const repo: Repository = { registry: 'r.example', repository: 'team/web' };
const digest = (n: number) => `sha256:${String(n).padStart(64, '0')}` as Digest;

/** A registry port that counts manifest reads; `fail` makes the next read fail. */
function counting() {
  const reads: string[] = [];
  let fail = false;
  const port = {
    manifest: (_repo: Repository, reference: string) => {
      reads.push(reference);
      if (fail) {
        fail = false;
        return Promise.reject(new Error('registry down'));
      }
      return Promise.resolve({ digest: reference } as unknown as Manifest);
    },
  } as unknown as RegistryPort;
  return { port, reads, failNext: () => (fail = true) };
}

describe('contentCache', () => {
  it('reads a manifest by digest once, and by tag every time', async () => {
    const c = counting();
    const cached = contentCache(c.port);
    await cached.manifest(repo, digest(1));
    await cached.manifest(repo, digest(1));
    await cached.manifest(repo, 'latest');
    await cached.manifest(repo, 'latest');
    expect(c.reads).toEqual([digest(1), 'latest', 'latest']);
  });

  it('keeps at most maxEntries, dropping the least recently used', async () => {
    const c = counting();
    const cached = contentCache(c.port, 2);
    await cached.manifest(repo, digest(1));
    await cached.manifest(repo, digest(2));
    await cached.manifest(repo, digest(1)); // 1 is now the most recently used
    await cached.manifest(repo, digest(3)); // evicts 2
    await cached.manifest(repo, digest(1));
    await cached.manifest(repo, digest(2));
    expect(c.reads).toEqual([digest(1), digest(2), digest(3), digest(2)]);
  });

  it('forgets a failed read', async () => {
    const c = counting();
    const cached = contentCache(c.port);
    c.failNext();
    await expect(cached.manifest(repo, digest(4))).rejects.toThrow('registry down');
    await cached.manifest(repo, digest(4));
    expect(c.reads).toEqual([digest(4), digest(4)]);
  });
});
