/** The copy engine's events as throttled {@link CopyProgress} reports (registryPort's onProgress). */
import { describe, expect, it } from 'vitest';
import { copyProgress } from './app-registry.js';
import type { Digest } from './core/index.js';
import type { CopyResult } from './copy/index.js';
import type { CopyProgress } from './promotion/index.js';

const d = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}` as Digest;
const image = 'dst/web';

describe('copyProgress', () => {
  it('reports at most once per interval plus a final report with every byte transferred', () => {
    let t = 0;
    const reports: CopyProgress[] = [];
    const pending: (() => void)[] = [];
    const progress = copyProgress((p) => reports.push(p), {
      intervalMs: 250,
      now: () => t,
      // Trailing reports are collected here, not run: the events below already pass each interval.
      later: (fn) => {
        pending.push(fn);
        return () => pending.splice(pending.indexOf(fn), 1);
      },
    });
    const on = progress.onEvent;
    on({ type: 'plan', image, blobs: 3, bytes: 600 });
    on({ type: 'blob-done', image, digest: d(1), size: 100, action: 'mounted' });
    on({ type: 'blob-bytes', image, digest: d(2), bytes: 200 });
    t = 100;
    on({ type: 'blob-bytes', image, digest: d(2), bytes: 100 });
    // A restarted blob's bytes count once.
    on({ type: 'blob-retry', image, digest: d(2), attempt: 1, reason: 'reset' });
    t = 300;
    on({ type: 'blob-bytes', image, digest: d(2), bytes: 300 });
    on({ type: 'blob-done', image, digest: d(2), size: 300, action: 'copied' });
    t = 600;
    on({ type: 'blob-done', image, digest: d(3), size: 200, action: 'skipped' });
    progress.done({ bytesTransferred: 300, blobs: { copied: 1, mounted: 1, skipped: 1 } } as CopyResult);
    expect(reports).toEqual([
      { bytesTransferred: 0, bytesTotal: 600, blobsDone: 0, blobsTotal: 3 },
      { bytesTransferred: 300, bytesTotal: 500, blobsDone: 1, blobsTotal: 3 },
      { bytesTransferred: 300, bytesTotal: 300, blobsDone: 3, blobsTotal: 3 },
      { bytesTransferred: 300, bytesTotal: 300, blobsDone: 3, blobsTotal: 3 },
    ]);
  });

  it('reports what an interval held back when it ends (a trailing report), and nothing after the final one', () => {
    let t = 0;
    const reports: CopyProgress[] = [];
    const timers: { fn: () => void; at: number }[] = [];
    const progress = copyProgress((p) => reports.push(p), {
      intervalMs: 250,
      now: () => t,
      later: (fn, ms) => {
        const timer = { fn, at: t + ms };
        timers.push(timer);
        return () => timers.splice(timers.indexOf(timer), 1);
      },
    });
    const on = progress.onEvent;
    on({ type: 'plan', image, blobs: 2, bytes: 1000 });
    t = 10;
    on({ type: 'blob-bytes', image, digest: d(1), bytes: 400 });
    on({ type: 'blob-done', image, digest: d(1), size: 400, action: 'copied' });
    // The copy pauses (a slow blob): only the timer can report the held-back state.
    expect(reports).toHaveLength(1);
    expect(timers.map((x) => x.at)).toEqual([250]);
    t = 250;
    timers.shift()?.fn();
    expect(reports.at(-1)).toEqual({ bytesTransferred: 400, bytesTotal: 1000, blobsDone: 1, blobsTotal: 2 });
    // A held-back event followed by the final report: the timer is cancelled.
    t = 260;
    on({ type: 'blob-bytes', image, digest: d(2), bytes: 100 });
    expect(timers).toHaveLength(1);
    progress.done({ bytesTransferred: 1000, blobs: { copied: 2, mounted: 0, skipped: 0 } } as CopyResult);
    expect(timers).toHaveLength(0);
    expect(reports.at(-1)).toEqual({ bytesTransferred: 1000, bytesTotal: 1000, blobsDone: 2, blobsTotal: 2 });
    const count = reports.length;
    on({ type: 'blob-bytes', image, digest: d(2), bytes: 1 });
    expect(reports).toHaveLength(count);
  });

  it('a report that throws never reaches the copy', () => {
    const progress = copyProgress(() => {
      throw new Error('listener bug');
    });
    expect(() => progress.onEvent({ type: 'plan', image, blobs: 1, bytes: 1 })).not.toThrow();
  });
});
