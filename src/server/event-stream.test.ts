import { EventEmitter } from 'node:events';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventStreams } from './event-stream.js';

/** A response that records what is written to it. */
class FakeResponse extends EventEmitter {
  status = 0;
  headers: Record<string, unknown> = {};
  written = '';
  writableEnded = false;
  writeHead(status: number, headers: Record<string, unknown>): this {
    this.status = status;
    this.headers = headers;
    return this;
  }
  flushHeaders(): void {}
  write(chunk: string): boolean {
    this.written += chunk;
    return true;
  }
  end(): this {
    this.writableEnded = true;
    this.emit('close');
    return this;
  }
}

function open(streams: EventStreams) {
  const raw = new FakeResponse();
  const hijack = vi.fn();
  const request = { id: 'req-1', log: { warn: vi.fn() } } as unknown as FastifyRequest;
  const reply = { hijack, raw } as unknown as FastifyReply;
  return { raw, hijack, stream: streams.open(request, reply) };
}

describe('EventStreams', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('takes over the reply and writes event frames with the stream headers', () => {
    const { raw, hijack, stream } = open(new EventStreams());
    expect(hijack).toHaveBeenCalledOnce();
    expect(raw.status).toBe(200);
    expect(raw.headers).toMatchObject({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-request-id': 'req-1',
    });
    stream.send('state', { type: 'state', note: 'two\nlines' });
    expect(raw.written).toBe('event: state\ndata: {"type":"state","note":"two\\nlines"}\n\n');
  });

  it('writes a keep-alive comment every interval until the stream ends', () => {
    const { raw, stream } = open(new EventStreams({ keepAliveMs: 15_000 }));
    vi.advanceTimersByTime(14_999);
    expect(raw.written).toBe('');
    vi.advanceTimersByTime(1);
    expect(raw.written).toBe(': keep-alive\n\n');
    vi.advanceTimersByTime(15_000);
    expect(raw.written).toBe(': keep-alive\n\n: keep-alive\n\n');
    stream.end();
    vi.advanceTimersByTime(60_000);
    expect(raw.written).toBe(': keep-alive\n\n: keep-alive\n\n');
  });

  it('runs close callbacks once, when the client goes away, and writes nothing after', () => {
    const streams = new EventStreams();
    const { raw, stream } = open(streams);
    const closed = vi.fn();
    stream.onClose(closed);
    expect(streams.size).toBe(1);
    raw.emit('close');
    raw.emit('close');
    expect(closed).toHaveBeenCalledOnce();
    expect(stream.closed).toBe(true);
    expect(streams.size).toBe(0);
    stream.send('state', {});
    expect(raw.written).toBe('');
    const late = vi.fn();
    stream.onClose(late);
    expect(late).toHaveBeenCalledOnce();
  });

  it('ends every open stream on closeAll', () => {
    const streams = new EventStreams();
    const a = open(streams);
    const b = open(streams);
    streams.closeAll();
    expect(a.raw.writableEnded && b.raw.writableEnded).toBe(true);
    expect(streams.size).toBe(0);
    a.stream.end();
    expect(a.stream.closed).toBe(true);
  });
});
