/**
 * Server-sent events (https://html.spec.whatwg.org/multipage/server-sent-events.html): a route
 * takes over its response and writes `event: <type>\ndata: <json>\n\n` frames, with a comment
 * line now and then so that proxies do not close an idle stream. The server keeps every open
 * stream so that shutdown can end them (a client reconnects, e.g. to another replica); otherwise
 * the server would wait for clients that never leave.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

/** One open event stream. */
export interface EventStream {
  /** True once the stream ended (by the route, the client or shutdown). */
  readonly closed: boolean;
  /** Writes one event; ignored once closed. `data` is serialised as JSON on one line. */
  send(type: string, data: unknown): void;
  /** Ends the stream. Idempotent. */
  end(): void;
  /** Calls `fn` once when the stream ends, however it ends. */
  onClose(fn: () => void): void;
}

/** Options of {@link EventStreams}. */
export interface EventStreamOptions {
  /** Interval of `: keep-alive` comment lines, in ms. Default 15 000. */
  readonly keepAliveMs?: number;
}

/** The open event streams of one server. */
export class EventStreams {
  readonly #open = new Set<EventStream>();
  readonly #keepAliveMs: number;

  constructor(options: EventStreamOptions = {}) {
    this.#keepAliveMs = options.keepAliveMs ?? 15_000;
  }

  /** How many streams are open. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Takes over `reply` (Fastify no longer answers it) and sends the stream's headers:
   * `text/event-stream`, `cache-control: no-store` and the request id.
   */
  open(request: FastifyRequest, reply: FastifyReply): EventStream {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // nginx buffers responses by default, which would hold events back.
      'x-accel-buffering': 'no',
      'x-request-id': request.id,
    });
    raw.flushHeaders();
    const listeners: (() => void)[] = [];
    let closed = false;
    const timer = setInterval(() => {
      if (!closed) raw.write(': keep-alive\n\n');
    }, this.#keepAliveMs);
    timer.unref();
    const close = (): void => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      this.#open.delete(stream);
      for (const fn of listeners.splice(0)) {
        try {
          fn();
        } catch (error) {
          request.log.warn({ err: error }, 'event stream cleanup failed');
        }
      }
    };
    const stream: EventStream = {
      get closed() {
        return closed;
      },
      send: (type, data) => {
        if (!closed) raw.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
      },
      end: () => {
        close();
        if (!raw.writableEnded) raw.end();
      },
      onClose: (fn) => {
        if (closed) fn();
        else listeners.push(fn);
      },
    };
    // The client went away (or the socket failed): stop writing and unsubscribe.
    raw.on('close', close);
    raw.on('error', close);
    this.#open.add(stream);
    return stream;
  }

  /** Ends every open stream (the server is closing). */
  closeAll(): void {
    for (const stream of [...this.#open]) stream.end();
  }
}
