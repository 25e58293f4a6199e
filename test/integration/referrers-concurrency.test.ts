/**
 * Concurrent attaches to one digest on a registry without the referrers API (distribution 2.8):
 * the `sha256-<hex>` fallback index is read, extended and written back with no conditional PUT, so
 * writers race. Every attach, from separate clients and from separate `gantry attach` processes,
 * must stay listed (docs/decisions/0012-referrer-index-writes.md).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Digest } from '../../src/core/index.js';
import type { RegistryClient } from '../../src/registry/index.js';
import { makeArtifact, makeImage, pushImage, startRegistry, type RegistryProcess } from '../helpers/index.js';
import { clientFor } from './clients.js';
import { runCli } from './run-cli.js';

const WRITERS = 8;
const PROCESSES = 3;
const writerScript = fileURLToPath(new URL('./referrer-writer.ts', import.meta.url));

let registry: RegistryProcess;
let dir: string;
const clients: RegistryClient[] = [];

beforeAll(async () => {
  registry = await startRegistry();
  dir = await mkdtemp(join(tmpdir(), 'gantry-referrers-'));
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Starts a writer process; resolves once it is ready, with a function that lets it go. */
function startWriter(repository: string, manifest: Buffer, mediaType: string) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', writerScript, registry.host, repository, mediaType],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<{ code: number; digest: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, digest: stdout.split('\n')[1] ?? '', stderr }));
  });
  const ready = new Promise<void>((resolve) => {
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (stdout.startsWith('ready\n')) resolve();
    });
  });
  child.stdin.write(`${manifest.toString('base64')}\n`);
  return { ready, go: () => child.stdin.end('go\n'), done };
}

async function listed(client: RegistryClient, repository: string, digest: string): Promise<string[]> {
  const result = await client.referrersList({ registry: registry.host, repository }, digest as Digest);
  expect(result.source).toBe('tag-schema');
  return result.descriptors.map((d) => d.digest).sort();
}

describe('referrers tag index under concurrent writers', () => {
  it(`keeps all ${WRITERS} referrers pushed at once by separate clients`, async () => {
    const image = makeImage({ seed: 'race-clients' });
    await pushImage(registry, 'race/clients', image, 'v1');
    const subject = { mediaType: image.mediaType, digest: image.digest, size: image.size };
    const artifacts = Array.from({ length: WRITERS }, (_, i) =>
      makeArtifact({ subject, artifactType: 'application/vnd.example.report+json', content: `{"n":${i}}` }),
    );
    const repo = { registry: registry.host, repository: 'race/clients' };
    for (let i = 0; i < WRITERS; i++) clients.push(clientFor(registry));
    // Blobs first, so that the race is on the index alone.
    for (const a of artifacts)
      for (const [digest, bytes] of a.blobs)
        await clients[0]!.blobUpload(repo, digest as Digest, bytes.byteLength, bytes);
    await Promise.all(artifacts.map((a, i) => clients[i]!.referrerPush(repo, a.manifest, a.mediaType)));
    expect(await listed(clients[0]!, 'race/clients', image.digest)).toEqual(
      artifacts.map((a) => a.digest).sort(),
    );
  });

  it(`keeps all ${WRITERS} referrers pushed at once through one client`, async () => {
    const image = makeImage({ seed: 'race-one-client' });
    await pushImage(registry, 'race/one', image, 'v1');
    const subject = { mediaType: image.mediaType, digest: image.digest, size: image.size };
    const artifacts = Array.from({ length: WRITERS }, (_, i) =>
      makeArtifact({ subject, artifactType: 'application/vnd.example.report+json', content: `{"one":${i}}` }),
    );
    const client = clientFor(registry);
    clients.push(client);
    const repo = { registry: registry.host, repository: 'race/one' };
    for (const a of artifacts)
      for (const [digest, bytes] of a.blobs)
        await client.blobUpload(repo, digest as Digest, bytes.byteLength, bytes);
    await Promise.all(artifacts.map((a) => client.referrerPush(repo, a.manifest, a.mediaType)));
    expect(await listed(client, 'race/one', image.digest)).toEqual(artifacts.map((a) => a.digest).sort());
  });

  it(`keeps all ${WRITERS} referrers pushed at once by separate processes`, async () => {
    const image = makeImage({ seed: 'race-processes' });
    await pushImage(registry, 'race/processes', image, 'v1');
    const subject = { mediaType: image.mediaType, digest: image.digest, size: image.size };
    const artifacts = Array.from({ length: WRITERS }, (_, i) =>
      makeArtifact({ subject, artifactType: 'application/vnd.example.report+json', content: `{"p":${i}}` }),
    );
    const client = clientFor(registry);
    clients.push(client);
    const repo = { registry: registry.host, repository: 'race/processes' };
    for (const a of artifacts)
      for (const [digest, bytes] of a.blobs)
        await client.blobUpload(repo, digest as Digest, bytes.byteLength, bytes);
    const writers = artifacts.map((a) => startWriter('race/processes', a.manifest, a.mediaType));
    // All processes have started and built their clients: release them together.
    await Promise.all(writers.map((w) => w.ready));
    for (const w of writers) w.go();
    const results = await Promise.all(writers.map((w) => w.done));
    for (const r of results) expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(results.map((r) => r.digest).sort()).toEqual(artifacts.map((a) => a.digest).sort());
    expect(await listed(client, 'race/processes', image.digest)).toEqual(
      artifacts.map((a) => a.digest).sort(),
    );
  });

  it(`keeps every report attached at once by ${PROCESSES} gantry processes`, async () => {
    const image = makeImage({ seed: 'race-cli' });
    await pushImage(registry, 'race/cli', image, 'v1');
    const authfile = join(dir, 'auth.json');
    await writeFile(authfile, '{}');
    const files = await Promise.all(
      Array.from({ length: PROCESSES }, async (_, i) => {
        const file = join(dir, `report-${i}.json`);
        await writeFile(file, JSON.stringify({ process: i }));
        return file;
      }),
    );
    const runs = await Promise.all(
      files.map((file) =>
        runCli([
          'attach',
          `${registry.host}/race/cli:v1`,
          file,
          '--tls-verify=false',
          '--authfile',
          authfile,
          '--artifact-type',
          'application/vnd.example.report+json',
          '--json',
        ]),
      ),
    );
    for (const run of runs) {
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
    }
    const pushed = runs.map((r) => (JSON.parse(r.stdout) as { digest: string }).digest).sort();
    const client = clientFor(registry);
    clients.push(client);
    expect(await listed(client, 'race/cli', image.digest)).toEqual(pushed);
  });
});
