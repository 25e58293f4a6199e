/**
 * The five benchmark scenarios of issue 3. Each runs Gantry and skopeo alternately (gantry,
 * skopeo, gantry, skopeo, …) against local registries, into a fresh destination every run, checks
 * that the destination serves the source digest, and returns medians with a PASS / FAIL verdict.
 */
import { join } from 'node:path';
import type { RegistryProcess } from '../../test/helpers/index.js';
import type { Meter, Measurement } from './measure.js';
import {
  expectDigest,
  manifestDigest,
  withBlobTraffic,
  type BlobTraffic,
  type RegistryPool,
} from './registries.js';
import { Samples, rssMB, type ScenarioResult } from './report.js';

/** An image pushed to the source registry. */
export interface SourceImage {
  repository: string;
  tag: string;
  digest: string;
  /** Sum of its blob sizes. */
  bytes: number;
}

/** What the scenarios share. */
export interface BenchContext {
  /** The repository root (where `bin/gantry.js` is). */
  root: string;
  /** Runs per tool per scenario. */
  runs: number;
  meter: Meter;
  pool: RegistryPool;
  /** The source registry. */
  src: RegistryProcess;
  /** A registry that holds {@link BenchContext.big} too, with its access log on, for (b). */
  mounts?: RegistryProcess;
  /** 8 × 50 MiB layers (a, b, c). */
  big?: SourceImage;
  /** A registry that already holds {@link BenchContext.big} (c). */
  complete?: RegistryProcess;
  /** One 512 MiB layer (e). */
  huge?: SourceImage;
  /** 200 small images: one repository, tag → digest (d). */
  many?: { repository: string; digests: Map<string, string> };
  /** Progress on stderr. */
  log(message: string): void;
}

type Tool = 'gantry' | 'skopeo';
const TOOLS: readonly Tool[] = ['gantry', 'skopeo'];
const NO_VERIFY = ['--src-tls-verify=false', '--dest-tls-verify=false'];

function gantry(ctx: BenchContext, args: readonly string[]): Promise<Measurement> {
  return ctx.meter.run(process.execPath, [join(ctx.root, 'bin/gantry.js'), ...args], { cwd: ctx.root });
}

function skopeo(ctx: BenchContext, args: readonly string[]): Promise<Measurement> {
  return ctx.meter.run('skopeo', args);
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`benchmark setup is missing ${what}`);
  return value;
}

function seconds(m: Measurement): string {
  return `${(m.wallMs / 1000).toFixed(2)} s`;
}

/** (a) 8 × 50 MiB layers between two registries; a freshly started destination every run. */
export async function scenarioA(ctx: BenchContext): Promise<ScenarioResult> {
  const big = need(ctx.big, 'the 8 × 50 MiB image');
  const src = `${ctx.src.host}/${big.repository}:${big.tag}`;
  const samples = {
    gantry: new Samples(`gantry copy SRC/${big.repository}:${big.tag} DST/… --tls-verify=false -q`),
    skopeo: new Samples(`skopeo copy ${NO_VERIFY.join(' ')} docker://SRC/… docker://DST/…`),
  };
  for (let i = 1; i <= ctx.runs; i++) {
    for (const tool of TOOLS) {
      await ctx.pool.with(async (dst) => {
        const target = `${dst.host}/${big.repository}:${big.tag}`;
        const m =
          tool === 'gantry'
            ? await gantry(ctx, ['copy', src, target, '--tls-verify=false', '-q'])
            : await skopeo(ctx, ['copy', ...NO_VERIFY, `docker://${src}`, `docker://${target}`]);
        await expectDigest(dst, big.repository, big.tag, big.digest, `(a) ${tool} run ${i}`);
        samples[tool].add(m);
        ctx.log(`(a) run ${i}/${ctx.runs} ${tool}: ${seconds(m)}`);
      });
    }
  }
  const g = samples.gantry.stats();
  const s = samples.skopeo.stats();
  const ratio = g.medianMs / s.medianMs;
  return {
    id: 'a',
    title: `8 × 50 MiB layers, registry → registry`,
    metric: 'wall-time',
    gantry: g,
    skopeo: s,
    ratio,
    ratioOf: 'skopeo',
    target: '≤ 0.90× skopeo',
    pass: ratio <= 0.9,
    notes: [
      `${(big.bytes / 1e6).toFixed(1)} MB of blobs; a freshly started destination registry every run`,
      `destination digest = source digest ${big.digest} after every run of both tools`,
    ],
  };
}

