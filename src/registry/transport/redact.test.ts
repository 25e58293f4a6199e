import { describe, expect, it } from 'vitest';
import { redactUrl } from './redact.js';

describe('redactUrl', () => {
  it.each([
    ['https://user:pw@r.example.com/v2/', 'https://REDACTED:REDACTED@r.example.com/v2/'],
    [
      'https://s3.example.com/blob?X-Amz-Signature=secret&X-Amz-Credential=c',
      'https://s3.example.com/blob?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED',
    ],
    ['https://r/v2/a/tags/list?n=10&last=b', 'https://r/v2/a/tags/list?n=10&last=b'],
    [
      'https://r/v2/a/blobs/uploads/x?_state=abc&digest=sha256:1',
      'https://r/v2/a/blobs/uploads/x?_state=REDACTED&digest=sha256%3A1',
    ],
    ['not a url', '<invalid url>'],
  ])('%s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });
});
