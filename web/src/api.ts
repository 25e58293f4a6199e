/**
 * The dashboard's only way to the server: the documented HTTP API under /api/v1, with the signed-in
 * token as a bearer credential (never a cookie, so no request can be forged cross-site: decision
 * 0016). Errors arrive as `{error: {code, message}}` and become {@link ApiError}s whose message is
 * the server's one line.
 */
import { credentials, signedOut } from './auth';

/** An error the API answered with (or a network failure: status 0, code `NETWORK`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Query = Record<string, string | number | boolean | undefined>;

/** `path` with the defined entries of `query` as its query string. */
export function withQuery(path: string, query: Query = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** One API call; resolves with the parsed JSON body, rejects with an {@link ApiError}. */
export async function api<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...credentials(token) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      ...(body !== undefined && { body: JSON.stringify(body) }),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'the Gantry server cannot be reached');
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const e = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    const error = new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? res.statusText);
    // A token that stopped working (revoked, expired) ends the session.
    if (res.status === 401 && token === undefined) signedOut(error.message);
    throw error;
  }
  return parsed as T;
}

/** One server-sent event. */
export interface StreamEvent {
  readonly event: string;
  readonly data: unknown;
}

/**
 * Reads a server-sent-event stream of the API until `signal` aborts, calling `onEvent` for each
 * event. EventSource cannot send an Authorization header, so this reads the stream with fetch.
 * Reconnects after a dropped connection (1 s, then up to 15 s apart) and calls `onOpen` on every
 * (re)connection, so the caller can read the state it may have missed.
 */
export function openStream(
  path: string,
  onEvent: (e: StreamEvent) => void,
  signal: AbortSignal,
  onOpen?: () => void,
): void {
  let delay = 1000;
  const run = async (): Promise<void> => {
    while (!signal.aborted) {
      try {
        const res = await fetch(path, {
          headers: { accept: 'text/event-stream', ...credentials() },
          credentials: 'omit',
          cache: 'no-store',
          signal,
        });
        if (res.status === 401) {
          signedOut('the API token is no longer valid');
          return;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        delay = 1000;
        onOpen?.();
        await readEvents(res.body, onEvent);
      } catch {
        if (signal.aborted) return;
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15_000);
    }
  };
  void run();
}

/** Parses `text/event-stream` (event and data fields; comments ignored). */
async function readEvents(
  body: ReadableStream<Uint8Array>,
  onEvent: (e: StreamEvent) => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let at: number;
    while ((at = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, at);
      buffer = buffer.slice(at).replace(/^\r?\n\r?\n/, '');
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length === 0) continue;
      try {
        onEvent({ event, data: JSON.parse(data.join('\n')) as unknown });
      } catch {
        // not JSON: not an event of this API
      }
    }
  }
}
