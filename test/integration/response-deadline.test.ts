/**
 * Responses a scripted FAKE registry drips one byte at a time, and downloads given up half-way:
 * every response body has an overall deadline (not only an idle timeout), and no error of a body
 * whose reader gave up can escape as an uncaught exception.
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, isGantryError, type Digest } from '../../src/core/index.js';
import { HttpTransport, RegistryClient, isTemporary } from '../../src/registry/index.js';
import {
  makeBlob,
  makeImage,
  sendBytes,
  startFakeRegistry,
  type FakeRegistry,
  type FakeRequest,
} from '../helpers/index.js';

const started: FakeRegistry[] = [];
const transports: HttpTransport[] = [];
afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

// Errors that reached the process instead of a caller.
const escaped: unknown[] = [];
const record = (err: unknown): void => void escaped.push(err);
beforeAll(() => {
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
});
afterAll(() => {
  process.off('uncaughtException', record);
  process.off('unhandledRejection', record);
});

/** A client whose deadlines are short: 300 ms per response, blobs at 1000 B/s but at least 300 ms. */
function client(): RegistryClient {
  const transport = new HttpTransport({
    hostSettings: () => ({ scheme: 'http' }),
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
    responseDeadlineMs: 300,
    blobDeadlineMinMs: 300,
    minThroughputBytesPerSec: 1000,
  });
  transports.push(transport);
  return new RegistryClient({ transport });
}

/** Sends `bytes` one byte every `everyMs`, with the full Content-Length up front. */
function drip(res: ServerResponse, bytes: Buffer, headers: Record<string, string>, everyMs = 50): void {
  res.writeHead(res.statusCode === 200 ? 200 : res.statusCode, {
    'Content-Length': String(bytes.length),
    ...headers,
  });
  let i = 0;
  const timer = setInterval(() => {
    if (res.destroyed || i >= bytes.length) {
      clearInterval(timer);
      if (!res.destroyed) res.end();
      return;
    }
    res.write(bytes.subarray(i, i + 1));
    i++;
  }, everyMs);
  res.on('close', () => clearInterval(timer));
}

const image = makeImage({ seed: 'deadline' });

describe('an overall deadline for every response', () => {
  it('cuts a manifest body that drips one byte every 50 ms after its fixed deadline', async () => {
    const f = await startFakeRegistry((_req, res) =>
      drip(res, image.manifest, { 'content-type': image.mediaType }),
    );
    started.push(f);
    const began = Date.now();
    const err = await client()
      .manifestGet({ registry: f.host, repository: 'app', digest: image.digest as Digest })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isGantryError(err, 'REGISTRY_TIMEOUT')).toBe(true);
    expect((err as Error).message).toMatch(/deadline/);
    expect(isTemporary(err)).toBe(true);
    // The body would take image.manifest.length × 50 ms (well over 10 s) to arrive.
    expect(image.manifest.length * 50).toBeGreaterThan(10_000);
    expect(Date.now() - began).toBeLessThan(5_000);
  });

  it.each([
    {
      what: 'a token response',
      handler: (req: FakeRequest, res: ServerResponse) =>
        (req.url ?? '').startsWith('/token')
          ? drip(res, Buffer.from(JSON.stringify({ token: 'x'.repeat(400) })), {
              'content-type': 'application/json',
            })
          : sendBytes(res, 401, '', {
              'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="fake"`,
            }),
      call: (c: RegistryClient, host: string) =>
        c.manifestHead({ registry: host, repository: 'app', tag: 'v1' }),
      code: 'REGISTRY_TIMEOUT',
    },
    {
      what: 'a tag list',
      handler: (_req: FakeRequest, res: ServerResponse) =>
        drip(
          res,
          Buffer.from(JSON.stringify({ name: 'app', tags: Array.from({ length: 50 }, (_, i) => `t${i}`) })),
          {
            'content-type': 'application/json',
          },
        ),
      call: (c: RegistryClient, host: string) => c.tagList({ registry: host, repository: 'app' }),
      code: 'REGISTRY_TIMEOUT',
    },
    {
      // The error body is cut at its deadline; the status still makes the error.
      what: 'an error body',
      handler: (_req: FakeRequest, res: ServerResponse) => {
        res.statusCode = 403;
        drip(res, Buffer.from(JSON.stringify({ errors: [{ code: 'DENIED', message: 'x'.repeat(400) }] })), {
          'content-type': 'application/json',
        });
      },
      call: (c: RegistryClient, host: string) =>
        c.manifestGet({ registry: host, repository: 'app', tag: 'v1' }),
      code: 'REGISTRY_DENIED',
    },
  ])('ends $what that drips one byte every 50 ms at the deadline', async ({ handler, call, code }) => {
    const f = await startFakeRegistry(handler);
    started.push(f);
    const began = Date.now();
    const err = await call(client(), f.host).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isGantryError(err) && err.code).toBe(code);
    // Each body needs well over 10 s at one byte every 50 ms.
    expect(Date.now() - began).toBeLessThan(5_000);
  });

  it('fails a blob download that stays under the minimum throughput, resumes included', async () => {
    const bytes = makeBlob(3_000, 'deadline-blob');
    const f = await startFakeRegistry((req, res) => {
      const range = /bytes=(\d+)-/.exec(req.headers.range ?? '');
      const from = range ? Number(range[1]) : 0;
      if (from > 0) {
        res.setHeader('Content-Range', `bytes ${from}-${bytes.length - 1}/${bytes.length}`);
        res.statusCode = 206;
      }
      drip(res, bytes.subarray(from), {}, 20);
    });
    started.push(f);
    const began = Date.now();
    // 3000 bytes at 1000 B/s: a 3 s deadline for the whole download; the server needs 60 s.
    const stream = client().blobGet({ registry: f.host, repository: 'app' }, digestOf(bytes), {
      size: bytes.length,
    });
    const err = await (async () => {
      for await (const _ of stream) {
        // read
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isGantryError(err, 'REGISTRY_TIMEOUT')).toBe(true);
    const elapsed = Date.now() - began;
    expect(elapsed).toBeGreaterThanOrEqual(2_900);
    expect(elapsed).toBeLessThan(8_000);
  });
});

describe('no error escapes a reader that gave up', () => {
  it('a blob download destroyed while its GET is in flight leaves no uncaught exception', async () => {
    const bytes = makeBlob(50_000, 'given-up');
    const f = await startFakeRegistry(async (_req, res) => {
      await sleep(150);
      sendBytes(res, 200, bytes);
    });
    started.push(f);
    const stream = client().blobGet({ registry: f.host, repository: 'app' }, digestOf(bytes), {
      size: bytes.length,
    });
    stream.on('error', () => undefined);
    stream.resume();
    await sleep(30);
    stream.destroy();
    // The response arrives after the reader is gone; its body is dropped unread.
    await sleep(400);
    expect(f.requests).toHaveLength(1);
    expect(escaped).toEqual([]);
  });
});
