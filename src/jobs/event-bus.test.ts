import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DeskEvent, PromotionView } from './desk.js';
import { EventBus } from './event-bus.js';

function view(id: string, state: PromotionView['state'], updatedAt: string): PromotionView {
  return {
    id,
    kind: 'promotion',
    state,
    environment: 'prod',
    from: 'dev',
    requestedBy: 'ci (tok_1)',
    requestedAt: '2026-06-01T12:00:00.000Z',
    updatedAt,
    applications: [{ application: 'web' } as PromotionView['applications'][number]],
    decisions: [],
  };
}

describe('EventBus.watchAll', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('polls the store only while someone watches, once per interval for all watchers', async () => {
    const changed = vi.fn((): Promise<PromotionView[]> => Promise.resolve([]));
    const bus = new EventBus(() => Promise.resolve([]), 500, {
      changed,
      pollMs: 1000,
      now: () => new Date('2026-06-01T12:00:00Z'),
    });
    await vi.advanceTimersByTimeAsync(5000);
    expect(changed).not.toHaveBeenCalled();
    const stopA = bus.watchAll(() => undefined);
    const stopB = bus.watchAll(() => undefined);
    await vi.advanceTimersByTimeAsync(1000);
    expect(changed).toHaveBeenCalledTimes(1);
    // Rows changed a little before the subscription are read too (clock skew between replicas).
    expect(changed.mock.calls[0]).toEqual([new Date('2026-06-01T11:59:55Z')]);
    stopA();
    await vi.advanceTimersByTimeAsync(1000);
    expect(changed).toHaveBeenCalledTimes(2);
    stopB();
    await vi.advanceTimersByTimeAsync(5000);
    expect(changed).toHaveBeenCalledTimes(2);
    bus.close();
  });

  it('delivers each change once, whether it was seen here or by the poll, and names progress', async () => {
    const rows: PromotionView[] = [];
    const current = new Map<string, PromotionView>();
    const bus = new EventBus((ids) => Promise.resolve(ids.flatMap((id) => current.get(id) ?? [])), 500, {
      changed: () => Promise.resolve(rows),
      pollMs: 1000,
      now: () => new Date('2026-06-01T12:00:00Z'),
    });
    const got: DeskEvent[] = [];
    const stop = bus.watchAll((e) => got.push(e));
    const requested = view('p1', 'requested', '2026-06-01T12:00:01.000Z');
    current.set('p1', requested);
    bus.created('p1');
    await vi.advanceTimersByTimeAsync(0);
    rows.push(requested);
    await vi.advanceTimersByTimeAsync(1000);
    expect(got).toEqual([{ type: 'promotion', promotion: requested }]);

    const copying = view('p1', 'copying', '2026-06-01T12:00:02.000Z');
    bus.entered('p1', 'copying', copying);
    rows.splice(0, rows.length, copying);
    await vi.advanceTimersByTimeAsync(1000);
    // A stale read (an earlier change) never follows a later one.
    rows.splice(0, rows.length, requested);
    await vi.advanceTimersByTimeAsync(1000);
    expect(got.map((e) => (e.type === 'promotion' ? e.promotion.state : e.type))).toEqual([
      'requested',
      'copying',
    ]);

    bus.progress({
      type: 'progress',
      id: 'p1',
      application: 0,
      bytesTransferred: 10,
      bytesTotal: 20,
      blobsDone: 1,
      blobsTotal: 2,
    });
    expect(got.at(-1)).toEqual({
      type: 'progress',
      id: 'p1',
      application: 'web',
      bytesTransferred: 10,
      bytesTotal: 20,
      blobsDone: 1,
      blobsTotal: 2,
    });

    // Another replica completed it: only the poll sees it.
    const completed = view('p1', 'completed', '2026-06-01T12:00:03.000Z');
    rows.splice(0, rows.length, completed);
    await vi.advanceTimersByTimeAsync(1000);
    expect(got.at(-1)).toEqual({ type: 'promotion', promotion: completed });
    expect(got).toHaveLength(4);
    stop();
    bus.close();
  });
  it('does not deliver a view again when only its stored time moved (copy progress stored), but does when it shows a change', async () => {
    const rows: PromotionView[] = [];
    const bus = new EventBus(() => Promise.resolve([]), 500, {
      changed: () => Promise.resolve(rows),
      pollMs: 1000,
      now: () => new Date('2026-06-01T12:00:00Z'),
    });
    const got: PromotionView[] = [];
    bus.watchAll((e) => {
      if (e.type === 'promotion') got.push(e.promotion);
    });
    const copying = view('p1', 'copying', '2026-06-01T12:00:01.000Z');
    bus.entered('p1', 'copying', copying);
    // The runner stored progress twice: the row's time moved, the view shows the same.
    for (const at of ['2026-06-01T12:00:02.000Z', '2026-06-01T12:00:03.000Z']) {
      rows.splice(0, rows.length, { ...copying, updatedAt: at });
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(got).toEqual([copying]);
    // A cancel asked for while copying: same state, a different view.
    const cancelling = { ...copying, updatedAt: '2026-06-01T12:00:04.000Z', cancelRequested: true };
    rows.splice(0, rows.length, cancelling);
    await vi.advanceTimersByTimeAsync(1000);
    expect(got).toEqual([copying, cancelling]);
    bus.close();
  });

  it('pages on when a poll reads a full page of changes', async () => {
    const all = ['p1', 'p2', 'p3', 'p4', 'p5'].map((id, i) =>
      view(id, 'requested', `2026-06-01T12:00:0${i + 1}.000Z`),
    );
    const changed = vi.fn((since: Date) =>
      Promise.resolve(all.filter((v) => new Date(v.updatedAt) > since).slice(0, 2)),
    );
    const bus = new EventBus(() => Promise.resolve([]), 500, {
      changed,
      pageSize: 2,
      pollMs: 1000,
      now: () => new Date('2026-06-01T12:00:00Z'),
    });
    const got: string[] = [];
    bus.watchAll((e) => got.push(e.type === 'promotion' ? e.promotion.id : e.type));
    await vi.advanceTimersByTimeAsync(1000);
    expect(got).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
    bus.close();
  });
});
