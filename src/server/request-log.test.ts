import { describe, expect, it } from 'vitest';
import { redactQuery } from './request-log.js';

describe('redactQuery', () => {
  it('redacts credential-like query values and keeps the rest', () => {
    expect(redactQuery('/api/v1/status?access_token=gty_abc&app=web')).toBe(
      '/api/v1/status?access_token=[redacted]&app=web',
    );
    expect(redactQuery('/x?Token=1&password=2&api%5Fkey=3&x-amz-signature=4&env=prod')).toBe(
      '/x?Token=[redacted]&password=[redacted]&api%5Fkey=[redacted]&x-amz-signature=[redacted]&env=prod',
    );
  });

  it('leaves a URL without a query, or names without values, as they are', () => {
    expect(redactQuery('/api/v1/promotions')).toBe('/api/v1/promotions');
    expect(redactQuery('/a?token&app=web')).toBe('/a?token&app=web');
    expect(redactQuery('/a?%zz=1&token=%zz')).toBe('/a?%zz=1&token=[redacted]');
  });
});