/** (b) The same image into a new repository of the same registry: Gantry mounts every blob. */
export async function scenarioB(ctx: BenchContext): Promise<ScenarioResult> {
  const big = need(ctx.big, 'the 8 × 50 MiB image');
  const registry = need(ctx.mounts, 'the registry for mounts');
  const src = `${registry.host}/${big.repository}:${big.tag}`;
  const samples = {
    gantry: new Samples(
      `gantry copy SRC/${big.repository}:${big.tag} SRC/b-gantry-N:… --tls-verify=false -q --json`,
    ),
    skopeo: new Samples(`skopeo copy ${NO_VERIFY.join(' ')} docker://SRC/… docker://SRC/b-skopeo-N:…`),
  };
  const traffic: Record<Tool, BlobTraffic[]> = { gantry: [], skopeo: [] };
  const warmUp: Partial<Record<Tool, BlobTraffic>> = {};
  const gantryBytes: number[] = [];
  const copyTo = async (tool: Tool, repository: string, label: string) => {
    const target = `${registry.host}/${repository}:${big.tag}`;
    const { result: m, traffic: t } = await withBlobTraffic(registry, () =>
      tool === 'gantry'
        ? gantry(ctx, ['copy', src, target, '--tls-verify=false', '-q', '--json'])
        : skopeo(ctx, ['copy', ...NO_VERIFY, `docker://${src}`, `docker://${target}`]),
    );
    await expectDigest(registry, repository, big.tag, big.digest, `(b) ${tool} ${label}`);
    ctx.log(`(b) ${label} ${tool}: ${seconds(m)} (${t.mounted} mounted, ${t.uploaded} uploaded)`);
    return { m, t };
  };
  // One untimed copy per tool first: skopeo can only mount once its blob-info cache has seen the
  // blobs in this registry (see the notes), and the timed runs should compare steady states.
  for (const tool of TOOLS) warmUp[tool] = (await copyTo(tool, `bench/b-${tool}-warm-up`, 'warm-up')).t;
  for (let i = 1; i <= ctx.runs; i++) {
    for (const tool of TOOLS) {
      const { m, t } = await copyTo(tool, `bench/b-${tool}-${i}`, `run ${i}/${ctx.runs}`);
      if (tool === 'gantry') {
        const summary = JSON.parse(m.stdout) as { bytesTransferred?: unknown };
        if (typeof summary.bytesTransferred !== 'number') throw new Error(`(b) gantry --json: ${m.stdout}`);
        gantryBytes.push(summary.bytesTransferred);
      }
      samples[tool].add(m);
      traffic[tool].push(t);
    }
  }
  const g = samples.gantry.stats();
  const s = samples.skopeo.stats();
  const ratio = g.medianMs / s.medianMs;
  const noBytes = gantryBytes.every((b) => b === 0);
  const one = (t: BlobTraffic) =>
    `${t.mounted}m/${t.uploaded}u${t.mountsRefused ? `/${t.mountsRefused}r` : ''}`;
  const describe = (tool: Tool, only?: BlobTraffic) => (only ? one(only) : traffic[tool].map(one).join(', '));
  return {
    id: 'b',
    title: 'same image, another repository of the same registry',
    metric: 'wall-time',
    gantry: g,
    skopeo: s,
    ratio,
    ratioOf: 'skopeo',
    target: '0 bytes moved, ≤ 1.00× skopeo',
    pass: noBytes && ratio <= 1,
    notes: [
      `gantry --json bytesTransferred per run: ${gantryBytes.join(', ')}`,
      `blobs mounted (m) / uploaded (u) / mounts refused (r) per run, from the registry access log — gantry: ${describe('gantry')}; skopeo: ${describe('skopeo')}`,
      `untimed warm-up copy first — gantry: ${describe('gantry', warmUp.gantry)}; skopeo: ${describe('skopeo', warmUp.skopeo)}. skopeo mounts a blob only when its blob-info cache (/var/lib/containers/cache) already knows the blob is in this registry, which it learns from its own earlier pulls and pushes; with a cold cache it copies the bytes`,
      `destination digest = source digest after every run of both tools`,
    ],
  };
}

