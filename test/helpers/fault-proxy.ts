/**
 * A FAULT-INJECTING reverse proxy in front of a real (test) registry, for robustness tests: each
 * request is either forwarded untouched or answered with an injected fault — a canned response,
 * a connection reset before or in the middle of the response body, or one corrupted byte.
 */
import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { readRequestBody } from './fake-registry.js';

/** A request as the fault function sees it (body fully read). */
export interface FaultRequest {
  /** HTTP method. */
  method: string;
  /** Path and query. */
  url: string;
  /** Request headers (lower-case names). */
  headers: IncomingHttpHeaders;
  /** The full request body. */
  body: Buffer;
}

/** A canned response that replaces the upstream's. */
export interface CannedResponse {
  /** HTTP status. */
  status: number;
  /** Response headers. */
  headers?: Record<string, string>;
  /** Body (objects are sent as JSON). */
  body?: string | Buffer | object;
}

/**
 * What to do with one request:
 * - `'pass'` forward it and relay the response untouched (Location headers pointing at the target are rewritten to the proxy);
 * - a {@link CannedResponse}: answer without forwarding;
 * - `'reset'`: destroy the connection without forwarding;
 * - `'reset-mid-body'`: forward, send the headers and half of the body, then destroy the connection;
 * - `'corrupt-byte'`: forward, flip one byte in the middle of the body (length unchanged).
 */
export type FaultDecision =
  'pass' | 'reset' | 'reset-mid-body' | 'corrupt-byte' | CannedResponse | DelayedDecision;

/** Waits `delayMs` before doing `then` (default `'pass'`): a slow registry. Recorded as `delay`. */
export interface DelayedDecision {
  /** How long to hold the request, in ms. */
  delayMs: number;
  /** What to do after the delay. */
  then?: Exclude<FaultDecision, DelayedDecision>;
}

/** Decides the fate of request number `n` (1-based). */
export type FaultFunction = (req: FaultRequest, n: number) => FaultDecision | Promise<FaultDecision>;

/** Options of {@link startFaultProxy}. */
export interface StartFaultProxyOptions {
  /** Base URL of the upstream, e.g. `registry.url`. */
  target: string;
  /** The fault script (default: always `'pass'`). */
  fault?: FaultFunction;
  /** CA (PEM) to trust when the target is HTTPS (e.g. `registry.caPem`). */
  ca?: string;
}

/** One proxied request and what was done to it. */
export interface FaultProxyRecord {
  /** Request number (1-based). */
  n: number;
  /** HTTP method. */
  method: string;
  /** Path and query. */
  url: string;
  /** `pass`, `reset`, `reset-mid-body`, `corrupt-byte`, `canned` or `delay` (then passed). */
  fault: string;
  /** Status sent to the client (absent when the connection was reset before headers). */
  status?: number;
}

/** A running fault proxy. */
export interface FaultProxy {
  /** `http://127.0.0.1:PORT` — point the client here instead of the registry. */
  url: string;
  /** `127.0.0.1:PORT`. */
  host: string;
  /** Every request, in arrival order. */
  requests: FaultProxyRecord[];
  /** Replaces the fault script (the request counter keeps running). */
  setFault(fault: FaultFunction): void;
  /** Closes the proxy and all its connections. */
  stop(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

interface Upstream {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function forward(target: URL, req: FaultRequest, ca: string | undefined): Promise<Upstream> {
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!HOP_BY_HOP.has(name) && name !== 'host' && name !== 'content-length') headers[name] = value;
  }
  headers.host = target.host;
  if (req.body.length > 0 || req.headers['content-length'] !== undefined) {
    headers['content-length'] = String(req.body.length);
  }
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const upstream = send(
      new URL(req.url, target),
      { method: req.method, headers, agent: false, ...(ca ? { ca } : {}) },
      (res: IncomingMessage) => {
        readRequestBody(res).then(
          (body) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body }),
          reject,
        );
      },
    );
    upstream.on('error', reject);
    upstream.end(req.body);
  });
}

function responseHeaders(
  upstream: Upstream,
  target: URL,
  proxyOrigin: string,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    if (name === 'location' && typeof value === 'string') {
      const location = new URL(value, target);
      out[name] =
        location.origin === target.origin ? `${proxyOrigin}${location.pathname}${location.search}` : value;
    } else {
      out[name] = value;
    }
  }
  return out;
}

/**
 * Starts a FAULT-INJECTING reverse proxy on a free 127.0.0.1 port in front of `target`. Requests
 * and responses are buffered whole, so it suits test-sized blobs.
 */
