import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeSecret } from '../config/index.js';
import { retryDelayMs, signWebhook } from './webhooks.js';

describe('signWebhook (Standard Webhooks)', () => {
  it('matches the published Standard Webhooks test vector', () => {
    // The example of the Standard Webhooks specification's reference libraries.
    const key = decodeSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(key).toBeDefined();
    const signature = signWebhook(
      key as Uint8Array,
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      1614265330,
      '{"test": 2432232314}',
    );
    expect(signature).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('is HMAC-SHA256 over id.timestamp.body with the decoded secret bytes, base64, after "v1,"', () => {
    const raw = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
    const key = decodeSecret(`whsec_${raw.toString('base64')}`) as Uint8Array;
    const body = '{"type":"promotion.completed","data":{"app":"wéb"}}';
    const expected = createHmac('sha256', raw).update(`msg_1.1700000000.${body}`).digest('base64');
    expect(signWebhook(key, 'msg_1', 1700000000, body)).toBe(`v1,${expected}`);
    // Not over the secret's text: signing with the "whsec_…" string's bytes gives another value.
    const wrong = createHmac('sha256', `whsec_${raw.toString('base64')}`)
      .update(`msg_1.1700000000.${body}`)
      .digest('base64');
    expect(signWebhook(key, 'msg_1', 1700000000, body)).not.toBe(`v1,${wrong}`);
  });
});

describe('retryDelayMs', () => {
  const target = { backoffMs: 1000, maxBackoffMs: 10_000 };
  it('doubles from backoff after each failed attempt, within ±10 %', () => {
    for (const [attempt, base] of [
      [1, 1000],
      [2, 2000],
      [3, 4000],
      [4, 8000],
    ] as const) {
      const d = retryDelayMs(target, attempt);
      expect(d).toBeGreaterThanOrEqual(base * 0.9);
      expect(d).toBeLessThanOrEqual(base * 1.1);
    }
  });
  it('never exceeds maxBackoff (plus jitter), even after many attempts', () => {
    expect(retryDelayMs(target, 60)).toBeLessThanOrEqual(11_000);
    expect(retryDelayMs(target, 60)).toBeGreaterThanOrEqual(9_000);
  });
});
