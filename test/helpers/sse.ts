/** Server-sent events read from a response body, for tests and benchmarks of `gantry serve`. */

/** One event: its name (`message` when the frame names none) and its JSON data. */
export interface SseEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/**
 * Parses a `text/event-stream` body into events until it ends (or its reader is aborted, which
 * throws). Comment frames (`: keep-alive`) and frames without data are skipped.
 */
export async function* sseEvents(body: ReadableStream<Uint8Array> | null): AsyncGenerator<SseEvent> {
  if (body === null) return;
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let at: number;
    while ((at = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      if (data === undefined) continue;
      const event = /^event: (.*)$/m.exec(frame)?.[1] ?? 'message';
      yield { event, data: JSON.parse(data) as Record<string, unknown> };
    }
  }
}