export async function startFaultProxy(options: StartFaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  let fault: FaultFunction = options.fault ?? (() => 'pass');
  const requests: FaultProxyRecord[] = [];
  let origin = '';

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readRequestBody(req);
    const n = requests.length + 1;
    const faultRequest: FaultRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      body,
    };
    const record: FaultProxyRecord = { n, method: faultRequest.method, url: faultRequest.url, fault: 'pass' };
    requests.push(record);
    let decision = await fault(faultRequest, n);
    if (typeof decision === 'object' && 'delayMs' in decision) {
      const { delayMs, then } = decision;
      record.fault = 'delay';
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (req.socket.destroyed) return;
      decision = then ?? 'pass';
    }

    if (decision === 'reset') {
      record.fault = 'reset';
      req.socket.destroy();
      return;
    }
    if (typeof decision === 'object') {
      record.fault = 'canned';
      record.status = decision.status;
      const raw = decision.body ?? '';
      const isJson = !(typeof raw === 'string' || Buffer.isBuffer(raw));
      const bytes = isJson ? Buffer.from(JSON.stringify(raw)) : Buffer.from(raw);
      res.writeHead(decision.status, {
        ...(isJson ? { 'Content-Type': 'application/json' } : {}),
        'Content-Length': String(bytes.length),
        ...decision.headers,
      });
      res.end(req.method === 'HEAD' ? undefined : bytes);
      return;
    }

    const upstream = await forward(target, faultRequest, options.ca);
    const headers = responseHeaders(upstream, target, origin);
    record.status = upstream.status;
    let payload = upstream.body;
    if (req.method !== 'HEAD') headers['content-length'] = String(payload.length);

    if (decision === 'corrupt-byte' && payload.length > 0) {
      record.fault = 'corrupt-byte';
      payload = Buffer.from(payload);
      const i = Math.floor(payload.length / 2);
      payload[i] = (payload[i] ?? 0) ^ 0xff;
    } else if (decision === 'reset-mid-body') {
      record.fault = 'reset-mid-body';
      if (payload.length < 2) {
        delete record.status;
        req.socket.destroy();
        return;
      }
      res.writeHead(upstream.status, headers);
      res.write(payload.subarray(0, Math.floor(payload.length / 2)), () => {
        setTimeout(() => req.socket.destroy(), 20);
      });
      return;
    }
    res.writeHead(upstream.status, headers);
    res.end(req.method === 'HEAD' ? undefined : payload);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const text = `fault proxy error: ${String(error)}\n`;
      res.writeHead(502, { 'Content-Type': 'text/plain', 'Content-Length': String(Buffer.byteLength(text)) });
      res.end(text);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;
  origin = `http://${host}`;
  let stopped = false;
  return {
    url: origin,
    host,
    requests,
    setFault(next) {
      fault = next;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Rates of {@link randomFaults}, each a share in [0, 1]. */
export interface RandomFaultRates {
  /** Share of all requests answered 503 or 429 (half each, no `Retry-After`). Default 0. */
  unavailable?: number;
  /** Share of all requests whose connection is reset before any answer. Default 0. */
  reset?: number;
  /** Share of blob GETs cut half-way through the body. Default 0. */
  cut?: number;
  /** Share of blob GETs with one corrupted byte. Default 0. */
  corrupt?: number;
  /** Seed of the pseudo-random sequence, so a run can be repeated. Default 1. */
  seed?: number;
}

/** Counts of what {@link randomFaults} decided. */
export type RandomFaultCounts = Record<'pass' | 'unavailable' | 'reset' | 'cut' | 'corrupt', number>;

/** A fault function drawing each request's fate at the given rates, with its running counts. */
export interface RandomFaults {
  /** The function to give {@link startFaultProxy}. */
  fault: FaultFunction;
  /** What was decided so far. */
  counts: RandomFaultCounts;
}

/** mulberry32: a small, seedable pseudo-random generator in [0, 1). */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Faults at random rates, as a flaky network and an overloaded registry produce them: on any
 * request a 503/429 or a reset connection, and on blob downloads (ranged ones included) a body cut
 * half-way or a corrupted byte.
 */
export function randomFaults(rates: RandomFaultRates): RandomFaults {
  const random = seededRandom(rates.seed ?? 1);
  const counts: RandomFaultCounts = { pass: 0, unavailable: 0, reset: 0, cut: 0, corrupt: 0 };
  const fault: FaultFunction = (req) => {
    const blobGet =
      req.method === 'GET' && /\/blobs\/sha256:[0-9a-f]{64}$/.test(new URL(req.url, 'http://x').pathname);
    let r = random();
    if (r < (rates.unavailable ?? 0)) {
      counts.unavailable++;
      return r < (rates.unavailable ?? 0) / 2
        ? { status: 503, body: 'service unavailable' }
        : { status: 429, body: { errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] } };
    }
    r -= rates.unavailable ?? 0;
    if (r < (rates.reset ?? 0)) {
      counts.reset++;
      return 'reset';
    }
    if (blobGet) {
      const s = random();
      if (s < (rates.cut ?? 0)) {
        counts.cut++;
        return 'reset-mid-body';
      }
      if (s < (rates.cut ?? 0) + (rates.corrupt ?? 0)) {
        counts.corrupt++;
        return 'corrupt-byte';
      }
    }
    counts.pass++;
    return 'pass';
  };
  return { fault, counts };
}
