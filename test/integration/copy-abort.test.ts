/**
 * A copy aborted mid-blob (a server job's lost lease) between two real registries: the source is
 * read through a STALLING proxy that sends half of a big layer and then holds the response open,
 * so the abort lands while the download and the streamed upload are both in flight. The copy
 * stops promptly with `OPERATION_ABORTED` (no undici abort error escapes, no unhandled rejection),
 * nothing half-written is visible at the destination, and a re-run completes byte-exact with
 * progress reports that end with every byte transferred.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registryPort } from '../../src/app-registry.js';
import { isGantryError, type Digest } from '../../src/core/index.js';
import type { CopyProgress } from '../../src/promotion/index.js';
import { RegistryClient } from '../../src/registry/index.js';
import {
  fetchManifest,
  makeImage,
  pushImage,
  registryRequest,
  startRegistry,
  type RegistryProcess,
} from '../helpers/index.js';

const BIG = 4 * 1024 * 1024;
const image = makeImage({
  seed: 'abort',
  layers: [
    { size: BIG, seed: 'abort:big' },
    { size: 2048, seed: 'abort:small' },
  ],
});
const bigLayer = image.layers.find((l) => l.size === BIG)?.digest as string;

let src: RegistryProcess;
let dst: RegistryProcess;
let stall: StallingProxy;

/** A proxy in front of the source that stalls the big layer's download half-way while `stalling`. */
interface StallingProxy {
  readonly host: string;
  stalling: boolean;
  /** Resolves when a download of the big layer has stalled half-way. */
  stalled(): Promise<void>;
  /** Downloads cut off by the client (its abort reached the connection). */
  readonly clientClosed: number;
  stop(): Promise<void>;
}

async function startStallingProxy(upstream: RegistryProcess): Promise<StallingProxy> {
  const target = new URL(upstream.url);
  let onStall: (() => void) | undefined;
  const state = { stalling: true, clientClosed: 0 };
  const server: Server = createServer((req, res) => {
    const out = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (up: IncomingMessage) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        const big = req.method === 'GET' && (req.url ?? '').includes(`/blobs/${bigLayer}`);
        if (!big || !state.stalling) {
          up.pipe(res);
          return;
        }
        let sent = 0;
        up.on('data', (chunk: Buffer) => {
          if (sent >= BIG / 2) return;
          sent += chunk.byteLength;
          res.write(chunk);
          if (sent >= BIG / 2) {
            up.pause();
            onStall?.();
          }
        });
      },
    );
    res.on('close', () => {
      if (!res.writableFinished) {
        state.clientClosed++;
        out.destroy();
      }
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    get stalling() {
      return state.stalling;
    },
    set stalling(v: boolean) {
      state.stalling = v;
    },
    get clientClosed() {
      return state.clientClosed;
    },
    stalled: () => new Promise<void>((resolve) => (onStall = resolve)),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

beforeAll(async () => {
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  await pushImage(src, 'team/web', image, '1.0.0');
  stall = await startStallingProxy(src);
});
afterAll(async () => {
  await stall?.stop();
  await Promise.all([src?.stop(), dst?.stop()]);
});

describe('a copy aborted mid-blob', () => {
  it(
    'stops promptly with OPERATION_ABORTED, leaves nothing visible, and a re-run completes',
    { timeout: 15_000 },
    async () => {
      const client = new RegistryClient({ hostSettings: () => ({ scheme: 'http' }) });
      try {
        const port = registryPort(client);
        const from = { registry: stall.host, repository: 'team/web' };
        const to = { registry: dst.host, repository: 'team/web' };
        const lease = new AbortController();
        const stalled = stall.stalled();
        const copying = port.copy(from, to, image.digest as Digest, { signal: lease.signal });
        const outcome = copying.then(
          () => undefined,
          (e: unknown) => e,
        );
        await stalled;
        const abortedAt = Date.now();
        lease.abort();
        const err = await outcome;
        const stoppedIn = Date.now() - abortedAt;
        expect(isGantryError(err, 'OPERATION_ABORTED')).toBe(true);
        expect((err as Error).message).toMatch(/aborted/);
        // Promptly: the stalled body alone would hold the copy for the transport's 120 s idle timeout.
        expect(stoppedIn).toBeLessThan(5_000);
        // The stalled download's connection was cut (the proxy sees it close).
        await vi.waitFor(() => expect(stall.clientClosed).toBeGreaterThan(0), { timeout: 2_000 });
        // Nothing half-written is visible: no manifest at the destination, no big layer.
        const head = await registryRequest(dst, `/v2/team/web/manifests/${image.digest}`, { method: 'HEAD' });
        expect(head.status).toBe(404);
        const blob = await registryRequest(dst, `/v2/team/web/blobs/${bigLayer}`, { method: 'HEAD' });
        expect(blob.status).toBe(404);

        // The re-run (the job claimed again) completes byte-exact and reports its progress.
        stall.stalling = false;
        const reports: CopyProgress[] = [];
        const copied = await port.copy(from, to, image.digest as Digest, {
          signal: new AbortController().signal,
          onProgress: (p) => reports.push(p),
        });
        const manifest = await fetchManifest(dst, 'team/web', image.digest);
        expect(manifest.bytes.equals(image.manifest)).toBe(true);
        expect(copied.bytesTransferred).toBeGreaterThanOrEqual(BIG);
        expect(reports.length).toBeGreaterThanOrEqual(2);
        const last = reports.at(-1) as CopyProgress;
        expect(last.bytesTransferred).toBe(last.bytesTotal);
        expect(last.bytesTransferred).toBe(copied.bytesTransferred);
        expect(last.blobsDone).toBe(last.blobsTotal);
        expect(reports.map((r) => r.bytesTransferred)).toEqual(
          [...reports.map((r) => r.bytesTransferred)].sort((a, b) => a - b),
        );
      } finally {
        await client.close();
      }
    },
  );
});
