/**
 * An incremental reader of server-sent events (the `text/event-stream` format of the HTML
 * standard, https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
 * feed it chunks as they arrive, take the complete events out. Lines end in LF, CRLF or CR; a line
 * starting with `:` is a comment (a keep-alive); `data:` lines of one event are joined with LF; a
 * blank line ends the event. `id` and `retry` are kept out: Gantry's stream has no resume point
 * (a broken stream is resumed by reading the promotion again).
 */
import { GantryError } from '../core/index.js';

/** One event as the stream carries it. */
export interface SseEvent {
  /** The `event:` field (`message` when the event has none). */
  readonly event: string;
  /** The `data:` lines joined with LF. */
  readonly data: string;
}

/** The largest event (and the longest line) accepted, in characters: 1 MiB. */
export const MAX_SSE_EVENT = 1 << 20;

/** Parses a `text/event-stream` fed in chunks. */
export class SseParser {
  #buffer = '';
  #event = '';
  #data: string[] = [];
  #size = 0;
  /** The previous chunk ended in CR: an LF at the start of the next one belongs to it. */
  #afterCr = false;

  /** Adds a chunk and returns the events it completed. */
  push(chunk: string): SseEvent[] {
    let text = chunk;
    if (this.#afterCr && text.startsWith('\n')) text = text.slice(1);
    this.#afterCr = text.endsWith('\r');
    this.#buffer += text;
    const events: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const end = this.#buffer.slice(start).search(/[\r\n]/);
      if (end < 0) break;
      const at = start + end;
      const line = this.#buffer.slice(start, at);
      start = at + (this.#buffer[at] === '\r' && this.#buffer[at + 1] === '\n' ? 2 : 1);
      const event = this.#line(line);
      if (event) events.push(event);
    }
    this.#buffer = this.#buffer.slice(start);
    if (this.#buffer.length > MAX_SSE_EVENT) throw tooLarge();
    return events;
  }

  #line(line: string): SseEvent | undefined {
    if (line === '') {
      const event =
        this.#data.length > 0 ? { event: this.#event || 'message', data: this.#data.join('\n') } : undefined;
      this.#event = '';
      this.#data = [];
      this.#size = 0;
      return event;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') {
      this.#size += value.length + 1;
      if (this.#size > MAX_SSE_EVENT) throw tooLarge();
      this.#data.push(value);
    }
    return undefined;
  }
}

function tooLarge(): GantryError {
  return new GantryError('SERVER_PROTOCOL', `the server sent an event over ${MAX_SSE_EVENT} characters`);
}
