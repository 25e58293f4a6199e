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
import { MediaTypes, digestOf, type Digest } from '../../src/core/index.js';
import type { RegistryClient } from '../../src/registry/index.js';
import {
  makeArtifact,
  makeImage,
  pushImage,
  sendBytes,
  startFakeRegistry,
  startRegistry,
  type FakeRegistry,
  type RegistryProcess,
} from '../helpers/index.js';
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

/**
 * An image pushed to `repository` and WRITERS artifacts referring to it, their blobs already
 * uploaded (so the race is on the index alone), and a client of its own.
 */
async function subjectWithArtifacts(repository: string) {
  const image = makeImage({ seed: `race-${repository}` });
  await pushImage(registry, repository, image, 'v1');
  const subject = { mediaType: image.mediaType, digest: image.digest, size: image.size };
  const artifacts = Array.from({ length: WRITERS }, (_, i) =>
    makeArtifact({ subject, artifactType: 'application/vnd.example.report+json', content: `{"n":${i}}` }),
  );
  const client = clientFor(registry);
  clients.push(client);
  const repo = { registry: registry.host, repository };
  for (const a of artifacts)
    for (const [digest, bytes] of a.blobs)
      await client.blobUpload(repo, digest as Digest, bytes.byteLength, bytes);
  return { image, artifacts, client, repo, digests: artifacts.map((a) => a.digest).sort() };
}

describe('referrers tag index under concurrent writers', () => {
  it(`keeps all ${WRITERS} referrers pushed at once by separate clients`, async () => {
    const { image, artifacts, client, repo, digests } = await subjectWithArtifacts('race/clients');
    const writers = artifacts.map(() => clientFor(registry));
    clients.push(...writers);
    await Promise.all(artifacts.map((a, i) => writers[i]!.referrerPush(repo, a.manifest, a.mediaType)));
    expect(await listed(client, repo.repository, image.digest)).toEqual(digests);
  });

  it(`keeps all ${WRITERS} referrers pushed at once through one client`, async () => {
    const { image, artifacts, client, repo, digests } = await subjectWithArtifacts('race/one');
    await Promise.all(artifacts.map((a) => client.referrerPush(repo, a.manifest, a.mediaType)));
    expect(await listed(client, repo.repository, image.digest)).toEqual(digests);
  });

  it(`keeps all ${WRITERS} referrers pushed at once by separate processes`, async () => {
    const { image, artifacts, client, repo, digests } = await subjectWithArtifacts('race/processes');
    const writers = artifacts.map((a) => startWriter(repo.repository, a.manifest, a.mediaType));
    // All processes have started and built their clients: release them together.
    await Promise.all(writers.map((w) => w.ready));
    for (const w of writers) w.go();
    const results = await Promise.all(writers.map((w) => w.done));
    for (const r of results) expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(results.map((r) => r.digest).sort()).toEqual(digests);
    expect(await listed(client, repo.repository, image.digest)).toEqual(digests);
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

/**
 * A scripted registry without the referrers API whose fallback index another writer overwrites
 * right after each of our PUTs, `rivalWins` times, with an index built from a stale read.
 */
async function contestedRegistry(rivalWins: number) {
  const rival = Buffer.from('{"rival":true}');
  const rivalEntry = { mediaType: MediaTypes.ociManifest, digest: digestOf(rival), size: rival.length };
  const state = { index: undefined as Buffer | undefined, indexPuts: 0, rivalWins };
  const fake: FakeRegistry = await startFakeRegistry((req, res) => {
    const url = req.url ?? '';
    if (url === '/v2/') return sendBytes(res, 200, '{}');
    if (/\/referrers\//.test(url)) return sendBytes(res, 404, '');
    if (/\/manifests\/sha256:/.test(url) && req.method === 'PUT') return sendBytes(res, 201, '');
    if (/\/manifests\/sha256-/.test(url)) {
      if (req.method === 'PUT') {
        state.indexPuts++;
        state.index = req.body;
        if (state.rivalWins-- > 0)
          state.index = Buffer.from(
            JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [rivalEntry] }),
          );
        return sendBytes(res, 201, '');
      }
      if (!state.index)
        return sendBytes(res, 404, '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}');
      return sendBytes(res, 200, state.index, { 'Content-Type': MediaTypes.ociIndex });
    }
    return sendBytes(res, 404, '');
  });
  const image = makeImage({ seed: 'contested' });
  const subject = { mediaType: image.mediaType, digest: image.digest, size: image.size };
  const artifact = makeArtifact({
    subject,
    artifactType: 'application/vnd.example.report+json',
    content: '{}',
  });
  const client = clientFor({ host: fake.host, tls: false });
  const stop = async () => {
    await client.close();
    await fake.stop();
  };
  const listedDigests = () =>
    (
      JSON.parse(state.index?.toString('utf8') ?? '{"manifests":[]}') as { manifests: { digest: string }[] }
    ).manifests
      .map((d) => d.digest)
      .sort();
  return {
    state,
    client,
    artifact,
    rivalEntry,
    stop,
    listedDigests,
    repo: { registry: fake.host, repository: 'r/app' },
  };
}

describe('referrers tag index overwritten by a stale writer', () => {
  it('puts its entry back, keeping the rival one, when it lost twice', async () => {
    const c = await contestedRegistry(2);
    try {
      const pushed = await c.client.referrerPush(c.repo, c.artifact.manifest, c.artifact.mediaType);
      expect(pushed.digest).toBe(c.artifact.digest);
      expect(c.listedDigests()).toEqual([c.artifact.digest, c.rivalEntry.digest].sort());
      expect(c.state.indexPuts).toBe(3);
    } finally {
      await c.stop();
    }
  });

  it('fails with REGISTRY_CONFLICT after a bounded number of rounds when it always loses', async () => {
    const c = await contestedRegistry(Number.POSITIVE_INFINITY);
    try {
      await expect(
        c.client.referrerPush(c.repo, c.artifact.manifest, c.artifact.mediaType),
      ).rejects.toMatchObject({
        code: 'REGISTRY_CONFLICT',
      });
      expect(c.state.indexPuts).toBe(12);
      expect(c.listedDigests()).not.toContain(c.artifact.digest);
    } finally {
      await c.stop();
    }
  });
});
