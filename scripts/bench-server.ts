/**
 * `npm run bench:server` (part of `npm run bench`): the server's targets from issue 11, against
 * real `gantry serve` processes, real CNCF distribution registries and, for two replicas, a real
 * PostgreSQL cluster. See BENCHMARKS.md ("Server") for the method and the latest results.
 *
 *   npm run bench:server -- [--only status,promotions,replicas,mounted] [--check]
 *
 * status      GET /api/v1/status, 20 applications × 4 environments: ≥ 3,000 requests/s, p99 < 20 ms
 * promotions  100 small-image promotions end to end, one replica (embedded store): < 10 s
 * replicas    the same with two replicas on one PostgreSQL: < 10 s
 * mounted     one promotion within one registry, every blob mounted: POST → completed ≤ 150 ms (median)
 * idle        a server at rest (embedded store, 3 applications, a webhook): CPU < 2.5 % of one core over 60 s
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
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
} from '../test/helpers/index.js';
import { startPostgres, type PostgresCluster } from '../test/helpers/postgres.js';
import { loadTest, quantile } from './bench/load.js';

const SCENARIOS = ['status', 'promotions', 'replicas', 'mounted', 'idle'] as const;
type Scenario = (typeof SCENARIOS)[number];
const BOOTSTRAP = `gty_${'b'.repeat(64)}`;
const log = (m: string): void => void process.stderr.write(`${m}\n`);

interface Result {
  readonly scenario: Scenario;
  readonly target: string;
  readonly measured: string;
  readonly pass: boolean;
  readonly details: Record<string, unknown>;
}

/** Everything started is stopped at the end. */
class Resources {
  readonly registries: RegistryProcess[] = [];
  readonly servers: GantryServerProcess[] = [];
  readonly dirs: string[] = [];
  pg: PostgresCluster | undefined;

  async registry(): Promise<RegistryProcess> {
    const r = await startRegistry();
    this.registries.push(r);
    return r;
  }