/** (c) A copy the destination already has, against the start-up of a bare `node -e 0`. */
export async function scenarioC(ctx: BenchContext): Promise<ScenarioResult> {
  const big = need(ctx.big, 'the 8 × 50 MiB image');
  const dst = need(ctx.complete, 'the registry that already holds the image');
  const src = `${ctx.src.host}/${big.repository}:${big.tag}`;
  const target = `${dst.host}/${big.repository}:${big.tag}`;
  await expectDigest(dst, big.repository, big.tag, big.digest, '(c) setup');
  const check = await gantry(ctx, ['copy', src, target, '--tls-verify=false', '--json']);
  const summary = JSON.parse(check.stdout) as { alreadyComplete?: unknown };
  if (summary.alreadyComplete !== true)
    throw new Error(`(c) gantry did not see a complete copy: ${check.stdout}`);
  const samples = {
    node: new Samples(`node -e 0`),
    gantry: new Samples(`gantry copy SRC/${big.repository}:${big.tag} DST/… --tls-verify=false -q`),
    skopeo: new Samples(`skopeo copy ${NO_VERIFY.join(' ')} docker://SRC/… docker://DST/…`),
  };
  for (let i = 1; i <= ctx.runs; i++) {
    const n = await ctx.meter.run(process.execPath, ['-e', '0']);
    samples.node.add(n);
    for (const tool of TOOLS) {
      const m =
        tool === 'gantry'
          ? await gantry(ctx, ['copy', src, target, '--tls-verify=false', '-q'])
          : await skopeo(ctx, ['copy', ...NO_VERIFY, `docker://${src}`, `docker://${target}`]);
      await expectDigest(dst, big.repository, big.tag, big.digest, `(c) ${tool} run ${i}`);
      samples[tool].add(m);
      ctx.log(
        `(c) run ${i}/${ctx.runs} node -e 0: ${n.wallMs.toFixed(0)} ms, ${tool}: ${m.wallMs.toFixed(0)} ms`,
      );
    }
  }
  const g = samples.gantry.stats();
  const s = samples.skopeo.stats();
  const baseline = samples.node.stats();
  const ratio = g.medianMs / baseline.medianMs;
  return {
    id: 'c',
    title: 'copy already complete',
    metric: 'wall-time',
    gantry: g,
    skopeo: s,
    baseline,
    ratio,
    ratioOf: 'node -e 0',
    target: '≤ 2.00× node -e 0',
    pass: ratio <= 2,
    notes: [
      `node -e 0 median ${baseline.medianMs.toFixed(0)} ms, measured in the same rounds (node, gantry, skopeo)`,
      `skopeo is ${(s.medianMs / baseline.medianMs).toFixed(2)}× node -e 0 (it HEADs every blob, reads the config from the source and rewrites the manifest)`,
      `gantry --json reported alreadyComplete: true before the timed runs`,
    ],
  };
}

async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

