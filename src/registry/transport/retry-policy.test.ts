import { describe, expect, it } from 'vitest';
import { RetryPolicy, parseRetryAfter } from './retry-policy.js';

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it.each([
    ['3', 3000],
    ['0', 0],
    ['Thu, 01 Jan 2026 00:00:05 GMT', 5000],
    ['Wed, 31 Dec 2025 23:00:00 GMT', 0],
    ['soon', undefined],
    [undefined, undefined],
  ])('%s → %s', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe('RetryPolicy', () => {
  it('backs off exponentially with jitter inside [cap/2, cap]', () => {
    const p = new RetryPolicy({ baseDelayMs: 100, maxDelayMs: 1000, random: () => 1 });
    expect([1, 2, 3, 4, 5].map((a) => p.backoff(a))).toEqual([100, 200, 400, 800, 1000]);
    const low = new RetryPolicy({ baseDelayMs: 100, maxDelayMs: 1000, random: () => 0 });
    expect(low.backoff(3)).toBe(200);
  });

  it('shares a bounded budget per host and refills slowly', () => {
    const p = new RetryPolicy({ budget: 2 });
    expect(p.trySpend('a')).toBe(true);
    expect(p.trySpend('a')).toBe(true);
    expect(p.trySpend('a')).toBe(false);
    expect(p.trySpend('b')).toBe(true);
    for (let i = 0; i < 11; i++) p.succeeded('a');
    expect(p.trySpend('a')).toBe(true);
  });
});
