/**
 * A FAKE, scripted registry: a plain HTTP server on a free 127.0.0.1 port whose every answer comes
 * from the test's handler. Use it for behaviour no real registry exhibits on demand — a lying
 * `Docker-Content-Digest`, oversized or schema 1 manifests, 429 with `Retry-After`, 503 then
 * success, paginated `Link` headers, redirects to another host. It is NOT a registry
 * implementation; use `startRegistry` for that.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request whose body was read completely before the handler runs. */
export type FakeRequest = IncomingMessage & { body: Buffer };

/** The test's script: answer `req` on `res` (may be async). */
export type FakeHandler = (req: FakeRequest, res: ServerResponse) => void | Promise<void>;

/** What the fake registry received. */
export interface RecordedRequest {
  /** HTTP method. */
  method: string;
  /** Path and query, e.g. `/v2/a/manifests/latest`. */
  url: string;
  /** Request headers (lower-case names). */
  headers: IncomingHttpHeaders;
  /** The full request body. */
  body: Buffer;
}

/** A running fake registry. */
export interface FakeRegistry {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** `127.0.0.1:PORT`. */
  host: string;
  /** Every request, in arrival order. */
  requests: RecordedRequest[];
  /** Errors thrown by the handler (each also produced a 500 answer). */
  errors: unknown[];
  /** Closes the server and all its connections. */
  stop(): Promise<void>;
}

/** Reads a request body completely. */
export function readRequestBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Sends `body` (bytes or text) with an explicit `Content-Length`. */
export function sendBytes(
  res: ServerResponse,
  status: number,
  body: Buffer | string,
  headers: Record<string, string | string[]> = {},
): void {
  const bytes = Buffer.from(body);
  res.writeHead(status, { 'Content-Length': String(bytes.length), ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : bytes);
}

/** Sends a JSON value. */
export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  sendBytes(res, status, JSON.stringify(value), { 'Content-Type': 'application/json', ...headers });
}

/** Sends a Distribution-style error body `{"errors":[{code, message}]}`. */
export function sendRegistryError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string | string[]> = {},
): void {
  sendJson(res, status, { errors: [{ code, message, detail: null }] }, headers);
}

/**
 * Starts a FAKE registry that reads each request body fully, records the request, then calls
 * `handler`. A throwing handler produces a 500 and is recorded in `errors`.
 */
export async function startFakeRegistry(handler: FakeHandler): Promise<FakeRegistry> {
  const requests: RecordedRequest[] = [];
  const errors: unknown[] = [];
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readRequestBody(req);
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    try {
      await handler(Object.assign(req, { body }), res);
    } catch (error) {
      errors.push(error);
      if (!res.headersSent) sendBytes(res, 500, `fake registry handler failed: ${String(error)}\n`);
      else res.destroy();
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      errors.push(error);
      res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;
  let stopped = false;
  return {
    url: `http://${host}`,
    host,
    requests,
    errors,
    async stop() {
      if (stopped) return;
      stopped = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
