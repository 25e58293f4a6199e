import { describe, expect, it } from 'vitest';
import { SnapshotCache } from './snapshot.js';

/** A load whose calls are counted and resolved by the test. */
function loader() {
  const pending: { resolve: (v: number) => void; reject: (e: Error) => void }[] = [];
  let calls = 0;
  return {
    load: () =>
      new Promise<number>((resolve, reject) => {
        calls++;
        pending.push({ resolve, reject });
      }),
    resolve: (v: number) => pending.shift()?.resolve(v),
    reject: (e: Error) => pending.shift()?.reject(e),
    calls: () => calls,
  };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('SnapshotCache', () => {
  it('shares one load between concurrent callers, then serves the value while fresh', async () => {
    let t = 1000;
    const l = loader();
    const cache = new SnapshotCache(l.load, { freshMs: 100, maxStaleMs: 1000, now: () => t });
    const a = cache.get();
    const b = cache.get();
    l.resolve(1);
    expect((await a).value).toBe(1);
    expect((await b).value).toBe(1);
    expect(l.calls()).toBe(1);
    t += 50;
    expect((await cache.get()).value).toBe(1);
    expect(l.calls()).toBe(1);
  });

  it('serves a stale value at once while one reload runs, and the new value after it', async () => {
    let t = 1000;
    const l = loader();
    const cache = new SnapshotCache(l.load, { freshMs: 100, maxStaleMs: 1000, now: () => t });
    const first = cache.get();
    l.resolve(1);
    await first;
    t += 200;
    const stale = await cache.get();
    expect(stale.value).toBe(1);
    expect((await cache.get()).value).toBe(1);
    expect(l.calls()).toBe(2);
    l.resolve(2);
    await flush();
    const fresh = await cache.get();
    expect(fresh.value).toBe(2);
    expect(fresh.asOf.getTime()).toBe(1200);
  });

  it('makes callers wait for a new value once the old one is older than maxStaleMs', async () => {
    let t = 1000;
    const l = loader();
    const cache = new SnapshotCache(l.load, { freshMs: 100, maxStaleMs: 500, now: () => t });
    const first = cache.get();
    l.resolve(1);
    await first;
    t += 600;
    let settled = false;
    const next = cache.get().then((s) => ((settled = true), s));
    await flush();
    expect(settled).toBe(false);
    l.resolve(2);
    expect((await next).value).toBe(2);
  });

  it('does not cache a failure, and a waiting caller sees it', async () => {
    const l = loader();
    const cache = new SnapshotCache(l.load, { freshMs: 100, maxStaleMs: 500, now: () => 0 });
    const failed = cache.get();
    l.reject(new Error('registry down'));
    await expect(failed).rejects.toThrow('registry down');
    const again = cache.get();
    l.resolve(3);
    expect((await again).value).toBe(3);
    expect(l.calls()).toBe(2);
  });

  it('after invalidate, waits for a load that starts after it (not one already running)', async () => {
    let t = 1000;
    const l = loader();
    const cache = new SnapshotCache(l.load, { freshMs: 100, maxStaleMs: 1000, now: () => t });
    const first = cache.get();
    l.resolve(1);
    await first;
    t += 200;
    await cache.get(); // stale: a reload (load 2) starts
    cache.invalidate();
    const after = cache.get(); // load 3
    expect(l.calls()).toBe(3);
    l.resolve(2); // the reload that began before the invalidation
    l.resolve(3);
    expect((await after).value).toBe(3);
    expect((await cache.get()).value).toBe(3);
  });

  it('with freshMs 0 and maxStaleMs 0 reads on every call', async () => {
    const l = loader();
    const cache = new SnapshotCache(l.load, { freshMs: 0, maxStaleMs: 0, now: () => 0 });
    const a = cache.get();
    l.resolve(1);
    await a;
    const b = cache.get();
    l.resolve(2);
    expect((await b).value).toBe(2);
    expect(l.calls()).toBe(2);
  });
});
