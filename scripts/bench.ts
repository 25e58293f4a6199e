/**
 * `npm run bench`: Gantry against skopeo on local CNCF distribution registries (issue 3). See
 * BENCHMARKS.md for the method and the latest results.
 *
 *   npm run bench -- [--runs N] [--only a,c] [--check]
 *
 * Prints a Markdown table of medians with PASS / FAIL per target, the individual runs, and the
 * path of a JSON file with everything (written to the OS temp directory). Exits 2 when the
 * benchmark itself could not run, and with `--check` 1 when a target fails.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import { pushImage, type RegistryProcess } from '../test/helpers/index.js';
import { gzipImage, imageBytes } from './bench/content.js';
import { Meter } from './bench/measure.js';
import { RegistryPool } from './bench/registries.js';
import {
  SCENARIOS,
  resultsDetails,
  resultsTable,
  type ScenarioId,
  type ScenarioResult,
} from './bench/report.js';
import {
  scenarioA,
  scenarioB,
  scenarioC,
  scenarioD,
  scenarioE,
  type BenchContext,
  type SourceImage,
} from './bench/scenarios.js';

const MiB = 1024 * 1024;
const SMALL_IMAGES = 200;
const RUNNERS: Record<ScenarioId, (ctx: BenchContext) => Promise<ScenarioResult>> = {
  a: scenarioA,
  b: scenarioB,
  c: scenarioC,
  d: scenarioD,
  e: scenarioE,
};

const root = fileURLToPath(new URL('..', import.meta.url));
const log = (message: string): void => void process.stderr.write(`${message}\n`);

function parseOptions(): { runs: number; only: ScenarioId[]; check: boolean } {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      only: { type: 'string', default: SCENARIOS.join(',') },
      check: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(
      'usage: npm run bench -- [--runs N (default 5)] [--only a,b,c,d,e] [--check (exit 1 on FAIL)]',
    );
    process.exit(0);
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  const only = values.only.split(',').map((s) => s.trim().toLowerCase());
  for (const id of only)
    if (!(SCENARIOS as readonly string[]).includes(id))
      throw new Error(`--only: unknown scenario "${id}" (a–e)`);
  return { runs, only: SCENARIOS.filter((id) => only.includes(id)), check: values.check };
}

function version(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', cwd: root }).trim();
  } catch {
    return 'unknown';
  }
}

function environment() {
  const dirty = version('git', ['status', '--porcelain', '--', 'src', 'bin', 'scripts/build.mjs']);
  return {
    node: process.version,
    skopeo: version('skopeo', ['--version']),
    distribution: version('docker-registry', ['--version']),
    gantryCommit: `${version('git', ['rev-parse', '--short', 'HEAD'])}${dirty && dirty !== 'unknown' ? ' (with uncommitted changes in src/)' : ''}`,
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}`,
  };
}

async function pushSource(
  registries: RegistryProcess[],
  repository: string,
  seed: string,
  payloads: number[],
): Promise<SourceImage> {
  const image = gzipImage(seed, payloads);
  for (const registry of registries) await pushImage(registry, repository, image, 'v1');
  return { repository, tag: 'v1', digest: image.digest, bytes: imageBytes(image) };
}

async function pushMany(src: RegistryProcess, repository: string): Promise<Map<string, string>> {
  const digests = new Map<string, string>();
  const tags = Array.from({ length: SMALL_IMAGES }, (_, i) => `t${String(i).padStart(3, '0')}`);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tags.length) {
      const tag = tags[next++] as string;
      const image = gzipImage(`bench-small-${tag}`, [4096]);
      await pushImage(src, repository, image, tag);
      digests.set(tag, image.digest);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return digests;
}

/** Lets go of the generated image buffers (~1.5 GB at peak) before anything is timed. */
async function releaseMemory(): Promise<number> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  await sleep(500);
  gc();
  await sleep(500);
  return process.memoryUsage().rss;
}

async function main(): Promise<number> {
  const { runs, only, check } = parseOptions();
  if (!existsSync(join(root, 'dist/cli.cjs')))
    throw new Error('dist/cli.cjs is missing: run `npm run build` first');
  const env = environment();
  const started = new Date();
  const meter = new Meter();
  const pool = new RegistryPool();
  const cleanup = async (): Promise<void> => {
    await pool.stopAll();
    meter.close();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`\n${signal}: stopping registries`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    log(`gantry bench: scenarios ${only.join(', ')}, ${runs} runs per tool; ${env.machine}`);
    const loadBefore = loadavg().map((l) => Number(l.toFixed(2)));
    if ((loadBefore[0] ?? 0) > 1)
      log(`warning: load average ${loadBefore.join(' ')} — other work on this machine will skew the timings`);
    const t0 = Date.now();
    const src = await pool.start();
    const ctx: BenchContext = { root, runs, meter, pool, src, log };
    if (only.some((id) => id === 'a' || id === 'b' || id === 'c')) {
      const targets = [src];
      if (only.includes('b')) {
        ctx.mounts = await pool.start({ accessLog: true });
        targets.push(ctx.mounts);
      }
      if (only.includes('c')) {
        ctx.complete = await pool.start();
        targets.push(ctx.complete);
      }
      ctx.big = await pushSource(targets, 'bench/big', 'bench-big', Array<number>(8).fill(50 * MiB));
    }
    if (only.includes('e')) ctx.huge = await pushSource([src], 'bench/huge', 'bench-huge', [512 * MiB]);
    if (only.includes('d'))
      ctx.many = { repository: 'bench/many', digests: await pushMany(src, 'bench/many') };
    const rss = await releaseMemory();
    // Write the freshly pushed storage (GBs) back to disk now, not during the first timed runs.
    execFileSync('sync');
    log(
      `setup: source images pushed in ${((Date.now() - t0) / 1000).toFixed(1)} s; benchmark process RSS now ${(rss / 1e6).toFixed(0)} MB`,
    );

    const results: ScenarioResult[] = [];
    const loadPerScenario: Record<string, number[]> = {};
    for (const id of only) {
      results.push(await RUNNERS[id](ctx));
      loadPerScenario[id] = loadavg().map((l) => Number(l.toFixed(2)));
    }

    const table = resultsTable(results);
    const loadAverage = { before: loadBefore, afterScenario: loadPerScenario };
    const file = join(tmpdir(), 'bench-results.json');
    await writeFile(
      file,
      `${JSON.stringify({ date: started.toISOString(), runsPerTool: runs, environment: env, loadAverage, rssMethod: ctx.meter.rssMethod, results }, null, 2)}\n`,
    );
    console.log(
      `\nGantry vs skopeo — medians of ${runs} alternating runs per tool (${started.toISOString()})\n`,
    );
    console.log(table);
    console.log(`\n${resultsDetails(results)}`);
    console.log(
      `\nnode ${env.node}; ${env.skopeo}; ${env.distribution}; gantry ${env.gantryCommit}\n${env.machine}; ` +
        `load average (1, 5, 15 min) before: ${loadBefore.join(' ')}; after each scenario: ${Object.entries(
          loadPerScenario,
        )
          .map(([id, l]) => `${id} ${l.join(' ')}`)
          .join('; ')}`,
    );
    console.log(`total ${((Date.now() - t0) / 1000).toFixed(0)} s; results: ${file}`);
    return check && !results.every((r) => r.pass) ? 1 : 0;
  } finally {
    await cleanup();
  }
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
