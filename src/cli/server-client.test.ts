import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GantryError } from '../core/index.js';
import { serverUrlOf } from './cli-options.js';
import { objectWith, parseServerUrl, ServerClient } from './server-client.js';

const TOKEN = `gty_${'t0k'.repeat(12)}`;
type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const routes = new Map<string, Handler>();
const seen: { url: string; authorization: string | undefined }[] = [];
let server: Server;
let base: string;

const json =
  (status: number, body: unknown, type = 'application/json'): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': type });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

beforeAll(async () => {
  routes.set('/api/v1/ok', json(200, { value: 1 }));
  routes.set('/api/v1/prefixed', json(200, { value: 2 }));
  routes.set(
    '/api/v1/refused',
    json(401, { error: { code: 'API_UNAUTHENTICATED', message: 'token unknown', requestId: 'r1' } }),
  );
  routes.set('/api/v1/forbidden-bare', json(403, ''));
  routes.set(
    '/api/v1/conflict',
    json(409, { error: { code: 'PROMOTION_STATE_CONFLICT', message: 'it is completed', requestId: 'r2' } }),
  );
  routes.set(
    '/api/v1/future',
    json(409, { error: { code: 'PROMOTION_SOMETHING_NEW', message: 'new', requestId: 'r3' } }),
  );
  routes.set('/api/v1/proxy', json(502, '<html>bad gateway</html>', 'text/html'));
  routes.set('/api/v1/html', json(200, '<html></html>', 'text/html'));
  routes.set('/api/v1/malformed', json(200, '{"value":'));
  routes.set('/api/v1/shape', json(200, { value: 'one' }));
  routes.set('/api/v1/huge', json(200, { value: 'x'.repeat(4096) }));
  routes.set('/api/v1/redirect', (_req, res) => {
    res.writeHead(302, { location: 'https://elsewhere.example.com/api/v1/ok' });
    res.end();
  });
  routes.set('/api/v1/slow', () => undefined);
  routes.set('/api/v1/stream', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(': hello\n\nevent: state\ndata: {"type":"state"}\n\n');
    res.end('event: end\ndata: {"type":"end"}\n\n');
  });
  server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
    const handler = routes.get(path.replace(/^\/gantry/, ''));
    if (handler) handler(req, res);
    else json(404, { error: { code: 'API_NOT_FOUND', message: 'no route', requestId: 'r0' } })(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const value = objectWith<{ value: number }>({ value: 'number' });
const client = (extra: Partial<ConstructorParameters<typeof ServerClient>[0]> = {}): ServerClient =>
  new ServerClient({ server: base, token: TOKEN, ...extra });

/** The GantryError `fn` rejects with. */
async function failure(fn: () => Promise<unknown>): Promise<GantryError> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof GantryError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

describe('ServerClient', () => {
  it('sends the token as a bearer token and the query, and returns the checked JSON', async () => {
    await expect(client().get('/ok', value, { a: 'x y', b: undefined })).resolves.toEqual({ value: 1 });
    expect(seen.at(-1)).toEqual({ url: '/api/v1/ok?a=x+y', authorization: `Bearer ${TOKEN}` });
  });

  it('keeps a path prefix of the server URL', async () => {
    await expect(client({ server: `${base}/gantry/` }).get('/prefixed', value)).resolves.toEqual({
      value: 2,
    });
    expect(seen.at(-1)?.url).toBe('/gantry/api/v1/prefixed');
  });

  it.each([
    ['/refused', 'API_UNAUTHENTICATED', /token unknown/],
    ['/forbidden-bare', 'API_FORBIDDEN', /refused the API token \(HTTP 403\)/],
    ['/conflict', 'PROMOTION_STATE_CONFLICT', /it is completed/],
    ['/future', 'SERVER_PROTOCOL', /new \(code PROMOTION_SOMETHING_NEW, unknown to this gantry\)/],
    ['/proxy', 'SERVER_PROTOCOL', /HTTP 502 and no Gantry error/],
    ['/html', 'SERVER_PROTOCOL', /with text\/html, not JSON/],
    ['/malformed', 'SERVER_PROTOCOL', /malformed JSON/],
    ['/shape', 'SERVER_PROTOCOL', /unexpected shape \(value is not a number\)/],
    ['/redirect', 'SERVER_PROTOCOL', /redirects \/redirect \(HTTP 302\)/],
    ['/nothing', 'API_NOT_FOUND', /no route/],
  ])('GET %s is %s, one line, without the token', async (path, code, message) => {
    const e = await failure(() => client().get(path, value));
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain('\n');
    expect(e.message).not.toContain(TOKEN);
    expect(JSON.stringify(e.details)).not.toContain(TOKEN);
  });

  it('keeps the request id of an API error in the details', async () => {
    const e = await failure(() => client().get('/conflict', value));
    expect(e.details).toEqual({ status: 409, requestId: 'r2' });
  });

  it('refuses an answer over the size limit', async () => {
    const e = await failure(() => client({ maxBytes: 1024 }).get('/huge', value));
    expect([e.code, e.message]).toEqual(['SERVER_PROTOCOL', expect.stringMatching(/more than 1024 bytes/)]);
  });

  it('times out a server that does not answer (SERVER_UNREACHABLE)', async () => {
    const e = await failure(() => client({ timeoutMs: 200 }).get('/slow', value));
    expect([e.code, e.message]).toEqual([
      'SERVER_UNREACHABLE',
      expect.stringMatching(/GET \/slow: timed out/),
    ]);
  });

  it('reports a refused connection as SERVER_UNREACHABLE', async () => {
    const e = await failure(() =>
      new ServerClient({ server: 'http://127.0.0.1:9', token: TOKEN }).get('/ok', value),
    );
    expect(e.code).toBe('SERVER_UNREACHABLE');
    expect(e.message).toBe('cannot reach http://127.0.0.1:9 (GET /ok: ECONNREFUSED)');
  });

  it('reads server-sent events, skipping comments', async () => {
    const events = [];
    for await (const e of client().events('/stream')) events.push(e);
    expect(events).toEqual([
      { event: 'state', data: '{"type":"state"}' },
      { event: 'end', data: '{"type":"end"}' },
    ]);
  });

  it('refuses an event stream that is not one', async () => {
    const e = await failure(async () => {
      for await (const _ of client().events('/ok')) void _;
    });
    expect(e.code).toBe('SERVER_PROTOCOL');
  });

  it('needs a token and refuses one with a line break (API_UNAUTHENTICATED)', () => {
    expect(() => new ServerClient({ server: base, token: '' })).toThrow(
      expect.objectContaining({
        code: 'API_UNAUTHENTICATED',
        message: expect.stringMatching(/GANTRY_TOKEN is not set/),
      }),
    );
    expect(() => new ServerClient({ server: base, token: 'gty_a\r\nx: y' })).toThrow(
      expect.objectContaining({ code: 'API_UNAUTHENTICATED' }),
    );
  });
});

describe('server URLs', () => {
  it.each([
    ['https://gantry.example.com', true],
    ['https://gantry.example.com:8443/prefix', true],
    ['http://127.0.0.1:8080', true],
    ['http://localhost:8080', true],
    ['http://[::1]:8080', true],
    ['http://gantry.example.com', false],
    ['https://user:pass@gantry.example.com', false],
    ['https://gantry.example.com/?x=1', false],
    ['ftp://gantry.example.com', false],
    ['gantry.example.com', false],
  ])('%s accepted: %s', (url, ok) => {
    if (ok) expect(parseServerUrl(url)).toBeInstanceOf(URL);
    else expect(() => parseServerUrl(url)).toThrow(expect.objectContaining({ code: 'USAGE_INVALID' }));
  });

  it('does not repeat credentials given in the URL', () => {
    expect(() => parseServerUrl('https://user:hunter2@gantry.example.com')).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2') }),
    );
  });

  it('takes --server over GANTRY_SERVER, and an empty value as none', () => {
    expect(serverUrlOf('https://a.example.com', { GANTRY_SERVER: 'https://b.example.com' })).toBe(
      'https://a.example.com',
    );
    expect(serverUrlOf(undefined, { GANTRY_SERVER: 'https://b.example.com' })).toBe('https://b.example.com');
    expect(serverUrlOf(undefined, { GANTRY_SERVER: ' ' })).toBeUndefined();
    expect(serverUrlOf(undefined, {})).toBeUndefined();
  });
});
