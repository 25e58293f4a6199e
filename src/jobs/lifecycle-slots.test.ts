import { describe, expect, it } from 'vitest';
import { dueSlot, latestSlot } from './lifecycle-slots.js';

const at = (iso: string): Date => new Date(iso);
const iso = (d: Date | undefined): string | undefined => d?.toISOString();

describe('latestSlot', () => {
  it.each([
    ['* * * * *', '2026-06-01T12:01:00.000Z', '2026-06-01T12:01:00.000Z'],
    ['* * * * *', '2026-06-01T12:01:59.999Z', '2026-06-01T12:01:00.000Z'],
    ['* * * * *', '2026-06-01T12:00:59.999Z', '2026-06-01T12:00:00.000Z'],
    ['0 3 * * *', '2026-06-01T03:00:00.000Z', '2026-06-01T03:00:00.000Z'],
    ['0 3 * * *', '2026-06-01T02:59:59.999Z', '2026-05-31T03:00:00.000Z'],
    ['0 3 * * 1', '2026-06-03T10:00:00.000Z', '2026-06-01T03:00:00.000Z'],
  ])('%s at %s is %s (UTC, a slot at now included)', (expr, now, want) => {
    expect(iso(latestSlot(expr, at(now)))).toBe(want);
  });
});

describe('dueSlot', () => {
  it('is the latest slot after the last one created, once it has come', () => {
    const last = at('2026-06-01T03:00:00.000Z');
    expect(dueSlot('0 3 * * *', last, at('2026-06-01T12:00:00.000Z'))).toBeUndefined();
    expect(dueSlot('0 3 * * *', last, at('2026-06-02T02:59:59.000Z'))).toBeUndefined();
    expect(iso(dueSlot('0 3 * * *', last, at('2026-06-02T03:00:00.000Z')))).toBe('2026-06-02T03:00:00.000Z');
  });

  it('catches up one missed slot after downtime, not every one (no backfill storm)', () => {
    // Down for a week of daily slots and 10 000 minutes of a per-minute schedule: one slot each.
    expect(iso(dueSlot('0 3 * * *', at('2026-06-01T03:00:00.000Z'), at('2026-06-08T09:00:00.000Z')))).toBe(
      '2026-06-08T03:00:00.000Z',
    );
    const last = at('2026-06-01T00:00:00.000Z');
    const now = new Date(last.getTime() + 10_000 * 60_000 + 30_000);
    expect(iso(dueSlot('* * * * *', last, now))).toBe('2026-06-07T22:40:00.000Z');
  });

  it('never gives a created slot again (restart safety: the last slot comes from the store)', () => {
    const slot = dueSlot('* * * * *', at('2026-06-01T12:00:00.000Z'), at('2026-06-01T12:01:10.000Z'));
    expect(iso(slot)).toBe('2026-06-01T12:01:00.000Z');
    // A restarted replica reads that slot as the last one: nothing is due until the next minute.
    expect(dueSlot('* * * * *', slot ?? new Date(0), at('2026-06-01T12:01:50.000Z'))).toBeUndefined();
    expect(iso(dueSlot('* * * * *', slot ?? new Date(0), at('2026-06-01T12:02:00.000Z')))).toBe(
      '2026-06-01T12:02:00.000Z',
    );
  });

  it('does not run a slot from before the schedule was first seen', () => {
    // First seen at 02:30: the 03:00 slot of the day before is not due; today's 03:00 is.
    const seen = at('2026-06-01T02:30:00.000Z');
    expect(dueSlot('0 3 * * *', seen, at('2026-06-01T02:59:00.000Z'))).toBeUndefined();
    expect(iso(dueSlot('0 3 * * *', seen, at('2026-06-01T03:00:05.000Z')))).toBe('2026-06-01T03:00:00.000Z');
  });
});
