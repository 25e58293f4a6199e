import { describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../core/index.js';
import { WorkerLoop } from './worker-loop.js';

describe('WorkerLoop', () => {
  it('works until there is nothing, waits, wakes on kick, survives a failure, and stops', async () => {
    const queue = [true, true, false];
    const warnings: string[] = [];
    let calls = 0;
    let failNext = false;
    const loop = new WorkerLoop({
      work: () => {
        calls += 1;
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error('store away'));
        }
        return Promise.resolve(queue.shift() ?? false);
      },
      logger: { ...silentLogger, warn: (_o: unknown, msg?: string) => void warnings.push(msg ?? '') },
      failure: 'test worker: failed',
      idleMs: 60_000,
    });
    loop.start();
    await new Promise((r) => setTimeout(r, 20));
    // Two jobs, then nothing: now idle for a minute.
    expect(calls).toBe(3);
    failNext = true;
    loop.kick();
    await new Promise((r) => setTimeout(r, 20));
    // The kick's look failed: logged, and the loop waits again rather than ending.
    expect(warnings).toEqual(['test worker: failed']);
    expect(calls).toBe(4);
    loop.kick();
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(5);
    expect(loop.running).toBe(true);
    await loop.stop();
    expect(loop.running).toBe(false);
    expect(loop.stopping).toBe(true);
  });
});

describe('WorkerLoop with concurrency', () => {
  it('runs that many pieces of work at once, and a kick wakes every idle loop', async () => {
    let inFlight = 0;
    let most = 0;
    let left = 6;
    const loop = new WorkerLoop({
      work: async () => {
        if (left === 0) return false;
        left -= 1;
        inFlight += 1;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 10));
        inFlight -= 1;
        return true;
      },
      logger: silentLogger,
      failure: 'x',
      idleMs: 60_000,
      concurrency: 3,
    });
    loop.start();
    await new Promise((r) => setTimeout(r, 100));
    expect([left, most]).toEqual([0, 3]);
    left = 3;
    loop.kick();
    await new Promise((r) => setTimeout(r, 100));
    expect(left).toBe(0);
    await loop.stop();
  });
});

describe('WorkerLoop when idle', () => {
  it('only one of its loops looks for work every idleMs; the others wait for a kick', async () => {
    vi.useFakeTimers();
    try {
      let looks = 0;
      const loop = new WorkerLoop({
        work: () => {
          looks += 1;
          return Promise.resolve(false);
        },
        logger: silentLogger,
        failure: 'x',
        idleMs: 20,
        concurrency: 4,
      });
      loop.start();
      await vi.advanceTimersByTimeAsync(200);
      // Four first looks, then ten of the polling loop's; four loops polling would make forty.
      expect(looks).toBe(14);
      const stopped = loop.stop();
      await vi.advanceTimersByTimeAsync(0);
      await stopped;
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('WorkerLoop when its poller is busy', () => {
  it('hands the polling on when the poller claims a long job', async () => {
    vi.useFakeTimers();
    try {
      let looks = 0;
      let jobReady = false;
      let finish: (() => void) | undefined;
      const loop = new WorkerLoop({
        work: async (_loop, claimed) => {
          looks += 1;
          if (!jobReady) return false;
          jobReady = false;
          claimed();
          await new Promise<void>((resolve) => (finish = resolve));
          return true;
        },
        logger: silentLogger,
        failure: 'x',
        idleMs: 20,
        concurrency: 2,
      });
      loop.start();
      await vi.advanceTimersByTimeAsync(10);
      expect(looks).toBe(2);
      jobReady = true;
      // The poller claims the job at 20 ms and holds it; the other loop, woken, polls from then on.
      await vi.advanceTimersByTimeAsync(210);
      expect(finish).toBeDefined();
      // Two first looks, the claim, the woken loop's look, then one look every 20 ms (10 more).
      // Left deaf, the other loop would look once in 600 ms: 4 looks in all.
      expect(looks).toBe(14);
      finish?.();
      const stopped = loop.stop();
      await vi.advanceTimersByTimeAsync(0);
      await stopped;
    } finally {
      vi.useRealTimers();
    }
  });
});
