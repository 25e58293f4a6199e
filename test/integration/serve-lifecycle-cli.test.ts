/**
 * `gantry gc --server` and `gantry sync --server` against a REAL `gantry serve` (PGlite) and real
 * distribution registries: the CLI asks the server for the run, follows it until it ends and
 * prints what the local command prints (the plan, the deletions, the JSON report), with the same
 * exit codes; the flags that only change a local run are refused, and a token without admin, an
 * unknown environment and a run that outlasts `--timeout` each end with their documented code.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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
import { expectMatchesSchema } from './json-schemas.js';
import { runCli } from './run-cli.js';

const ADMIN = `gty_${'7'.repeat(64)}`;
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';

async function digestOf(registry: RegistryProcess, repo: string, ref: string): Promise<string | undefined> {
  const res = await registryRequest(registry, `/v2/${repo}/manifests/${ref}`, {
    method: 'HEAD',
    headers: { accept: ACCEPT },
  });
  return res.status === 200 ? res.header('docker-content-digest') : undefined;
}

describe('gantry gc and sync through a server', () => {
  let dev: RegistryProcess;
  let mirror: RegistryProcess;
  let server: GantryServerProcess;
  let dir = '';
  let config = '';
  let viewer = '';
  const digests: Record<string, string> = {};
  /** `gantry ARGS… --server URL` with the admin token (or `token`). */
  const remote = (args: string[], token = ADMIN) =>
    runCli([...args, '--server', server.url], { env: { GANTRY_TOKEN: token } });
  /** The local form of the same command, on the same gantry.yaml. */
  const local = (args: string[]) => runCli([...args, '--config', config], { env: { GANTRY_SERVER: '' } });

  beforeAll(async () => {
    [dev, mirror] = await Promise.all([
      startRegistry(),
      startRegistry({ extraConfig: { storage: { delete: { enabled: false } } } }),
    ]);
    for (const version of ['0.8.0', '0.9.0', '1.0.0'])
      digests[version] = await pushImage(
        dev,
        'dev/web',
        makeImage({
          seed: `lifecycle-cli-web-${version}`,
          labels: { 'org.opencontainers.image.version': version },
        }),
        version,
      );
    // The mirror registry refuses deletes: gc of \`frozen\` stops early.
    digests.frozen = await pushImage(
      mirror,
      'frozen/web',
      makeImage({ seed: 'lifecycle-cli-frozen', labels: { 'org.opencontainers.image.version': '0.7.0' } }),
      '0.7.0',
    );
    digests.base = await pushImage(dev, 'base/node', makeImage({ seed: 'lifecycle-cli-base' }), '22.1');
    dir = await mkdtemp(join(tmpdir(), 'gantry-lifecycle-cli-'));
    config = join(dir, 'gantry.yaml');
    await writeFile(
      config,
      `registries:
  dev: { url: "${dev.url}" }
  mirror: { url: "${mirror.url}" }
environments:
  dev:
    registry: dev
    prefix: dev
    retention: { keep: 0, olderThan: 1s }
  frozen:
    registry: mirror
    prefix: frozen
    protected: false
    retention: { keep: 0, olderThan: 1s }
  staging:
    registry: dev
    prefix: staging
    from: [dev]
    tags: { floating: [current] }
applications: [web]
sync:
  base:
    from: { registry: dev, repositories: [base/*] }
    to: [{ registry: mirror, prefix: mirror }]
`,
    );
    // 1.0.0 is promoted (kept by gc); 0.8.0 and 0.9.0 never were.
    const promoted = await local(['promote', 'web', '1.0.0', '--to', 'staging']);
    expect(promoted.code, promoted.stderr).toBe(0);
    server = await startGantryServer({ config, dataDir: join(dir, 'data'), bootstrapToken: ADMIN });
    const token = await api<{ token: string }>(server, ADMIN, 'POST', '/api/v1/tokens', {
      name: 'viewer',
      roles: ['viewer'],
    });
    expect(token.status, JSON.stringify(token.body)).toBe(201);
    viewer = token.body.token;
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await Promise.all([dev?.stop(), mirror?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gc without --yes prints the plan the local command prints and deletes nothing', async () => {
    const [r, l] = await Promise.all([remote(['gc', '--env', 'dev']), local(['gc', '--env', 'dev'])]);
    expect(r.code, r.stderr).toBe(0);
    expect(l.code, l.stderr).toBe(0);
    expect(r.stdout).toBe(l.stdout);
    expect(r.stdout).toContain('gc dev: would delete 2 manifests (dry run');
    expect(r.stdout).toContain(digests['0.8.0']);
    expect(r.stdout).toContain(digests['0.9.0']);
    expect(r.stderr).toMatch(/gc dev: run run_[0-9a-f]{32} succeeded/);
    for (const version of ['0.8.0', '0.9.0', '1.0.0'])
      expect(await digestOf(dev, 'dev/web', digests[version] as string)).toBe(digests[version]);
  }, 30_000);

  it('gc --json prints the report in the local JSON shape', async () => {
    const [r, l] = await Promise.all([
      remote(['gc', '--env', 'dev', '--json']),
      local(['gc', '--env', 'dev', '--json']),
    ]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stderr).toBe('');
    const remoteReport = JSON.parse(r.stdout) as Record<string, unknown>;
    const localReport = JSON.parse(l.stdout) as Record<string, unknown>;
    expectMatchesSchema('gc', remoteReport);
    expect(Object.keys(remoteReport).sort()).toEqual(Object.keys(localReport).sort());
    const { startedAt: _a, finishedAt: _b, ...same } = localReport;
    expect(remoteReport).toMatchObject(same);
  }, 30_000);

  it('refuses the flags that only change a local run, naming them', async () => {
    const keep = await remote(['gc', '--env', 'dev', '--keep', '3']);
    expect(keep.code).toBe(2);
    expect(keep.stderr).toMatch(/^gantry: --keep has no effect against a server.*\[USAGE_INVALID\]\n$/);
    const olderThan = await remote(['gc', '--env', 'dev', '--older-than', '1d', '--config', config]);
    expect(olderThan.code).toBe(2);
    expect(olderThan.stderr).toContain('--config, --older-than have no effect against a server');
    const timeout = await local(['gc', '--env', 'dev', '--timeout', '1m']);
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toContain("--timeout waits for a server's run");
    // A server whose gantry.yaml has no sync jobs: sync without names is refused, as locally.
    const noJobs = await stubServer((_, res) =>
      answer(res, {
        jobs: [{ kind: 'gc', name: 'dev', schedule: null, nextRunAt: null, protected: false, lastRun: null }],
      }),
    );
    try {
      const none = await runCli(['sync', '--server', noJobs.url], { env: { GANTRY_TOKEN: ADMIN } });
      expect(none.code, none.stderr).toBe(2);
      expect(none.stderr).toMatch(/^gantry: the configuration of .* has no sync jobs .*\[USAGE_INVALID\]\n$/);
    } finally {
      await noJobs.close();
    }
  }, 30_000);

  it('a token without admin, an unknown environment and a protected one end with their exit codes', async () => {
    const [forbidden, unknown, protectedEnv] = await Promise.all([
      remote(['gc', '--env', 'dev', '--yes'], viewer),
      remote(['gc', '--env', 'nope']),
      remote(['gc', '--env', 'staging', '--yes', '--json']),
    ]);
    expect(forbidden.code, forbidden.stderr).toBe(6);
    expect(forbidden.stderr).toMatch(/^gantry: .*\[API_FORBIDDEN\]\n$/);
    expect(unknown.code, unknown.stderr).toBe(5);
    expect(unknown.stderr).toMatch(/^gantry: .*no environment "nope".*\[API_NOT_FOUND\]\n$/);
    expect(protectedEnv.code, protectedEnv.stdout).toBe(3);
    expectMatchesSchema('error', JSON.parse(protectedEnv.stdout));
    expect(JSON.parse(protectedEnv.stdout)).toMatchObject({ error: { code: 'GC_PROTECTED' } });
    expect(await digestOf(dev, 'dev/web', digests['0.9.0'] as string)).toBe(digests['0.9.0']);
  }, 30_000);

  it('a run that stopped early prints its report and the error, with the exit code of its error', async () => {
    const [r, l] = await Promise.all([
      remote(['gc', '--env', 'frozen', '--yes']),
      local(['gc', '--env', 'frozen', '--yes']),
    ]);
    expect(l.code, l.stdout + l.stderr).toBe(3);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe(l.stdout);
    expect(r.stdout).toContain('gc frozen: deleted 0 of 1 manifests');
    expect(r.stderr).toMatch(/\[REGISTRY_DELETE_REFUSED\]\n$/);
    expect(await digestOf(mirror, 'frozen/web', digests.frozen as string)).toBe(digests.frozen);
  }, 30_000);

  it('gc --yes deletes the unpromoted images on the server and prints each deletion', async () => {
    const r = await remote(['gc', '--env', 'dev', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('deleted ')).sort()).toEqual(
      [digests['0.8.0'] as string, digests['0.9.0'] as string]
        .sort()
        .map((d) => expect.stringContaining(`/dev/web@${d}`) as unknown),
    );
    expect(r.stdout).toContain('gc dev: deleted 2 of 2 manifests');
    expect(await digestOf(dev, 'dev/web', digests['0.8.0'] as string)).toBeUndefined();
    expect(await digestOf(dev, 'dev/web', digests['0.9.0'] as string)).toBeUndefined();
    expect(await digestOf(dev, 'dev/web', digests['1.0.0'] as string)).toBe(digests['1.0.0']);
  }, 30_000);

  it('sync --server runs the server’s jobs (every one without names, even unscheduled): a dry run writes nothing, then it mirrors by digest', async () => {
    // No names: the server lists its sync jobs (GET /api/v1/lifecycle/jobs); base has no schedule.
    const dry = await remote(['sync', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^Sync base \(dry run, nothing written\): would copy 1 digest/);
    expect(await digestOf(mirror, 'mirror/base/node', '22.1')).toBeUndefined();
    const r = await remote(['sync', 'base', '--json']);
    expect(r.code, r.stdout).toBe(0);
    const reports = JSON.parse(r.stdout) as { name: string; dryRun: boolean; items: { digest: string }[] }[];
    expectMatchesSchema('sync', reports);
    expect(reports.map((x) => [x.name, x.dryRun])).toEqual([['base', false]]);
    expect(reports[0]?.items.map((i) => i.digest)).toContain(digests.base);
    expect(await digestOf(mirror, 'mirror/base/node', '22.1')).toBe(digests.base);
    const unknown = await remote(['sync', 'base', 'nope']);
    expect(unknown.code, unknown.stderr).toBe(5);
    expect(unknown.stderr).toMatch(/no sync job "nope".*\[API_NOT_FOUND\]\n$/);
    // base ran on the server before nope was refused: its summary is printed all the same.
    expect(unknown.stdout).toMatch(/^Sync base: copied 0 digests .*, 1 unchanged, in /);
  }, 30_000);

  it('--timeout: a run that has not ended prints its id and exits 10; it goes on on the server', async () => {
    const stub = await stubServer((_, res) => answer(res, { ...RUNNING, state: 'running' }));
    try {
      const r = await runCli(['gc', '--env', 'dev', '--yes', '--timeout', '1200ms', '--server', stub.url], {
        env: { GANTRY_TOKEN: ADMIN },
      });
      expect(r.code, r.stderr).toBe(10);
      expect(r.stdout).toBe(`${RUNNING.id}\n`);
      expect(r.stderr).toContain(
        `gc dev: run ${RUNNING.id} is still running after --timeout 1200ms; it goes on on the server [LIFECYCLE_WAIT_TIMEOUT]`,
      );
    } finally {
      await stub.close();
    }
  }, 30_000);

  it('a read of the run that goes unanswered is tried again once; twice in a row, or no server, is exit 9', async () => {
    const done = {
      ...RUNNING,
      state: 'succeeded',
      report: {
        kind: 'gc',
        name: 'dev',
        dryRun: true,
        startedAt: NOW,
        finishedAt: NOW,
        items: [],
        kept: {},
        totals: {},
      },
    };
    let reads = 0;
    /** Cuts the first `cut` reads of the run off without an answer, then answers it ended. */
    const flaky = (cut: number) =>
      stubServer((req, res) => {
        if (req.method === 'GET' && ++reads <= cut) req.socket.destroy();
        else answer(res, req.method === 'POST' ? RUNNING : done);
      });
    const once = await flaky(1);
    try {
      const r = await runCli(['gc', '--env', 'dev', '--server', once.url], { env: { GANTRY_TOKEN: ADMIN } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(
        'gc dev: would delete 0 manifests (dry run: nothing deleted; --yes deletes)\nkept: nothing\n',
      );
      expect(reads).toBe(2);
    } finally {
      await once.close();
    }
    reads = 0;
    const twice = await flaky(2);
    const gone = await stubServer(() => undefined);
    await gone.close();
    try {
      const [r, unreachable, badToken] = await Promise.all([
        runCli(['sync', 'base', '--server', twice.url], { env: { GANTRY_TOKEN: ADMIN } }),
        runCli(['gc', '--env', 'dev', '--server', gone.url], { env: { GANTRY_TOKEN: ADMIN } }),
        remote(['gc', '--env', 'dev'], `gty_${'0'.repeat(64)}`),
      ]);
      expect(r.code, r.stderr).toBe(9);
      expect(r.stderr).toMatch(/^gantry: cannot reach .*\[SERVER_UNREACHABLE\]\n$/m);
      expect(reads).toBe(2);
      expect(unreachable.code, unreachable.stderr).toBe(9);
      expect(unreachable.stderr).toMatch(/^gantry: cannot reach .*\[SERVER_UNREACHABLE\]\n$/);
      expect(badToken.code, badToken.stderr).toBe(6);
      expect(badToken.stderr).toMatch(/^gantry: .*\[API_UNAUTHENTICATED\]\n$/);
    } finally {
      await twice.close();
    }
  }, 30_000);
});

const NOW = '2026-01-01T00:00:00.000Z';
/** A gc run as a stand-in server shows it while it goes on. */
const RUNNING = {
  id: `run_${'c'.repeat(32)}`,
  kind: 'gc',
  name: 'dev',
  state: 'queued',
  error: null,
  report: null,
};

function answer(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** A stand-in Gantry server on 127.0.0.1 answering every request with `handle`. */
async function stubServer(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
