/**
 * The world of the crash suite (issue 15, "Crashes"): a real dev and prod registry, prod behind a
 * fault proxy whose tap sees (and may hold) every request, a gantry.yaml, and the API calls and
 * registry reads the rounds need. Everything is a real process: `gantry serve` (bin/gantry.js),
 * distribution registries, PostgreSQL.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROMOTION_ARTIFACT_TYPE } from '../../src/promotion/attestation.js';
import {
  api,
  createApiToken,
  makeImage,
  pushImage,
  registryRequest,
  startFaultProxy,
  startRegistry,
  type FaultProxy,
  type FaultRequest,
  type RegistryProcess,
} from '../helpers/index.js';
import { sseEvents } from '../helpers/sse.js';

export const BOOTSTRAP = `gty_${'c'.repeat(64)}`;
export const TERMINAL = ['completed', 'rejected', 'failed', 'cancelled'];
/** The applications the rounds promote and release (`web` carries the immutable tag). */
export const APPS = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7'];
/** The immutable tag put in prod before the rounds, at a digest no promotion may replace. */
export const PINNED = { app: 'web', version: '0.9.0' };

export interface View {
  id: string;
  kind: 'promotion' | 'release';
  state: string;
  applications: { application?: string; digest?: string; attestation?: string; status?: string }[];
  error?: { code: string; message: string };
}

