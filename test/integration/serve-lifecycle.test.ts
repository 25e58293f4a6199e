/**
 * Lifecycle jobs through two REAL `gantry serve` replicas on one real PostgreSQL, against real
 * distribution registries (issue 14): a `sync:` job scheduled every minute mirrors a base image
 * from the prod registry into the dev registry, and each minute's slot runs exactly once across
 * both replicas; a gc run asked for through the API deletes only the unpromoted candidate and
 * keeps the promoted one and the one a deployment report says runs somewhere.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  makeImage,
  pushImage,
  registryRequest,
  startGantryServer,
  startRegistry,
  type GantryServerProcess,
  type RegistryProcess,
} from '../helpers/index.js';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';

const BOOTSTRAP = `gty_${'5'.repeat(64)}`;

interface Run {
  id: string;
  kind: string;
  name: string;
  trigger: string;
  state: string;
  scheduledFor?: string;
  totals?: Record<string, number>;
  report?: { items: { action: string; repository: string; digest: string }[]; kept: Record<string, number> };
  error?: { code: string; message: string };
}

async function digestOf(registry: RegistryProcess, repo: string, tag: string): Promise<string | undefined> {
  const res = await registryRequest(registry, `/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: {
      accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json',
    },
  });
  return res.status === 200 ? res.header('docker-content-digest') : undefined;
}

async function manifestExists(registry: RegistryProcess, repo: string, digest: string): Promise<boolean> {
  const res = await registryRequest(registry, `/v2/${repo}/manifests/${digest}`, {
    method: 'HEAD',
    headers: {
      accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json',
    },
  });
  return res.status === 200;
}

describe('lifecycle jobs through two gantry serve replicas on PostgreSQL', () => {
  let prod: RegistryProcess;
  let dev: RegistryProcess;
  let pg: PostgresCluster;
  let dir = '';
  const replicas: GantryServerProcess[] = [];
  const digests: Record<string, string> = {};

  beforeAll(async () => {
    [prod, dev, pg] = await Promise.all([
      startRegistry(),
      startRegistry({ extraConfig: { storage: { delete: { enabled: true } } } }),
      startPostgres(),
    ]);
    digests.base = await pushImage(
      prod,
      'base/node',
      makeImage({ seed: 'serve-lifecycle-base', labels: { 'org.opencontainers.image.version': '22.1' } }),
      '22.1',
    );
    for (const version of ['0.8.0', '0.9.0', '1.0.0']) {
      digests[version] = await pushImage(
        dev,
        'dev/web',
        makeImage({
          seed: `serve-lifecycle-web-${version}`,
          labels: { 'org.opencontainers.image.version': version },
        }),
        version,
      );
    }
    dir = await mkdtemp(join(tmpdir(), 'gantry-serve-lifecycle-'));
    const config = join(dir, 'gantry.yaml');
    await writeFile(
      config,
      `registries:
  dev: { url: "${dev.url}" }
  prod: { url: "${prod.url}" }
environments:
  dev:
    registry: dev
    prefix: dev
    retention: { keep: 0, olderThan: 1s }
  staging:
    registry: dev
    prefix: staging
    from: [dev]
    tags: { floating: [current] }
applications: [web]
sync:
  base:
    from: { registry: prod, repositories: [base/*] }
    to: [{ registry: dev, prefix: mirror }]
    schedule: "* * * * *"
`,
    );
    const databaseUrl = pg.url();
    replicas.push(await startGantryServer({ config, databaseUrl, bootstrapToken: BOOTSTRAP }));
    replicas.push(await startGantryServer({ config, databaseUrl, bootstrapToken: BOOTSTRAP }));
  }, 180_000);

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await Promise.all([prod?.stop(), dev?.stop(), pg?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs the scheduled sync once per slot across both replicas, mirroring the base image by digest', async () => {
    const [a, b] = replicas as [GantryServerProcess, GantryServerProcess];
    const schedules = await api<{ schedules: { kind: string; name: string; next?: string }[] }>(
      a,
      BOOTSTRAP,
      'GET',
      '/api/v1/lifecycle/schedules',
    );
    expect(schedules.status, JSON.stringify(schedules.body)).toBe(200);
    expect(JSON.stringify(schedules.body)).toContain('"sync"');
    // The first slot is the next minute; each replica looks every 30 s.
    const deadline = Date.now() + 150_000;
    let runs: Run[] = [];
    for (;;) {
      const r = await api<{ runs: Run[] }>(b, BOOTSTRAP, 'GET', '/api/v1/lifecycle/runs?kind=sync');
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      runs = r.body.runs.filter((x) => x.trigger === 'schedule');
      if (runs.some((x) => x.state === 'succeeded')) break;
      if (Date.now() > deadline) throw new Error(`no scheduled sync succeeded: ${JSON.stringify(r.body)}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    // One run per slot, whichever replica created and ran it.
    const slots = runs.map((x) => x.scheduledFor);
    expect(new Set(slots).size).toBe(slots.length);
    expect(await digestOf(dev, 'mirror/base/node', '22.1')).toBe(digests.base);
    const ledger = await api<{ entries: { type: string; subject: string; actor: string }[] }>(
      a,
      BOOTSTRAP,
      'GET',
      '/api/v1/ledger?type=sync.*&limit=1000',
    );
    const completed = ledger.body.entries.filter((e) => e.type === 'sync.completed');
    const succeeded = (
      await api<{ runs: Run[] }>(a, BOOTSTRAP, 'GET', '/api/v1/lifecycle/runs?kind=sync')
    ).body.runs.filter((x) => x.state === 'succeeded' && x.trigger === 'schedule');
    expect(completed.length).toBe(succeeded.length);
    expect(ledger.body.entries.filter((e) => e.type === 'sync.copied').map((e) => e.actor)).toEqual([
      'gantry schedule',
    ]);
  }, 200_000);

  it('a gc run through the API deletes only the unpromoted candidate: the promoted and the deployed ones stay', async () => {
    const [a, b] = replicas as [GantryServerProcess, GantryServerProcess];
    const promoted = await api<{ id: string }>(a, BOOTSTRAP, 'POST', '/api/v1/promotions', {
      app: 'web',
      version: '1.0.0',
      to: 'staging',
    });
    expect(promoted.status, JSON.stringify(promoted.body)).toBe(202);
    for (let state = ''; state !== 'completed';) {
      const r = await api<{ state: string }>(a, BOOTSTRAP, 'GET', `/api/v1/promotions/${promoted.body.id}`);
      state = r.body.state;
      expect(['failed', 'rejected', 'cancelled']).not.toContain(state);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const deployed = await api(a, BOOTSTRAP, 'POST', '/api/v1/deployments', {
      env: 'dev',
      app: 'web',
      digest: digests['0.8.0'],
      target: 'cluster-a',
    });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);

    // A dry run first: it plans the one deletion and deletes nothing.
    const dry = await api<Run>(b, BOOTSTRAP, 'POST', '/api/v1/lifecycle/runs', {
      kind: 'gc',
      name: 'dev',
      dryRun: true,
    });
    expect(dry.status, JSON.stringify(dry.body)).toBe(202);
    const planned = await finished(a, dry.body.id);
    expect(planned.state, JSON.stringify(planned)).toBe('succeeded');
    expect(planned.report?.items.map((i) => i.digest)).toEqual([digests['0.9.0']]);
    expect(await manifestExists(dev, 'dev/web', digests['0.9.0'] as string)).toBe(true);

    const run = await api<Run>(b, BOOTSTRAP, 'POST', '/api/v1/lifecycle/runs', { kind: 'gc', name: 'dev' });
    expect(run.status, JSON.stringify(run.body)).toBe(202);
    const done = await finished(a, run.body.id);
    expect(done.state, JSON.stringify(done)).toBe('succeeded');
    expect(done.report?.items.filter((i) => i.action === 'delete').map((i) => i.digest)).toEqual([
      digests['0.9.0'],
    ]);
    expect(done.report?.kept).toMatchObject({ promoted: 1, deployed: 1 });
    expect(await manifestExists(dev, 'dev/web', digests['0.9.0'] as string)).toBe(false);
    expect(await manifestExists(dev, 'dev/web', digests['1.0.0'] as string)).toBe(true);
    expect(await manifestExists(dev, 'dev/web', digests['0.8.0'] as string)).toBe(true);
    const ledger = await api<{ entries: { type: string; subject: string }[] }>(
      a,
      BOOTSTRAP,
      'GET',
      '/api/v1/ledger?type=gc.*&limit=1000',
    );
    expect(ledger.body.entries.map((e) => e.type)).toEqual(['gc.deleted', 'gc.completed']);
    expect(ledger.body.entries[0]?.subject).toContain(digests['0.9.0']);
  }, 120_000);

  it('refuses gc of the protected last stage', async () => {
    const [a] = replicas as [GantryServerProcess, GantryServerProcess];
    const run = await api<Run>(a, BOOTSTRAP, 'POST', '/api/v1/lifecycle/runs', {
      kind: 'gc',
      name: 'staging',
    });
    expect(run.status, JSON.stringify(run.body)).toBe(202);
    const done = await finished(a, run.body.id);
    expect(done.state).toBe('failed');
    expect(done.error?.code).toBe('GC_PROTECTED');
  }, 60_000);
});

async function finished(server: GantryServerProcess, id: string): Promise<Run> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await api<Run>(server, BOOTSTRAP, 'GET', `/api/v1/lifecycle/runs/${id}`);
    if (r.status === 200 && (r.body.state === 'succeeded' || r.body.state === 'failed')) return r.body;
    if (Date.now() > deadline) throw new Error(`run ${id} is ${JSON.stringify(r.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
