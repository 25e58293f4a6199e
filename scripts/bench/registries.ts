/**
 * The registries a benchmark session starts (real CNCF distribution processes from the test
 * helpers), reading back what a copy produced, and counting blob uploads and mounts in a
 * registry's access log.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ALL_MANIFEST_TYPES,
  registryRequest,
  startRegistry,
  type RegistryProcess,
  type StartRegistryOptions,
} from '../../test/helpers/index.js';

/** Every registry started through it is stopped by {@link RegistryPool.stopAll}. */
export class RegistryPool {
  readonly #live = new Set<RegistryProcess>();

  /** Starts a registry (anonymous, plain HTTP on 127.0.0.1). */
  async start(options: StartRegistryOptions = {}): Promise<RegistryProcess> {
    const registry = await startRegistry(options);
    this.#live.add(registry);
    return registry;
  }

  /**
   * Stops one registry, removes its storage, and flushes the file system (untimed), so the
   * write-back of one run's hundreds of megabytes does not land on the next run, which is the
   * other tool's.
   */
  async stop(registry: RegistryProcess): Promise<void> {
    this.#live.delete(registry);
    await registry.stop();
    execFileSync('sync');
  }

  /** Starts a throw-away registry, runs `fn` with it, and stops it. */
  async with<T>(fn: (registry: RegistryProcess) => Promise<T>): Promise<T> {
    const registry = await this.start();
    try {
      return await fn(registry);
    } finally {
      await this.stop(registry);
    }
  }

  /** Stops every registry still running. */
  async stopAll(): Promise<void> {
    const all = [...this.#live];
    this.#live.clear();
    await Promise.allSettled(all.map((r) => r.stop()));
  }
}

/** The digest the registry serves for `repository:reference` (undefined when there is none). */
export async function manifestDigest(
  registry: RegistryProcess,
  repository: string,
  reference: string,
): Promise<string | undefined> {
  const res = await registryRequest(registry, `/v2/${repository}/manifests/${reference}`, {
    method: 'HEAD',
    headers: { accept: ALL_MANIFEST_TYPES.join(', ') },
  });
  return res.status === 200 ? res.header('docker-content-digest') : undefined;
}

/** Throws unless `repository:reference` at `registry` resolves to `expected`. */
export async function expectDigest(
  registry: RegistryProcess,
  repository: string,
  reference: string,
  expected: string,
  who: string,
): Promise<void> {
  const actual = await manifestDigest(registry, repository, reference);
  if (actual !== expected) {
    throw new Error(
      `${who}: ${registry.host}/${repository}:${reference} is ${actual ?? 'missing'}, expected ${expected}`,
    );
  }
}

/** Blob traffic seen in an access log window. */
export interface BlobTraffic {
  /** Blob uploads completed (`PUT …/blobs/uploads/…?digest=` answered 201). */
  uploaded: number;
  /** Mounts that succeeded (`POST …/blobs/uploads/?mount=…` answered 201). */
  mounted: number;
  /** Mount attempts the registry turned into an upload session (202). */
  mountsRefused: number;
  /** `PATCH` chunk uploads. */
  patches: number;
}

const LINE = /"(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP\/[\d.]+" (\d{3}) /;

async function mark(registry: RegistryProcess): Promise<string> {
  const id = `bench-marker/${randomUUID()}`;
  await registryRequest(registry, `/v2/${id}/tags/list`);
  const deadline = Date.now() + 5_000;
  while (!registry.logs().includes(id)) {
    if (Date.now() > deadline) throw new Error(`the access log of ${registry.host} did not show ${id}`);
    await sleep(10);
  }
  return id;
}

/**
 * Runs `fn` and counts the blob uploads and mounts `registry` logged meanwhile. The registry must
 * have been started with `accessLog: true`; the window is delimited by marker requests.
 */
export async function withBlobTraffic<T>(
  registry: RegistryProcess,
  fn: () => Promise<T>,
): Promise<{ result: T; traffic: BlobTraffic }> {
  const start = await mark(registry);
  const result = await fn();
  const end = await mark(registry);
  const log = registry.logs();
  const from = log.indexOf(start);
  if (from < 0) throw new Error(`the access log window on ${registry.host} outgrew the 64 KiB log tail`);
  const window = log.slice(from, log.indexOf(end));
  const traffic: BlobTraffic = { uploaded: 0, mounted: 0, mountsRefused: 0, patches: 0 };
  for (const line of window.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [, method, path = '', status] = m;
    if (!path.includes('/blobs/uploads/')) continue;
    if (method === 'PUT' && path.includes('digest=') && status === '201') traffic.uploaded++;
    else if (method === 'POST' && path.includes('mount=')) {
      if (status === '201') traffic.mounted++;
      else traffic.mountsRefused++;
    } else if (method === 'PATCH') traffic.patches++;
  }
  return { result, traffic };
}