export interface Server {
  readonly url: string;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What a request to prod looks like to the tap. */
export interface Seen {
  readonly kind: 'upload' | 'tag' | 'referrers' | 'other';
  /** The repository (`team/a0`). */
  readonly repo: string;
  readonly req: FaultRequest;
}

export interface CrashWorld {
  readonly dev: RegistryProcess;
  readonly prod: RegistryProcess;
  readonly proxy: FaultProxy;
  readonly dir: string;
  readonly config: string;
  /** Called (and awaited) for every request to prod before it is forwarded; `'reset'` drops it. */
  tap: (seen: Seen) => void | 'reset' | Promise<void | 'reset'>;
  stop(): Promise<void>;
}

function classify(req: FaultRequest): Seen {
  const m = /^\/v2\/(.+?)\/(blobs\/uploads|manifests)\/?([^?]*)/.exec(req.url);
  const repo = m?.[1] ?? '';
  if (m?.[2] === 'blobs/uploads') return { kind: 'upload', repo, req };
  if (m?.[2] === 'manifests' && req.method === 'PUT') {
    const ref = m[3] ?? '';
    if (ref.startsWith('sha256-')) return { kind: 'referrers', repo, req };
    if (!ref.startsWith('sha256:')) return { kind: 'tag', repo, req };
  }
  return { kind: 'other', repo, req };
}

export async function startCrashWorld(): Promise<CrashWorld> {
  const [dev, prod, dir] = await Promise.all([
    startRegistry(),
    startRegistry(),
    mkdtemp(join(tmpdir(), 'gantry-crash-')),
  ]);
  const world: { tap: CrashWorld['tap'] } = { tap: () => undefined };
  const proxy = await startFaultProxy({
    target: prod.url,
    fault: async (req): Promise<'pass' | 'reset'> => {
      const seen = classify(req);
      // A blob upload takes a little while, as over a real network: kills land mid-copy.
      if (seen.kind === 'upload') await sleep(25);
      return (await world.tap(seen)) ?? 'pass';
    },
  });
  const config = join(dir, 'gantry.yaml');
  await writeFile(
    config,
    `registries:
  dev: { url: "${dev.url}" }
  prod: { url: "${proxy.url}" }
environments:
  dev: { registry: dev, prefix: team }
  prod:
    registry: prod
    prefix: team
    from: [dev]
    tags: { immutable: ['^\\d+\\.\\d+\\.\\d+$'], floating: [current] }
  gated:
    registry: prod
    prefix: gated
    from: [dev]
    tags: { floating: [current] }
    gates:
      - approval: { count: 1, groups: [ops] }
applications: [${[PINNED.app, ...APPS].join(', ')}]
`,
  );
  return Object.assign(world, {
    dev,
    prod,
    proxy,
    dir,
    config,
    async stop() {
      await proxy.stop();
      await Promise.all([dev.stop(), prod.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  });
}

/** Pushes a fresh image (two layers of `kb` KiB each) as `team/APP:VERSION` into `registry`. */
export function pushFresh(
  registry: RegistryProcess,
  repo: string,
  version: string,
  seed: string,
  kb = 96,
): Promise<string> {
  return pushImage(
    registry,
    repo,
    makeImage({
      seed,
      labels: { 'org.opencontainers.image.version': version },
      layers: [
        { size: kb << 10, seed: `${seed}:l0` },
        { size: kb << 9, seed: `${seed}:l1` },
      ],
    }),
    version,
  );
}

/** The digest `repo:tag` points at in the registry (HEAD, no proxy), or undefined. */
export async function tagDigest(
  registry: RegistryProcess,
  repo: string,
  tag: string,
): Promise<string | undefined> {
  const res = await registryRequest(registry, `/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: {
      accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json',
    },
  });
  return res.status === 200 ? res.header('docker-content-digest') : undefined;
}

/** The promotion records on `digest` in `repo` (tag-schema referrers index of distribution 2.8). */
export async function recordsOf(registry: RegistryProcess, repo: string, digest: string): Promise<number> {
  return (await recordList(registry, repo, digest)).length;
}

/** The index entries of the promotion records on `digest` in `repo` (for failure messages). */
export async function recordList(
  registry: RegistryProcess,
  repo: string,
  digest: string,
): Promise<{ digest: string; annotations?: Record<string, string> }[]> {
  const res = await registryRequest(registry, `/v2/${repo}/manifests/${digest.replace(':', '-')}`, {
    headers: { accept: 'application/vnd.oci.image.index.v1+json' },
  });
  if (res.status === 404) return [];
  const index = JSON.parse(res.body.toString('utf8')) as {
    manifests: { digest: string; artifactType?: string; annotations?: Record<string, string> }[];
  };
  return index.manifests.filter((m) => m.artifactType === PROMOTION_ARTIFACT_TYPE);
}

export const makeToken = (
  server: Server,
  name: string,
  roles: string[],
  groups: string[] = [],
): Promise<string> =>
  createApiToken(server, BOOTSTRAP, { name, roles, ...(groups.length > 0 && { groups }) });

/** Waits until every promotion of `ids` is in one of `states` (default terminal); returns their views. */
export async function waitAll(
  server: Server,
  token: string,
  ids: readonly string[],
  states: readonly string[] = TERMINAL,
  timeoutMs = 90_000,
): Promise<Map<string, View>> {
  const deadline = Date.now() + timeoutMs;
  const out = new Map<string, View>();
  for (const id of ids) {
    for (;;) {
      const r = await api<View>(server, token, 'GET', `/api/v1/promotions/${id}`);
      if (r.status === 200 && states.includes(r.body.state)) {
        out.set(id, r.body);
        break;
      }
      if (Date.now() > deadline)
        throw new Error(`promotion ${id} is ${r.body.state} (${r.status}), not ${states.join('|')}`);
      await sleep(100);
    }
  }
  return out;
}

/** The ledger entry types of one subject, oldest first. */
export async function ledgerTypes(server: Server, token: string, subject: string): Promise<string[]> {
  const r = await api<{ entries: { type: string }[] }>(
    server,
    token,
    'GET',
    `/api/v1/ledger?subject=${encodeURIComponent(subject)}&limit=1000&order=asc`,
  );
  if (r.status !== 200) throw new Error(`ledger of ${subject}: ${r.status}`);
  return r.body.entries.map((e) => e.type);
}

/** `GET /api/v1/ledger/verify`. */
export async function verifyLedger(
  server: Server,
  token: string,
): Promise<{ ok: boolean; entries: number; reason?: string }> {
  const r = await api<{ ok: boolean; entries: number; reason?: string }>(
    server,
    token,
    'GET',
    '/api/v1/ledger/verify',
  );
  if (r.status !== 200) throw new Error(`ledger verify: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Reads a promotion's server-sent events, calling `on` with each state, until the stream ends. */
export async function followStates(
  server: Server,
  token: string,
  id: string,
  on: (state: string) => void,
): Promise<void> {
  try {
    const res = await fetch(`${server.url}/api/v1/promotions/${id}/events`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    });
    for await (const { event, data } of sseEvents(res.body)) {
      if (event !== 'state' && event !== 'end') continue;
      const { state, promotion } = data as { state?: string; promotion?: { state: string } };
      on(state ?? promotion?.state ?? '');
    }
  } catch {
    // the server was killed: the stream ends
  }
}
