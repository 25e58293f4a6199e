/**
 * Probes of the load suite (load.test.ts): event-stream readers, the memory of a server process
 * (VmRSS, its /metrics, a full collection through its V8 inspector), and the samples written for
 * a closer look.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'undici';
import type { GantryServerProcess } from '../helpers/index.js';
import { sseEvents } from '../helpers/sse.js';

export const round = (x: number): number => Math.round(x * 10) / 10;
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One server-sent event. */
export interface StreamEvent {
  event: string;
  data: Record<string, unknown>;
}

/** An event stream read in the background until it ends or is closed. */
export interface Stream {
  events: number;
  /** True once the server ended it (or it failed); false while open or when closed by us. */
  endedByServer: boolean;
  error?: string;
  close(): void;
  /** Resolves when the stream has ended, however. */
  readonly done: Promise<void>;
}

export function openStream(url: string, token: string, onEvent: (e: StreamEvent) => void): Stream {
  const controller = new AbortController();
  let closedByUs = false;
  const stream: Stream = {
    events: 0,
    endedByServer: false,
    close: () => {
      closedByUs = true;
      controller.abort();
    },
    done: Promise.resolve(),
  };
  (stream as { done: Promise<void> }).done = (async () => {
    try {
      const res = await fetch(url, {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
        signal: controller.signal,
      });
      if (res.status !== 200) {
        stream.error = `${url}: status ${res.status}`;
        await res.body?.cancel();
        return;
      }
      for await (const e of sseEvents(res.body)) {
        stream.events++;
        onEvent(e);
      }
      if (!closedByUs) stream.endedByServer = true;
    } catch (error) {
      if (!closedByUs) {
        stream.endedByServer = true;
        stream.error = `${url}: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
  })();
  return stream;
}

/** VmRSS of a process, MB. */
export function rssMb(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

/** A metric of a Prometheus text exposition, in MiB (bytes / 2^20); undefined when absent. */
export const metric = (text: string, name: string): number | undefined => {
  const v = new RegExp(`^${name} ([0-9.e+]+)`, 'm').exec(text)?.[1];
  return v === undefined ? undefined : Number(v) / 2 ** 20;
};

/**
 * The server's V8 inspector (`--inspect=127.0.0.1:0`; its address is on stderr): one call of the
 * DevTools protocol at a time, e.g. `HeapProfiler.collectGarbage` (a full collection).
 */
export async function inspect(
  server: GantryServerProcess,
): Promise<{ call(method: string, params?: object): Promise<unknown>; close(): void }> {
  let url: string | undefined;
  for (let i = 0; i < 100 && url === undefined; i++) {
    url = /Debugger listening on (ws:\/\/\S+)/.exec(server.output().stderr)?.[1];
    if (url === undefined) await sleep(50);
  }
  if (url === undefined) throw new Error(`no inspector address: ${server.output().stderr}`);
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error(`inspector ${url}: cannot connect`)), { once: true });
  });
  let id = 0;
  return {
    close: () => ws.close(),
    call: (method, params) =>
      new Promise<unknown>((resolve, reject) => {
        const mine = ++id;
        const onMessage = (e: { data: unknown }): void => {
          const reply = JSON.parse(String(e.data)) as {
            id?: number;
            error?: { message: string };
            result?: unknown;
          };
          if (reply.id !== mine) return;
          ws.removeEventListener('message', onMessage);
          if (reply.error) reject(new Error(`${method}: ${reply.error.message}`));
          else resolve(reply.result);
        };
        ws.addEventListener('message', onMessage);
        ws.send(JSON.stringify({ id: mine, method, ...(params && { params }) }));
      }),
  };
}

/** The memory samples of the last run, for a closer look (test-artifacts/reliability/load-samples.json). */
export function writeSamples(
  suite: string,
  samples: readonly { t: number; rss: number; heap: number }[],
): void {
  const out = join(fileURLToPath(new URL('../..', import.meta.url)), 'test-artifacts', 'reliability');
  mkdirSync(out, { recursive: true });
  const rows = samples.map((x) => ({ t: round(x.t), rssMb: round(x.rss), heapMb: round(x.heap) }));
  writeFileSync(join(out, `${suite}-samples.json`), `${JSON.stringify(rows)}\n`);
}

/**
 * How many live objects of the server have the prototype `expression` evaluates to (in the
 * server's global scope), through the inspector's `Runtime.queryObjects`, e.g.
 * `process.getBuiltinModule('node:http').ServerResponse.prototype`.
 */
export async function liveObjects(
  inspector: Awaited<ReturnType<typeof inspect>>,
  expression: string,
): Promise<number> {
  const proto = (await inspector.call('Runtime.evaluate', { expression, objectGroup: 'load' })) as {
    result: { objectId?: string };
  };
  if (proto.result.objectId === undefined) throw new Error(`${expression}: not an object`);
  const found = (await inspector.call('Runtime.queryObjects', {
    prototypeObjectId: proto.result.objectId,
    objectGroup: 'load',
  })) as { objects: { description?: string } };
  await inspector.call('Runtime.releaseObjectGroup', { objectGroup: 'load' });
  const n = /^Array\((\d+)\)$/.exec(found.objects.description ?? '')?.[1];
  if (n === undefined) throw new Error(`${expression}: ${found.objects.description ?? 'no count'}`);
  return Number(n);
}
