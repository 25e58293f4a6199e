import { describe, expect, it } from 'vitest';
import { LIGHT_FACTOR, Scheduler } from './scheduler.js';

/** A task that records how many tasks run at once, and finishes when released. */
function probe() {
  let running = 0;
  let peak = 0;
  const releases: (() => void)[] = [];
  const task = () =>
    new Promise<void>((resolve) => {
      running++;
      peak = Math.max(peak, running);
      releases.push(() => {
        running--;
        resolve();
      });
    });
  const drain = async (): Promise<void> => {
    while (releases.length > 0 || running > 0) {
      releases.splice(0).forEach((r) => r());
      await new Promise((r) => setImmediate(r));
    }
  };
  return { task, drain, peak: () => peak, running: () => running };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('Scheduler', () => {
  it('bounds transfers overall and per host', async () => {
    const s = new Scheduler({ concurrency: 3, perHost: 2 });
    const p = probe();
    const all = Promise.all(Array.from({ length: 6 }, () => s.run(['a', 'b'], p.task)));
    await settle();
    expect(p.running()).toBe(2);
    await p.drain();
    await all;
    expect(p.peak()).toBe(2);
  });

  it('gives light work its own, larger pool', async () => {
    const s = new Scheduler({ concurrency: 1, perHost: 1 });
    const heavy = probe();
    const light = probe();
    const heavies = Promise.all([s.run(['a'], heavy.task), s.run(['a'], heavy.task)]);
    const lights = Promise.all(Array.from({ length: 10 }, () => s.run(['a'], light.task, true)));
    await settle();
    // Light work does not wait behind the one transfer slot, and is bounded by its own pool.
    expect(heavy.running()).toBe(1);
    expect(light.running()).toBe(LIGHT_FACTOR);
    await Promise.all([heavy.drain(), light.drain()]);
    await Promise.all([heavies, lights]);
    expect(heavy.peak()).toBe(1);
    expect(light.peak()).toBe(LIGHT_FACTOR);
  });

  it('runs work on the same key once', async () => {
    const s = new Scheduler();
    let runs = 0;
    const task = async () => {
      runs++;
      await settle();
      return 'done';
    };
    expect(await Promise.all([s.dedupe('k', task), s.dedupe('k', task)])).toEqual(['done', 'done']);
    expect(runs).toBe(1);
  });

  it('an aborted wait for a slot rejects, takes no slot, and the next waiter runs', async () => {
    const s = new Scheduler({ concurrency: 1, perHost: 1 });
    const p = probe();
    const first = s.run(['a'], p.task);
    const lease = new AbortController();
    const aborted = s.run(['a'], p.task, false, lease.signal).catch((e: unknown) => e);
    const third = s.run(['a'], p.task);
    await settle();
    lease.abort(new Error('lease lost'));
    expect(((await aborted) as Error).message).toBe('lease lost');
    await p.drain();
    await Promise.all([first, third]);
    // The aborted task never ran: two runs in all, one at a time.
    expect(p.peak()).toBe(1);
    expect(await s.run(['a'], () => Promise.resolve('free'))).toBe('free');
  });
});
