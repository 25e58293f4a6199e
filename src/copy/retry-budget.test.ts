import { describe, expect, it } from 'vitest';
import { RetryBudget } from './retry-budget.js';

describe('RetryBudget', () => {
  it('allows 4 restarts per blob, at least 20, by default', () => {
    expect(new RetryBudget({}, 14).remaining).toBe(56);
    expect(new RetryBudget({}, 2).remaining).toBe(20);
  });

  it('is spent by restarts and refuses once empty', () => {
    const budget = new RetryBudget({ restarts: 2 }, 1);
    expect([budget.spend(), budget.spend(), budget.spend()]).toEqual([true, true, false]);
  });

  it('refuses every restart once its time is up', () => {
    let now = 1_000;
    const budget = new RetryBudget({ timeMs: 500 }, 1, () => now);
    expect(budget.spend()).toBe(true);
    now = 1_500;
    expect(budget.spend()).toBe(false);
  });

  it('pauses only after attempts without progress, doubling up to 5 s', () => {
    const budget = new RetryBudget({ backoffMs: 1_000 }, 1);
    expect([0, 1, 2, 3, 4].map((s) => budget.pause(s))).toEqual([0, 1_000, 2_000, 4_000, 5_000]);
  });
});
