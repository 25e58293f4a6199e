/**
 * Promotions through the REAL server process (`bin/gantry.js serve`), against real distribution
 * registries: with the embedded store (one replica) and with two replicas on one real PostgreSQL.
 * Proves issue 11's points end to end: a promotion through the API with server-sent events and a
 * ledger entry for every state change; approvals through the API (self-approval refused, the
 * attestation records the approver); `kill -9` in the middle of a copy resumes on restart and
 * completes exactly once; two replicas never run one job twice; ledger tampering is detected.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import {
  api,
  createApiToken,
  makeImage,
  pushImage,
  registryRequest,
  startFaultProxy,
  startGantryServer,
  startRegistry,
  type FaultProxy,
  type GantryServerProcess,
  type RegistryProcess,
  writeDevProdConfig,
  waitForPromotionState,
} from '../helpers/index.js';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { runCli } from './run-cli.js';
import { sseEvents } from '../helpers/sse.js';

const BOOTSTRAP = `gty_${'7'.repeat(64)}`;
const ENDED = ['completed', 'rejected', 'failed', 'cancelled'];

interface View {
  id: string;
  state: string;
  applications: { digest: string; attestation?: string; status: string }[];
  error?: { code: string; message: string };
}

interface LedgerRow {
  seq: number;
  type: string;
  subject: string;
  actor: string;
  payload: Record<string, unknown>;
}

const makeToken = (
  server: { url: string },
  name: string,
  roles: string[],
  groups: string[] = [],
): Promise<string> =>
  createApiToken(server, BOOTSTRAP, { name, roles, ...(groups.length > 0 && { groups }) });

const waitFor = (
  server: { url: string },
  token: string,
  id: string,
  states: readonly string[],
  timeoutMs = 60_000,
): Promise<View> => waitForPromotionState<View>(server, token, id, states, { timeoutMs });

async function ledgerOf(server: { url: string }, token: string, subject: string): Promise<LedgerRow[]> {
  const r = await api<{ entries: LedgerRow[] }>(
    server,
    token,
    'GET',
    `/api/v1/ledger?subject=${encodeURIComponent(subject)}&limit=1000`,
  );
  expect(r.status).toBe(200);
  return r.body.entries;
}

/** Reads the server-sent events of a promotion until `end`; returns every event. */
async function events(
  server: { url: string },
  token: string,
  id: string,
): Promise<{ event: string; data: Record<string, unknown> }[]> {
  const res = await fetch(`${server.url}/api/v1/promotions/${id}/events`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const out: { event: string; data: Record<string, unknown> }[] = [];
  for await (const e of sseEvents(res.body)) out.push(e);
  return out;
}

/** The digests of the referrers of `digest` in `repo` (tag-schema fallback on distribution 2.8). */
async function referrersOf(registry: RegistryProcess, repo: string, digest: string): Promise<string[]> {
  const res = await registryRequest(registry, `/v2/${repo}/manifests/${digest.replace(':', '-')}`, {
    headers: { accept: 'application/vnd.oci.image.index.v1+json' },
  });
  if (res.status === 404) return [];
  const index = JSON.parse(res.body.toString('utf8')) as { manifests: { digest: string }[] };
  return index.manifests.map((m) => m.digest);
}

async function tagDigest(registry: RegistryProcess, repo: string, tag: string): Promise<string | undefined> {
  const res = await registryRequest(registry, `/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: {
      accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json',
    },
  });
  return res.status === 200 ? res.header('docker-content-digest') : undefined;
}

describe('promotions through gantry serve (real process, embedded store)', () => {
  let dev: RegistryProcess;
  let prod: RegistryProcess;
  let proxy: FaultProxy;
  let dir = '';
  let config = '';
  let dataDir = '';
  let server: GantryServerProcess | undefined;
  const digests: Record<string, string> = {};
  /** Set to hold blob uploads to prod (through the proxy) until released. */
  let hold: Promise<void> | undefined;

  beforeAll(async () => {
    [dev, prod] = await Promise.all([startRegistry(), startRegistry()]);
    proxy = await startFaultProxy({
      target: prod.url,
      fault: async (req) => {
        if (hold && req.method === 'PUT' && req.url.includes('/blobs/uploads/')) await hold;
        return 'pass' as const;
      },
    });
    for (const app of ['web', 'api', 'big']) {
      const image = makeImage({
        seed: `serve-promotions-${app}`,
        labels: { 'org.opencontainers.image.version': '1.0.0' },
        layers: [{ size: app === 'big' ? 8 << 20 : 4096, seed: `serve-promotions-${app}-layer` }],
      });
      digests[app] = await pushImage(dev, `dev/${app}`, image, '1.0.0');
    }
    dir = await mkdtemp(join(tmpdir(), 'gantry-serve-promotions-'));
    dataDir = join(dir, 'data');
    config = await writeDevProdConfig(dir, {
      dev: dev.url,
      prod: proxy.url,
      applications: ['web', 'api', 'big'],
      environments: `  gated:
    registry: prod
    prefix: gated
    from: [dev]
    tags: { floating: [current] }
    gates:
      - approval: { count: 1, groups: [ops] }
`,
    });
    server = await startGantryServer({ config, dataDir, bootstrapToken: BOOTSTRAP });
  }, 120_000);

  afterAll(async () => {
    await server?.kill();
    await proxy?.stop();
    await Promise.all([dev?.stop(), prod?.stop()]);
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('promotes through the API: 202, server-sent events to completed, a ledger entry for every state change', async () => {
    const s = server as GantryServerProcess;
    const ci = await makeToken(s, 'ci-bot', ['ci']);
    const posted = await api<View>(s, ci, 'POST', '/api/v1/promotions', {
      app: 'web',
      version: '1.0.0',
      to: 'prod',
    });
    expect(posted.status, JSON.stringify(posted.body)).toBe(202);
    const id = posted.body.id;
    const stream = await events(s, ci, id);
    expect(stream[0]?.event).toBe('state');
    const end = stream.at(-1);
    expect(end?.event).toBe('end');
    expect((end?.data.promotion as View).state).toBe('completed');

    expect(await tagDigest(prod, 'prod/web', '1.0.0')).toBe(digests.web);
    expect(await tagDigest(prod, 'prod/web', 'current')).toBe(digests.web);
    const view = await waitFor(s, ci, id, ['completed']);
    const attestation = view.applications[0]?.attestation;
    expect(attestation).toMatch(/^sha256:/);
    expect(await referrersOf(prod, 'prod/web', digests.web as string)).toContain(attestation);

    const types = (await ledgerOf(s, ci, id)).map((e) => e.type);
    expect(types).toEqual([
      'promotion.requested',
      'promotion.gated',
      'promotion.approved',
      'promotion.copying',
      'promotion.completed',
    ]);
  });

  it('waits for an approval given through the API; the requester cannot approve; the record names the approver', async () => {
    const s = server as GantryServerProcess;
    const alice = await makeToken(s, 'alice', ['ci', 'approver:gated'], ['ops']);
    const bob = await makeToken(s, 'bob', ['approver:gated'], ['ops']);
    const viewer = await makeToken(s, 'carol', ['viewer']);
    const posted = await api<View>(s, alice, 'POST', '/api/v1/promotions', {
      app: 'api',
      version: '1.0.0',
      to: 'gated',
    });
    expect(posted.status, JSON.stringify(posted.body)).toBe(202);
    const id = posted.body.id;
    await waitFor(s, alice, id, ['awaiting-approval']);

    const self = await api<{ error: { code: string } }>(
      s,
      alice,
      'POST',
      `/api/v1/promotions/${id}/approvals`,
      {
        comment: 'mine',
      },
    );
    expect(self.status).toBe(403);
    expect(self.body.error.code).toBe('PROMOTION_SELF_APPROVAL');
    const notApprover = await api(s, viewer, 'POST', `/api/v1/promotions/${id}/approvals`, {});
    expect(notApprover.status).toBe(403);
    expect((await api<View>(s, alice, 'GET', `/api/v1/promotions/${id}`)).body.state).toBe(
      'awaiting-approval',
    );

    const approved = await api(s, bob, 'POST', `/api/v1/promotions/${id}/approvals`, {
      comment: 'looks good',
    });
    expect(approved.status, JSON.stringify(approved.body)).toBe(201);
    const done = await waitFor(s, alice, id, ENDED);
    expect(done.state).toBe('completed');
    const approvedEntry = (await ledgerOf(s, alice, id)).find((e) => e.type === 'promotion.approved');
    expect(JSON.stringify(approvedEntry?.payload)).toContain('bob');
    // The attestation attached to the digest records bob's approval.
    const attestation = done.applications[0]?.attestation as string;
    const manifest = await registryRequest(prod, `/v2/gated/api/manifests/${attestation}`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    const layer = (JSON.parse(manifest.body.toString()) as { layers: { digest: string }[] }).layers[0];
    const envelope = await registryRequest(prod, `/v2/gated/api/blobs/${layer?.digest}`);
    const statement = JSON.parse(
      Buffer.from((JSON.parse(envelope.body.toString()) as { payload: string }).payload, 'base64').toString(),
    ) as { predicate: { approvals: { approver: string }[] } };
    expect(statement.predicate.approvals.map((a) => a.approver)).toEqual(['bob']);
  });

  it('the CLI against the real server: promote waits with progress on stderr, approve by id, status, ledger export verifies offline', async () => {
    const s = server as GantryServerProcess;
    const ci = await makeToken(s, 'ci-cli', ['ci']);
    const ops = await makeToken(s, 'dora', ['approver:gated'], ['ops']);
    const promoted = await runCli(
      ['promote', 'web', '1.0.0', '--to', 'gated', '--server', s.url, '--no-wait', '--json'],
      {
        env: { GANTRY_TOKEN: ci },
      },
    );
    expect(promoted.code, promoted.stderr).toBe(0);
    const id = (JSON.parse(promoted.stdout) as View).id;
    await waitFor(s, ci, id, ['awaiting-approval']);
    const approved = await runCli(['approve', id, '--server', s.url, '--comment', 'ok'], {
      env: { GANTRY_TOKEN: ops },
    });
    expect(approved.code, approved.stderr).toBe(0);
    expect((await waitFor(s, ci, id, ENDED)).state).toBe('completed');

    const waited = await runCli(['promote', 'api', '1.0.0', '--to', 'prod', '--server', s.url, '--json'], {
      env: { GANTRY_TOKEN: ci },
    });
    expect(waited.code, waited.stderr).toBe(0);
    expect(JSON.parse(waited.stdout)).toMatchObject({ application: 'api', status: 'completed' });
    expect(waited.stdout).not.toContain(ci);
    expect(waited.stderr).not.toContain(ci);

    const status = await runCli(['status', '--server', s.url, '--json'], { env: { GANTRY_TOKEN: ci } });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(digests.api);

    const exported = await runCli(['ledger', 'export', '--server', s.url], { env: { GANTRY_TOKEN: ci } });
    expect(exported.code, exported.stderr).toBe(0);
    const file = join(dir, 'ledger.jsonl');
    await writeFile(file, exported.stdout);
    const offline = await runCli(['ledger', 'verify', '--file', file]);
    expect(offline.code, offline.stdout + offline.stderr).toBe(0);
  }, 120_000);

  it('kill -9 in the middle of a copy: the restarted server resumes the job and completes it exactly once', async () => {
    const ci = await makeToken(server as GantryServerProcess, 'ci-kill', ['ci']);
    let release!: () => void;
    hold = new Promise((resolve) => (release = resolve));
    const posted = await api<View>(server as GantryServerProcess, ci, 'POST', '/api/v1/promotions', {
      app: 'big',
      version: '1.0.0',
      to: 'prod',
    });
    expect(posted.status).toBe(202);
    const id = posted.body.id;
    await waitFor(server as GantryServerProcess, ci, id, ['copying']);
    // The copy is under way: a blob upload to prod is being held by the proxy.
    const deadline = Date.now() + 30_000;
    while (!proxy.requests.some((r) => r.method === 'PUT' && r.url.includes('/blobs/uploads/'))) {
      if (Date.now() > deadline) throw new Error('no blob upload reached prod');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await (server as GantryServerProcess).kill();
    hold = undefined;
    release();

    server = await startGantryServer({ config, dataDir, bootstrapToken: BOOTSTRAP });
    const done = await waitFor(server, ci, id, ENDED, 90_000);
    expect(done.state, JSON.stringify(done.error)).toBe('completed');
    expect(await tagDigest(prod, 'prod/big', '1.0.0')).toBe(digests.big);
    const ledger = await ledgerOf(server, ci, id);
    expect(ledger.filter((e) => e.type === 'promotion.copying')).toHaveLength(1);
    expect(ledger.filter((e) => e.type === 'promotion.completed')).toHaveLength(1);
    // Exactly one promotion record for prod on the digest.
    expect(await referrersOf(prod, 'prod/big', digests.big as string)).toHaveLength(1);
  }, 180_000);

  it('finds an edited ledger entry: GET /api/v1/ledger/verify says where', async () => {
    const viewer = await makeToken(server as GantryServerProcess, 'auditor', ['viewer']);
    const before = await api<{ ok: boolean }>(
      server as GantryServerProcess,
      viewer,
      'GET',
      '/api/v1/ledger/verify',
    );
    expect(before.body.ok).toBe(true);
    await (server as GantryServerProcess).stop();
    const store = await openStore({ dataDir });
    try {
      await sql`update ledger set actor = 'mallory' where type = 'promotion.completed'`.execute(store.db);
    } finally {
      await store.close();
    }
    server = await startGantryServer({ config, dataDir, bootstrapToken: BOOTSTRAP });
    const after = await api<{ ok: boolean; firstBadSeq?: number }>(
      server,
      viewer,
      'GET',
      '/api/v1/ledger/verify',
    );
    expect(after.status).toBe(200);
    expect(after.body.ok).toBe(false);
    expect(after.body.firstBadSeq).toBeGreaterThan(0);
  }, 120_000);
});

describe('promotions through two gantry serve replicas on one PostgreSQL', () => {
  let dev: RegistryProcess;
  let prod: RegistryProcess;
  let pg: PostgresCluster;
  let dir = '';
  let replicas: GantryServerProcess[] = [];
  const apps = Array.from({ length: 16 }, (_, i) => `svc-${i}`);

  beforeAll(async () => {
    [dev, prod, pg] = await Promise.all([startRegistry(), startRegistry(), startPostgres()]);
    for (const app of apps)
      await pushImage(
        dev,
        `dev/${app}`,
        makeImage({ seed: `replicas-${app}`, labels: { 'org.opencontainers.image.version': '1.0.0' } }),
        '1.0.0',
      );
    dir = await mkdtemp(join(tmpdir(), 'gantry-replicas-'));
    const config = await writeDevProdConfig(dir, { dev: dev.url, prod: prod.url, applications: apps });
    const databaseUrl = pg.url();
    // One after the other: the first migrates, the second finds the schema current.
    replicas.push(await startGantryServer({ config, databaseUrl, bootstrapToken: BOOTSTRAP }));
    replicas.push(await startGantryServer({ config, databaseUrl, bootstrapToken: BOOTSTRAP }));
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(replicas.map((r) => r.stop()));
    replicas = [];
    await Promise.all([dev?.stop(), prod?.stop(), pg?.stop()]);
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('runs every promotion exactly once across both replicas, and the chain verifies', async () => {
    const [a, b] = replicas as [GantryServerProcess, GantryServerProcess];
    const ci = await makeToken(a, 'ci-replicas', ['ci']);
    const ids = await Promise.all(
      apps.map(async (app, i) => {
        const r = await api<View>(i % 2 === 0 ? a : b, ci, 'POST', '/api/v1/promotions', {
          app,
          version: '1.0.0',
          to: 'prod',
        });
        expect(r.status, JSON.stringify(r.body)).toBe(202);
        return r.body.id;
      }),
    );
    for (const id of ids) expect((await waitFor(b, ci, id, ENDED, 120_000)).state).toBe('completed');
    for (const [i, id] of ids.entries()) {
      const ledger = await ledgerOf(i % 2 === 0 ? b : a, ci, id);
      expect(
        ledger.filter((e) => e.type === 'promotion.copying'),
        id,
      ).toHaveLength(1);
      expect(
        ledger.filter((e) => e.type === 'promotion.completed'),
        id,
      ).toHaveLength(1);
      const app = apps[i] as string;
      const digest = await tagDigest(dev, `dev/${app}`, '1.0.0');
      expect(await tagDigest(prod, `prod/${app}`, 'current')).toBe(digest);
      expect(await referrersOf(prod, `prod/${app}`, digest as string)).toHaveLength(1);
    }
    const verified = await api<{ ok: boolean }>(a, ci, 'GET', '/api/v1/ledger/verify');
    expect(verified.body.ok).toBe(true);
  }, 240_000);
});