/** (d) 200 small images (tags of one repository): `gantry copy --all-tags` against `skopeo sync`. */
export async function scenarioD(ctx: BenchContext): Promise<ScenarioResult> {
  const many = need(ctx.many, 'the 200 small images');
  const base = many.repository.split('/').pop() ?? many.repository;
  const samples = {
    gantry: new Samples(`gantry copy --all-tags SRC/${many.repository} DST/dN/${base} --tls-verify=false -q`),
    skopeo: new Samples(
      `skopeo sync --src docker --dest docker ${NO_VERIFY.join(' ')} SRC/${many.repository} DST/dN  (→ DST/dN/${base})`,
    ),
  };
  for (let i = 1; i <= ctx.runs; i++) {
    for (const tool of TOOLS) {
      await ctx.pool.with(async (dst) => {
        const prefix = `d${i}-${tool}`;
        const repository = `${prefix}/${base}`;
        const m =
          tool === 'gantry'
            ? await gantry(ctx, [
                'copy',
                '--all-tags',
                `${ctx.src.host}/${many.repository}`,
                `${dst.host}/${repository}`,
                '--tls-verify=false',
                '-q',
              ])
            : await skopeo(ctx, [
                'sync',
                '--src',
                'docker',
                '--dest',
                'docker',
                ...NO_VERIFY,
                `${ctx.src.host}/${many.repository}`,
                `${dst.host}/${prefix}`,
              ]);
        await forEachLimit([...many.digests], 8, async ([tag, digest]) => {
          const actual = await manifestDigest(dst, repository, tag);
          if (actual !== digest)
            throw new Error(
              `(d) ${tool} run ${i}: ${repository}:${tag} is ${actual ?? 'missing'}, expected ${digest}`,
            );
        });
        samples[tool].add(m);
        ctx.log(`(d) run ${i}/${ctx.runs} ${tool}: ${seconds(m)}`);
      });
    }
  }
  const g = samples.gantry.stats();
  const s = samples.skopeo.stats();
  const ratio = g.medianMs / s.medianMs;
  return {
    id: 'd',
    title: `${many.digests.size} small images (tags of one repository)`,
    metric: 'wall-time',
    gantry: g,
    skopeo: s,
    ratio,
    ratioOf: 'skopeo sync',
    target: '≤ 0.30× skopeo sync',
    pass: ratio <= 0.3,
    notes: [
      `a freshly started destination registry every run; every one of the ${many.digests.size} tags checked against its source digest after every run`,
    ],
  };
}

const MB_150 = 150;

/** (e) Peak memory copying one 512 MiB layer between two registries. */
export async function scenarioE(ctx: BenchContext): Promise<ScenarioResult> {
  const huge = need(ctx.huge, 'the 512 MiB image');
  const src = `${ctx.src.host}/${huge.repository}:${huge.tag}`;
  const samples = {
    gantry: new Samples(`gantry copy SRC/${huge.repository}:${huge.tag} DST/… --tls-verify=false -q`),
    skopeo: new Samples(`skopeo copy ${NO_VERIFY.join(' ')} docker://SRC/… docker://DST/…`),
  };
  for (let i = 1; i <= ctx.runs; i++) {
    for (const tool of TOOLS) {
      await ctx.pool.with(async (dst) => {
        const target = `${dst.host}/${huge.repository}:${huge.tag}`;
        const m =
          tool === 'gantry'
            ? await gantry(ctx, ['copy', src, target, '--tls-verify=false', '-q'])
            : await skopeo(ctx, ['copy', ...NO_VERIFY, `docker://${src}`, `docker://${target}`]);
        await expectDigest(dst, huge.repository, huge.tag, huge.digest, `(e) ${tool} run ${i}`);
        samples[tool].add(m);
        ctx.log(
          `(e) run ${i}/${ctx.runs} ${tool}: peak RSS ${rssMB(m.maxRssKiB ?? null)?.toFixed(0) ?? 'n/a'} MB, ${seconds(m)}`,
        );
      });
    }
  }
  const g = samples.gantry.stats();
  const s = samples.skopeo.stats();
  const gMB = rssMB(g.medianRssKiB) ?? Number.NaN;
  const sMB = rssMB(s.medianRssKiB) ?? Number.NaN;
  const worst = Math.max(...g.maxRssKiB.map((k) => rssMB(k) ?? Number.NaN));
  return {
    id: 'e',
    title: 'peak RSS, one 512 MiB layer',
    metric: 'peak-rss',
    gantry: g,
    skopeo: s,
    ratio: gMB / sMB,
    ratioOf: 'skopeo (RSS)',
    target: `Gantry < ${MB_150} MB`,
    pass: gMB < MB_150,
    notes: [
      `peak RSS by ${ctx.meter.rssMethod === 'gnu-time' ? '/usr/bin/time -f %M (ru_maxrss)' : 'polling VmHWM in /proc/PID/status'}; MB = 10^6 bytes`,
      `gantry's worst run: ${worst.toFixed(0)} MB; a freshly started destination registry every run`,
      `wall time (in brackets) for information: gantry ${(g.medianMs / s.medianMs).toFixed(2)}× skopeo`,
    ],
  };
}
