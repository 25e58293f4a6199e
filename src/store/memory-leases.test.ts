import { describe, expect, it } from 'vitest';
import { MemoryLeases } from './leases.js';

describe('MemoryLeases (the embedded store: one process)', () => {
  it('gives a name to one owner at a time; an expired lease is taken over with a higher fence', async () => {
    const leases = new MemoryLeases();
    const a = await leases.acquire('registry:x#0', 'A', 60_000);
    expect(a).toEqual({ name: 'registry:x#0', owner: 'A', fence: 1 });
    expect(await leases.acquire('registry:x#0', 'B', 60_000)).toBeUndefined();
    expect(await leases.acquireAny(['registry:x#0', 'registry:x#1'], 'B', 60_000)).toMatchObject({
      name: 'registry:x#1',
      owner: 'B',
    });
    expect(await leases.holders('registry:x#')).toEqual(['A', 'B']);

    const short = await leases.acquire('lock', 'A', 1);
    await new Promise((r) => setTimeout(r, 5));
    const taken = await leases.acquire('lock', 'B', 60_000);
    expect(taken?.fence).toBe((short?.fence ?? 0) + 1);
    expect(await leases.renew(short!, 60_000)).toBe(false);
    await leases.release(short!); // a stale release does not free B's lease
    expect(await leases.acquire('lock', 'C', 60_000)).toBeUndefined();
    await leases.release(taken!);
    expect(await leases.acquire('lock', 'C', 60_000)).toMatchObject({ owner: 'C' });
  });

  it('withLease runs one holder at a time', async () => {
    const leases = new MemoryLeases();
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        leases.withLease('one', { owner: `w${i}`, ttlMs: 5_000, retryMs: 5 }, async () => {
          inside++;
          most = Math.max(most, inside);
          await new Promise((r) => setTimeout(r, 10));
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
  });
});
