/**
 * Holds and waiting reasons through the REAL server process (`bin/gantry.js serve`, embedded
 * store) and the REAL CLI, against real distribution registries: `gantry rollback --server` puts
 * a hold on auto-promotion (ledger `hold.created`), `gantry hold list|release --server` read and
 * release it (ledger `hold.released`; a second release is 404 / exit 5), roles are enforced, and
 * a promotion awaiting approval says why in `GET /promotions/{id}` and in `gantry status
 * --server` (human and `--json`). The auto-promotion itself is proven in-process against real
 * registries (auto-promote.test.ts); registry notifications reach it through the inbound route.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
  waitForPromotionState,
} from '../helpers/index.js';
import { expectMatchesSchema } from './json-schemas.js';
import { runCli } from './run-cli.js';

const BOOTSTRAP = `gty_${'5'.repeat(64)}`;

interface View {
  id: string;
  state: string;
  waiting?: { application: string; gate: string; reason: string }[];
}

const makeToken = (server: { url: string }, name: string, roles: string[]): Promise<string> =>
  createApiToken(server, BOOTSTRAP, { name, roles });

const waitFor = (server: { url: string }, token: string, id: string, state: string): Promise<View> =>
  waitForPromotionState<View>(server, token, id, [state]);

async function ledgerTypes(server: { url: string }, token: string, subject: string): Promise<string[]> {
  const r = await api<{ entries: { type: string }[] }>(
    server,
    token,
    'GET',
    `/api/v1/ledger?subject=${encodeURIComponent(subject)}&limit=1000`,
  );
  expect(r.status).toBe(200);
  return r.body.entries.map((e) => e.type);
}

describe('holds and waiting reasons through gantry serve and the CLI (real processes)', () => {
  let dev: RegistryProcess;
  let prod: RegistryProcess;
  let dir = '';
  let server: GantryServerProcess | undefined;
  let ci = '';
  let viewer = '';

  beforeAll(async () => {
    [dev, prod] = await Promise.all([startRegistry(), startRegistry()]);
    for (const version of ['1.0.0', '1.1.0'])
      await pushImage(dev, 'staging/web', makeImage({ seed: `serve-holds-${version}` }), version);
    dir = await mkdtemp(join(tmpdir(), 'gantry-serve-holds-'));
    const config = join(dir, 'gantry.yaml');
    await writeFile(
      config,
      `registries:
  dev: { url: "${dev.url}" }
  prod: { url: "${prod.url}" }
environments:
  staging: { registry: dev, prefix: staging }
  uat: { registry: prod, prefix: uat, from: [staging], auto: true, tags: { floating: [current] } }
  gated:
    registry: prod
    prefix: gated
    from: [staging]
    gates:
      - approval: { count: 1, groups: [ops] }
applications: [web]
`,
    );
    server = await startGantryServer({ config, dataDir: join(dir, 'data'), bootstrapToken: BOOTSTRAP });
    ci = await makeToken(server, 'ci-bot', ['ci']);
    viewer = await makeToken(server, 'val', ['viewer']);
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await Promise.all([dev?.stop(), prod?.stop()]);
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('a promotion awaiting approval says why: the API, and gantry status --server (text and --json)', async () => {
    const s = server as GantryServerProcess;
    const posted = await api<View>(s, ci, 'POST', '/api/v1/promotions', {
      app: 'web',
      version: '1.0.0',
      to: 'gated',
    });
    expect(posted.status, JSON.stringify(posted.body)).toBe(202);
    const view = await waitFor(s, ci, posted.body.id, 'awaiting-approval');
    expect(view.waiting).toEqual([
      { application: 'web', gate: 'approval', reason: '0 of 1 approvals; needs an approver from ops' },
    ]);
    const listed = await api<{ promotions: View[] }>(s, viewer, 'GET', '/api/v1/promotions?env=gated');
    expect(listed.body.promotions[0]?.waiting).toEqual(view.waiting);

    const text = await runCli(['status', '--server', s.url], { env: { GANTRY_TOKEN: viewer } });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('Waiting:');
    expect(text.stdout).toContain(`web 1.0.0 → gated (promotion ${view.id}, requested by ci-bot (`);
    expect(text.stdout).toContain('    approval: 0 of 1 approvals; needs an approver from ops');
    const json = await runCli(['status', '--server', s.url, '--json'], { env: { GANTRY_TOKEN: viewer } });
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as {
      cells: unknown[];
      waiting: { id: string; waiting: unknown }[];
    };
    expect(parsed.cells.length).toBeGreaterThan(0);
    expectMatchesSchema('status', parsed);
    expect(parsed.waiting).toEqual([expect.objectContaining({ id: view.id, waiting: view.waiting })]);
  }, 90_000);

  it('gantry rollback --server holds auto-promotion; gantry hold list and release go through the API', async () => {
    const s = server as GantryServerProcess;
    for (const version of ['1.0.0', '1.1.0']) {
      const r = await api<View>(s, ci, 'POST', '/api/v1/promotions', { app: 'web', version, to: 'uat' });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      await waitFor(s, ci, r.body.id, 'completed');
    }
    const none = await runCli(['hold', 'list', '--server', s.url], { env: { GANTRY_TOKEN: viewer } });
    expect(none).toMatchObject({ code: 0, stdout: 'No holds on auto-promotion.\n' });

    const rolled = await runCli(['rollback', 'web', '--env', 'uat', '--server', s.url], {
      env: { GANTRY_TOKEN: ci },
    });
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(rolled.stdout).toContain('Rolled web in uat back to 1.0.0');
    expect(await ledgerTypes(s, viewer, 'uat: web')).toEqual(['hold.created']);

    const listed = await runCli(['hold', 'list', '--server', s.url], { env: { GANTRY_TOKEN: viewer } });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(
      /^web in uat: rolled back to 1\.0\.0 by ci-bot \(since .*, by ci-bot \(tok_/,
    );
    const holds = await api<{ holds: { application: string; environment: string }[] }>(
      s,
      viewer,
      'GET',
      '/api/v1/holds?env=uat',
    );
    expect(holds.body.holds).toEqual([expect.objectContaining({ application: 'web', environment: 'uat' })]);

    // A viewer may read holds but not release them.
    const refused = await runCli(['hold', 'release', 'web', '--env', 'uat', '--server', s.url], {
      env: { GANTRY_TOKEN: viewer },
    });
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain('[API_FORBIDDEN]');

    const released = await runCli(['hold', 'release', 'web', '--env', 'uat', '--server', s.url, '--json'], {
      env: { GANTRY_TOKEN: ci },
    });
    expect(released.code, released.stderr).toBe(0);
    expect(JSON.parse(released.stdout)).toMatchObject({
      application: 'web',
      environment: 'uat',
      releasedBy: expect.stringMatching(/^ci-bot \(tok_/),
    });
    expect(await ledgerTypes(s, viewer, 'uat: web')).toEqual(['hold.created', 'hold.released']);

    const again = await runCli(['hold', 'release', 'web', '--env', 'uat', '--server', s.url], {
      env: { GANTRY_TOKEN: ci },
    });
    expect(again.code).toBe(5);
    expect(again.stderr).toContain('no hold on auto-promotion of web in uat [API_NOT_FOUND]');
    const all = await runCli(['hold', 'list', '--all', '--json', '--server', s.url], {
      env: { GANTRY_TOKEN: viewer },
    });
    expect((JSON.parse(all.stdout) as { holds: { releasedAt?: string }[] }).holds).toEqual([
      expect.objectContaining({ releasedAt: expect.any(String) }),
    ]);
  }, 120_000);

  it('gantry hold needs a server, and the release route validates its body', async () => {
    const local = await runCli(['hold', 'release', 'web', '--env', 'uat'], {
      env: { GANTRY_TOKEN: ci, GANTRY_SERVER: '' },
    });
    expect(local.code).toBe(2);
    expect(local.stderr).toContain('no server: pass --server URL or set GANTRY_SERVER [USAGE_INVALID]');
    const bad = await api<{ error: { code: string } }>(
      server as GantryServerProcess,
      ci,
      'POST',
      '/api/v1/holds/release',
      {
        app: 'web',
      },
    );
    expect(bad.status).toBe(400);
    for (const [method, path] of [
      ['GET', '/api/v1/holds'],
      ['POST', '/api/v1/holds/release'],
    ] as const) {
      const res = await fetch(`${(server as GantryServerProcess).url}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(401);
      await res.body?.cancel();
    }
    expect(bad.body.error.code).toBe('API_REQUEST_INVALID');
  });
});