  async dir(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'gantry-bench-server-'));
    this.dirs.push(d);
    return d;
  }

  async server(options: Parameters<typeof startGantryServer>[0]): Promise<GantryServerProcess> {
    const s = await startGantryServer({
      bootstrapToken: BOOTSTRAP,
      env: { GANTRY_LOG_LEVEL: 'warn' },
      // e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the servers
      nodeArgs: (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean),
      ...options,
    });
    this.servers.push(s);
    return s;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.servers.map((s) => s.stop()));
    await Promise.allSettled(this.registries.map((r) => r.stop()));
    await this.pg?.stop().catch(() => undefined);
    await Promise.allSettled(this.dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

const token = (base: string, roles: string[]): Promise<string> =>
  createApiToken({ url: base }, BOOTSTRAP, { name: `bench-${roles.join('-')}`, roles });

/** Pushes `count` small distinct images (`app-NNN:1.0.0`, plus `extraTags`) with bounded concurrency. */
async function pushApps(
  registry: RegistryProcess,
  prefix: string,
  apps: readonly string[],
  extraTags: readonly string[] = [],
  seed = prefix,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < apps.length) {
      const app = apps[next++] as string;
      const image = makeImage({
        seed: `${seed}-${app}`,
        labels: { 'org.opencontainers.image.version': '1.0.0' },
      });
      for (const tag of ['1.0.0', ...extraTags]) await pushImage(registry, `${prefix}/${app}`, image, tag);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

const names = (n: number, stem: string): string[] =>
  Array.from({ length: n }, (_, i) => `${stem}-${String(i).padStart(3, '0')}`);

async function status(res: Resources): Promise<Result> {
  const apps = names(20, 'app');
  const [dev, prod] = [await res.registry(), await res.registry()];
  const dir = await res.dir();
  const config = join(dir, 'gantry.yaml');
  await writeFile(
    config,
    `registries:
  dev: { url: "${dev.url}" }
  prod: { url: "${prod.url}" }
environments:
  dev: { registry: dev, prefix: dev }
  staging: { registry: dev, prefix: staging, from: [dev], tags: { floating: [current] } }
  uat: { registry: dev, prefix: uat, from: [staging], tags: { floating: [current] } }
  prod: { registry: prod, prefix: prod, from: [uat], tags: { floating: [current] } }
applications: [${apps.join(', ')}]
`,
  );
  await pushApps(dev, 'dev', apps);
  await pushApps(dev, 'staging', apps, ['current'], 'dev');
  await pushApps(dev, 'uat', apps, ['current'], 'dev');
  await pushApps(prod, 'prod', apps, ['current'], 'dev');
  const server = await res.server({ config, dataDir: join(dir, 'data') });
  const viewer = await token(server.url, ['viewer']);
  const first = await api<{ cells: unknown[] }>(server, viewer, 'GET', '/api/v1/status');
  if (first.body.cells.length !== 80) throw new Error(`status: ${first.body.cells.length} cells, not 80`);
  const r = await loadTest({
    url: server.url,
    path: '/api/v1/status',
    headers: { authorization: `Bearer ${viewer}` },
    connections: 16,
    durationMs: 10_000,
  });
  const pass = r.requestsPerSecond >= 3000 && r.p99Ms < 20 && r.errors === 0;
  return {
    scenario: 'status',
    target: '≥ 3,000 req/s, p99 < 20 ms',
    measured: `${r.requestsPerSecond.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms`,
    pass,
    details: { ...r, connections: 16, durationMs: 10_000, cells: 80 },
  };
}

interface PromotionView {
  id: string;
  state: string;
}

/** Posts one promotion per app (spread over `servers`) and waits until every one has ended. */
async function promoteAll(
  servers: readonly { url: string; token: string }[],
  apps: readonly string[],
  to: string,
): Promise<{ ms: number; states: Record<string, number> }> {
  const t0 = performance.now();
  const ids: string[] = [];
  let next = 0;
  const post = async (): Promise<void> => {
    while (next < apps.length) {
      const i = next++;
      const s = servers[i % servers.length] as { url: string; token: string };
      const r = await api<PromotionView>(s, s.token, 'POST', '/api/v1/promotions', {
        app: apps[i],
        version: '1.0.0',
        to,
      });
      if (r.status !== 202) throw new Error(`POST /promotions: ${r.status} ${JSON.stringify(r.body)}`);
      ids.push(r.body.id);
    }
  };
  await Promise.all(Array.from({ length: 16 }, post));
  const s0 = servers[0] as { url: string; token: string };
  const ended = new Set(['completed', 'failed', 'rejected', 'cancelled']);
  for (;;) {
    const list = await api<{ promotions: PromotionView[] }>(
      s0,
      s0.token,
      'GET',
      `/api/v1/promotions?env=${to}&limit=500`,
    );
    const states: Record<string, number> = {};
    for (const p of list.body.promotions) states[p.state] = (states[p.state] ?? 0) + 1;
    const done = list.body.promotions.filter((p) => ended.has(p.state)).length;
    if (done >= apps.length) return { ms: performance.now() - t0, states };
    if (performance.now() - t0 > 120_000) throw new Error(`not done after 120 s: ${JSON.stringify(states)}`);
    // Every 250 ms (the figure is that precise): a list of 100 promotions is a real query, and
    // polling it faster would load the server being measured.
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function promotionSetup(res: Resources): Promise<{ config: string; dir: string; apps: string[] }> {
  const apps = names(100, 'svc');
  const [dev, prod] = [await res.registry(), await res.registry()];
  const dir = await res.dir();
  const config = await writeDevProdConfig(dir, { dev: dev.url, prod: prod.url, applications: apps });
  await pushApps(dev, 'dev', apps);
  return { config, dir, apps };
}

async function promotions(res: Resources): Promise<Result> {
  const { config, dir, apps } = await promotionSetup(res);
  const server = await res.server({ config, dataDir: join(dir, 'data') });
  const ci = await token(server.url, ['ci']);
  const r = await promoteAll([{ url: server.url, token: ci }], apps, 'prod');
  const completed = r.states.completed ?? 0;
  return {
    scenario: 'promotions',
    target: '100 promotions < 10 s (one replica, embedded store)',
    measured: `${(r.ms / 1000).toFixed(2)} s (${completed} completed)`,
    pass: r.ms < 10_000 && completed === 100,
    details: r,
  };
}

async function replicas(res: Resources): Promise<Result> {
  const { config, apps } = await promotionSetup(res);
  res.pg ??= await startPostgres();
  const databaseUrl = res.pg.url();
  const a = await res.server({ config, databaseUrl });
  const b = await res.server({ config, databaseUrl });
  const ci = await token(a.url, ['ci']);
  const r = await promoteAll(
    [
      { url: a.url, token: ci },
      { url: b.url, token: ci },
    ],
    apps,
    'prod',
  );
  const completed = r.states.completed ?? 0;
  return {
    scenario: 'replicas',
    target: '100 promotions < 10 s (two replicas, PostgreSQL)',
    measured: `${(r.ms / 1000).toFixed(2)} s (${completed} completed)`,
    pass: r.ms < 10_000 && completed === 100,
    details: r,
  };
}

/** Reads the promotion's event stream until `end`. */
async function untilEnd(base: string, tokenValue: string, id: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/promotions/${id}/events`, {
    headers: { authorization: `Bearer ${tokenValue}`, accept: 'text/event-stream' },
  });
  if (!res.body) throw new Error('no event stream');
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    const end = /event: end\ndata: (.*)\n/.exec(buffer);
    if (end) {
      await res.body.cancel().catch(() => undefined);
      return (JSON.parse(end[1] as string) as { promotion: PromotionView }).promotion.state;
    }
  }
  throw new Error(`event stream of ${id} closed without end`);
}

/** One registry with staging → prod prefixes and `apps`; `rest` is appended to its gantry.yaml. */
async function oneRegistry(
  res: Resources,
  apps: readonly string[],
  rest = '',
): Promise<{ registry: RegistryProcess; dir: string; config: string }> {
  const registry = await res.registry();
  const dir = await res.dir();
  const config = join(dir, 'gantry.yaml');
  await writeFile(
    config,
    `registries:
  one: { url: "${registry.url}" }
environments:
  staging: { registry: one, prefix: staging }
  prod: { registry: one, prefix: prod, from: [staging], tags: { floating: [current] } }
applications: [${apps.join(', ')}]
${rest}`,
  );
  return { registry, dir, config };
}

async function mounted(res: Resources): Promise<Result> {
  const apps = names(12, 'one');
  const { registry, dir, config } = await oneRegistry(res, apps);
  await pushApps(registry, 'staging', apps);
  const server = await res.server({ config, dataDir: join(dir, 'data') });
  const ci = await token(server.url, ['ci']);
  const times: number[] = [];
  const states: string[] = [];
  // The first two warm the server (connections to the registry, JIT); the other ten are measured.
  for (const [i, app] of apps.entries()) {
    const t0 = performance.now();
    const r = await api<PromotionView>(server, ci, 'POST', '/api/v1/promotions', {
      app,
      version: '1.0.0',
      to: 'prod',
    });
    if (r.status !== 202) throw new Error(`POST /promotions: ${r.status} ${JSON.stringify(r.body)}`);
    const state = await untilEnd(server.url, ci, r.body.id);
    if (i >= 2) {
      times.push(performance.now() - t0);
      states.push(state);
    }
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = quantile(sorted, 0.5);
  const allCompleted = states.every((s) => s === 'completed');
  return {
    scenario: 'mounted',
    target: 'POST → completed ≤ 150 ms (median of 10)',
    measured: `median ${median.toFixed(0)} ms, max ${(sorted.at(-1) ?? NaN).toFixed(0)} ms`,
    pass: median <= 150 && allCompleted,
    details: { timesMs: times.map((t) => Math.round(t)), states },
  };
}

/** CPU time (user + system) of process `pid` so far, in seconds, from /proc (Linux). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at ") "; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
}

async function idle(res: Resources): Promise<Result> {
  const { dir, config } = await oneRegistry(
    res,
    names(3, 'rest'),
    'webhooks:\n  audit: { url: "http://127.0.0.1:9/hook", secretEnv: BENCH_WEBHOOK_SECRET }\n',
  );
  const server = await res.server({
    config,
    dataDir: join(dir, 'data'),
    env: { GANTRY_LOG_LEVEL: 'warn', BENCH_WEBHOOK_SECRET: `whsec_${'a'.repeat(32)}` },
  });
  const pid = server.child.pid;
  if (pid === undefined) throw new Error('idle: the server has no pid');
  // Start-up (migrations, the first schedule tick, JIT) is not rest: wait it out.
  await new Promise((r) => setTimeout(r, 10_000));
  const seconds = 60;
  const before = await cpuSeconds(pid);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const used = (await cpuSeconds(pid)) - before;
  const percent = (100 * used) / seconds;
  return {
    scenario: 'idle',
    target: 'CPU < 2.5 % of one core at rest (60 s)',
    measured: `${percent.toFixed(2)} % of one core (${used.toFixed(2)} s CPU in ${seconds} s)`,
    pass: percent < 2.5,
    details: { cpuSeconds: used, seconds, percent },
  };
}

const RUN: Record<Scenario, (res: Resources) => Promise<Result>> = {
  status,
  promotions,
  replicas,
  mounted,
  idle,
};

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string', default: SCENARIOS.join(',') },
      check: { type: 'boolean', default: false },
    },
  });
  const only = values.only.split(',').map((s) => s.trim());
  for (const s of only)
    if (!(SCENARIOS as readonly string[]).includes(s))
      throw new Error(`--only: unknown scenario "${s}" (${SCENARIOS.join(', ')})`);
  const started = new Date();
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  log(
    `gantry bench:server: ${only.join(', ')}; ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}`,
  );
  const results: Result[] = [];
  for (const s of SCENARIOS.filter((x) => only.includes(x))) {
    const res = new Resources();
    try {
      log(`${s}: setting up`);
      const r = await RUN[s](res);
      log(`${s}: ${r.measured} — ${r.pass ? 'PASS' : 'FAIL'}`);
      results.push(r);
    } finally {
      await res.close();
      execFileSync('sync');
    }
  }
  console.log(`\nGantry server — ${started.toISOString()}, commit ${commit}, node ${process.version}\n`);
  console.log('| scenario | target | measured | |\n|---|---|---|---|');
  for (const r of results)
    console.log(`| ${r.scenario} | ${r.target} | ${r.measured} | ${r.pass ? 'PASS' : 'FAIL'} |`);
  console.log(
    `\nload average after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const file = join(tmpdir(), 'bench-server-results.json');
  await writeFile(file, `${JSON.stringify({ date: started.toISOString(), commit, results }, null, 2)}\n`);
  console.log(`results: ${file}`);
  return values.check && !results.every((r) => r.pass) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 2;
  },
);
