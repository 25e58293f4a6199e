import { describe, expect, it } from 'vitest';
import { isGantryError } from '../core/index.js';
import { MAX_SSE_EVENT, SseParser, type SseEvent } from './sse.js';

/** Feeds the chunks in order and returns every event. */
function parse(...chunks: string[]): SseEvent[] {
  const parser = new SseParser();
  return chunks.flatMap((c) => parser.push(c));
}

describe('SseParser', () => {
  it.each([
    ['LF line ends', ['event: state\ndata: {"a":1}\n\n'], [{ event: 'state', data: '{"a":1}' }]],
    ['CRLF line ends', ['event: state\r\ndata: x\r\n\r\n'], [{ event: 'state', data: 'x' }]],
    ['CR line ends', ['event: state\rdata: x\r\r'], [{ event: 'state', data: 'x' }]],
    [
      'a CRLF split between chunks',
      ['event: end\r', '\ndata: x\r', '\n\r', '\n'],
      [{ event: 'end', data: 'x' }],
    ],
    [
      'an event split anywhere',
      ['ev', 'ent: progress\nda', 'ta: 1', '2\n', '\n'],
      [{ event: 'progress', data: '12' }],
    ],
    ['several data lines joined with LF', ['data: a\ndata: b\n\n'], [{ event: 'message', data: 'a\nb' }]],
    [
      'comments (keep-alives) ignored',
      [': keep-alive\n\n: x\nevent: state\ndata: y\n\n'],
      [{ event: 'state', data: 'y' }],
    ],
    ['no space after the colon', ['event:state\ndata:z\n\n'], [{ event: 'state', data: 'z' }]],
    ['an event without data is not dispatched', ['event: state\n\n'], []],
    ['id and retry fields ignored', ['id: 7\nretry: 10\nevent: e\ndata: d\n\n'], [{ event: 'e', data: 'd' }]],
    ['an unfinished event waits for its blank line', ['event: state\ndata: x\n'], []],
    [
      'two events in one chunk',
      ['data: 1\n\ndata: 2\n\n'],
      [
        { event: 'message', data: '1' },
        { event: 'message', data: '2' },
      ],
    ],
  ])('%s', (_name, chunks, expected) => {
    expect(parse(...chunks)).toEqual(expected);
  });

  it('refuses an event or a line over the limit (SERVER_PROTOCOL) instead of buffering without end', () => {
    const big = 'x'.repeat(MAX_SSE_EVENT / 2);
    const lines = new SseParser();
    expect(() => lines.push(`data: ${big}\ndata: ${big}\ndata: x\n`)).toThrow(
      expect.objectContaining({ code: 'SERVER_PROTOCOL' }),
    );
    const noEnd = new SseParser();
    let error: unknown;
    try {
      for (let i = 0; i < 3; i++) noEnd.push(big);
    } catch (e) {
      error = e;
    }
    expect(isGantryError(error, 'SERVER_PROTOCOL')).toBe(true);
  });
});
