/**
 * What runs where, end to end with real processes: two real distribution registries, the real
 * `gantry serve` (embedded store), promotions through its API, deployments reported with the
 * real CLI (`gantry deployed`, `gantry pin --report`) and with a plain HTTP POST (a CD hook).
 * A target running the environment's current digest shows no drift; one running a digest never
 * promoted there shows `unpromoted`, in `GET /api/v1/status` and in `gantry status --server`;
 * after a newer version is promoted, the target left on the old one shows `behind`.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createApiToken,
  makeImage,
  pushImage,
  startGantryServer,
  startRegistry,
  type GantryServerProcess,
  type RegistryProcess,
  writeDevProdConfig,
} from '../helpers/index.js';
import { expectMatchesSchema } from './json-schemas.js';
import { runCli } from './run-cli.js';

const BOOTSTRAP = `gty_${'5'.repeat(64)}`;

interface Target {
  target: string;
  digest: string;
  reportedBy: string;
  drift?: string;
}
interface Cell {
  environment: string;
  application: string;
  state: string;
  digest?: string;
  targets: Target[];
}

describe('what runs where through gantry serve (real processes)', () => {
  let dev: RegistryProcess;
  let prod: RegistryProcess;
  let dir = '';
  let config = '';
  let server: GantryServerProcess | undefined;
  let ci = '';
  let argo = '';
  let viewer = '';
  const v1 = { digest: '' };
  const v2 = { digest: '' };

  const s = (): GantryServerProcess => server as GantryServerProcess;

  const token = (name: string, roles: string[]): Promise<string> =>
    createApiToken(s(), BOOTSTRAP, { name, roles });

  async function promote(version: string): Promise<void> {
    const posted = await api<{ id: string }>(s(), ci, 'POST', '/api/v1/promotions', {
      app: 'web',
      version,
      to: 'prod',
    });
    expect(posted.status, JSON.stringify(posted.body)).toBe(202);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await api<{ state: string }>(s(), ci, 'GET', `/api/v1/promotions/${posted.body.id}`);
      if (r.body.state === 'completed') return;
      if (['failed', 'rejected', 'cancelled'].includes(r.body.state) || Date.now() > deadline)
        throw new Error(`promotion of ${version} is ${r.body.state}: ${JSON.stringify(r.body)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The prod/web cell, read until `ready` accepts it (the status snapshot may lag a moment). */
  async function prodWeb(ready: (c: Cell) => boolean = () => true): Promise<Cell> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await api<{ cells: Cell[] }>(s(), viewer, 'GET', '/api/v1/status');
      expect(r.status).toBe(200);
      const cell = r.body.cells.find((c) => c.environment === 'prod' && c.application === 'web');
      if (cell && ready(cell)) return cell;
      if (Date.now() > deadline) throw new Error(`prod/web never got there: ${JSON.stringify(cell)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  const driftOf = (cell: Cell): Record<string, string> =>
    Object.fromEntries(cell.targets.map((t) => [t.target, t.drift ?? 'none']));

  beforeAll(async () => {
    [dev, prod] = await Promise.all([startRegistry(), startRegistry()]);
    for (const [version, into] of [
      ['1.0.0', v1],
      ['2.0.0', v2],
    ] as const) {
      const image = makeImage({
        seed: `serve-deployments-${version}`,
        labels: { 'org.opencontainers.image.version': version },
        layers: [{ size: 2048, seed: `serve-deployments-layer-${version}` }],
      });
      into.digest = await pushImage(dev, 'dev/web', image, version);
    }
    dir = await mkdtemp(join(tmpdir(), 'gantry-serve-deployments-'));
    config = await writeDevProdConfig(dir, { dev: dev.url, prod: prod.url, applications: ['web'] });
    server = await startGantryServer({ config, dataDir: join(dir, 'data'), bootstrapToken: BOOTSTRAP });
    ci = await token('ci-bot', ['ci']);
    argo = await token('argocd', ['deployer']);
    viewer = await token('dashboard', ['viewer']);
  }, 120_000);

  afterAll(async () => {
    await server?.kill();
    await Promise.all([dev?.stop(), prod?.stop()]);
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('the current digest: no drift', async () => {
    await promote('1.0.0');
    const cli = await runCli(
      ['deployed', '--env', 'prod', '--target', 'cluster-a', `web@${v1.digest}`, '--server', s().url],
      { env: { GANTRY_TOKEN: argo } },
    );
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain(`Reported web@${v1.digest} running on cluster-a in prod.`);
    expect(cli.stdout + cli.stderr).not.toContain(argo);
    const cell = await prodWeb((c) => c.targets.length === 1);
    expect(cell).toMatchObject({ state: 'present', digest: v1.digest });
    expect(cell.targets).toEqual([
      expect.objectContaining({
        target: 'cluster-a',
        digest: v1.digest,
        reportedBy: expect.stringContaining('argocd') as unknown,
      }),
    ]);
    expect(driftOf(cell)).toEqual({ 'cluster-a': 'none' });
  });

  it('a digest never promoted to the environment: unpromoted, in the API and in gantry status --server', async () => {
    // A CD hook reporting with a plain POST (what docs/server.md shows with curl).
    const hook = await api(s(), argo, 'POST', '/api/v1/deployments', {
      env: 'prod',
      app: 'web',
      digest: v2.digest,
      target: 'cluster-b',
    });
    expect(hook.status, JSON.stringify(hook.body)).toBe(201);
    const cell = await prodWeb((c) => c.targets.length === 2);
    expect(driftOf(cell)).toEqual({ 'cluster-a': 'none', 'cluster-b': 'unpromoted' });

    const human = await runCli(['status', '--server', s().url], { env: { GANTRY_TOKEN: viewer } });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('What runs where:');
    expect(human.stdout).toMatch(/web in prod on cluster-a: [0-9a-f]{12} \(reported .* by argocd/);
    expect(human.stdout).toMatch(
      /web in prod on cluster-b: [0-9a-f]{12} .*DRIFT unpromoted: never promoted to prod/,
    );
    expect(human.stdout).toContain('1 target drifts');
    const json = await runCli(['status', '--server', s().url, '--json'], { env: { GANTRY_TOKEN: viewer } });
    expect(json.code, json.stderr).toBe(0);
    const parsed: unknown = JSON.parse(json.stdout);
    expectMatchesSchema('status', parsed);
    const cells = (parsed as { cells: Cell[] }).cells;
    expect(driftOf(cells.find((c) => c.environment === 'prod') as Cell)).toEqual({
      'cluster-a': 'none',
      'cluster-b': 'unpromoted',
    });
  });

  it('after a newer version is promoted: the old target is behind, the one running the new digest is fine', async () => {
    await promote('2.0.0');
    const cell = await prodWeb((c) => c.digest === v2.digest);
    expect(driftOf(cell)).toEqual({ 'cluster-a': 'behind', 'cluster-b': 'none' });
    const human = await runCli(['status', '--server', s().url], { env: { GANTRY_TOKEN: viewer } });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/web in prod on cluster-a: .*DRIFT behind: prod is at 2\.0\.0/);
  });

  it('gantry pin --report reports every pinned application on the target', async () => {
    const manifest = join(dir, 'deployment.yaml');
    const image = `${new URL(prod.url).host}/prod/web:2.0.0`;
    await writeFile(
      manifest,
      `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  template:
    spec:
      containers:
        - name: web
          image: ${image}
`,
    );
    const pinned = await runCli(
      ['pin', '--env', 'prod', manifest, '--config', config, '--report', 'cluster-c', '--server', s().url],
      { env: { GANTRY_TOKEN: argo } },
    );
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(await readFile(manifest, 'utf8')).toContain(`${image}@${v2.digest}`);
    expect(pinned.stdout).toContain('Reported web running on cluster-c in prod.');
    const cell = await prodWeb((c) => c.targets.length === 3);
    expect(driftOf(cell)).toEqual({ 'cluster-a': 'behind', 'cluster-b': 'none', 'cluster-c': 'none' });
    // The history keeps every report; the viewer may read it but not write.
    const history = await api<{ deployments: { target: string }[] }>(
      s(),
      viewer,
      'GET',
      '/api/v1/deployments?env=prod',
    );
    expect(history.body.deployments.map((d) => d.target).sort()).toEqual([
      'cluster-a',
      'cluster-b',
      'cluster-c',
    ]);
    const json = await runCli(
      [
        'deployed',
        '--env',
        'prod',
        '--target',
        'cluster-d',
        `web@${v2.digest}`,
        '--server',
        s().url,
        '--json',
      ],
      { env: { GANTRY_TOKEN: argo } },
    );
    expect(json.code, json.stderr).toBe(0);
    const out: unknown = JSON.parse(json.stdout);
    expectMatchesSchema('deployed', out);
    expect(out).toMatchObject({
      deployments: [{ application: 'web', target: 'cluster-d', digest: v2.digest }],
    });
    const refused = await runCli(
      ['deployed', '--env', 'prod', '--target', 'cluster-e', `web@${v2.digest}`, '--server', s().url],
      { env: { GANTRY_TOKEN: viewer } },
    );
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain('API_FORBIDDEN');
  });
});
