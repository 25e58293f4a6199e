import { describe, expect, it } from 'vitest';
import { responseError } from './registry-error.js';

const HOSTILE = [
  '\u001b]8;;https://evil.example/\u0007click here\u001b]8;;\u0007',
  '\u001b[2J\u001b[H',
  'denied\r\u001b[32mCopied OK\u001b[0m',
  'two\nlines',
];

describe('responseError', () => {
  it.each(HOSTILE)('escapes control characters of the registry message %j', (message) => {
    const body = JSON.stringify({ errors: [{ code: 'DENIED\u001b[1m', message }] });
    const err = responseError('GET', 'https://reg.example.com/v2/a/manifests/1', 403, body, 'manifest a:1');
    expect(err.code).toBe('REGISTRY_DENIED');
    // eslint-disable-next-line no-control-regex
    expect(err.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(err.message).toContain('DENIED\\e[1m');
    expect(err.details.registryCodes).toEqual(['DENIED\\e[1m']);
  });

  it('keeps a non-JSON body to one printable line', () => {
    const err = responseError('GET', 'https://reg.example.com/v2/', 502, 'bad\u001b[2J gateway\r\nsecond');
    // eslint-disable-next-line no-control-regex
    expect(err.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });
});
