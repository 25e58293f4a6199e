/**
 * `npm run bench:faults`: the heavy-fault scenario of test/integration/copy-heavy-faults.test.ts,
 * run with the Gantry CLI and with skopeo (BENCHMARKS.md, "Copies through heavy faults").
 *
 *   npm run bench:faults -- [--copies 50] [--parallel 5] [--retry-times 3]
 *
 * The scenario is test/helpers/heavy-faults.ts: two real registries, each behind a fault proxy at HEAVY_FAULTS
 * (one request in ten answered 503/429 and 2 % reset on both sides; a quarter of the source's blob
 * downloads cut half-way and a tenth corrupted). Each tool copies the same 14-blob image into
 * `--copies` fresh repositories, `--parallel` processes at a time, and a copy counts only when the
 * process exited 0 AND the destination registry (read directly, not through the proxy) then holds
 * the image's manifest digest and every blob. Prints a Markdown table; exits 2 when the benchmark
 * itself could not run.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  HEAVY_SCENARIO,
  copiedExactly,
  runPool,
  startHeavyFaultProxies,
  startHeavyFaultRegistries,
  type HeavyFaultRegistries,
  type RandomFaultCounts,
} from '../test/helpers/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const log = (message: string): void => void process.stderr.write(`${message}\n`);

interface ToolResult {
  readonly tool: string;
  readonly exact: number;
  readonly exitedZero: number;
  readonly seconds: number;
  readonly faults: { source: RandomFaultCounts; destination: RandomFaultCounts };
  readonly errors: string[];
}

function run(command: string, args: readonly string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (err) => resolve({ code: -1, stderr: String(err) }));
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

async function benchTool(
  tool: 'gantry' | 'skopeo',
  options: { copies: number; parallel: number; retryTimes: number },
  registries: HeavyFaultRegistries,
): Promise<ToolResult> {
  const proxies = await startHeavyFaultProxies(registries);
  const { src: srcProxy, dst: dstProxy, srcFaults, dstFaults } = proxies;
  const command = (i: number): [string, string[]] => {
    const from = `${srcProxy.host}/${HEAVY_SCENARIO.repository}:${HEAVY_SCENARIO.tag}`;
    const to = `${dstProxy.host}/heavy/${tool}-${i}:v1`;
    return tool === 'gantry'
      ? [process.execPath, ['bin/gantry.js', 'copy', from, to, '--tls-verify=false', '--quiet']]
      : [
          'skopeo',
          [
            'copy',
            // Without it skopeo rewrites the manifest (another digest), and no copy would be exact.
            '--preserve-digests',
            '--retry-times',
            String(options.retryTimes),
            '--src-tls-verify=false',
            '--dest-tls-verify=false',
            `docker://${from}`,
            `docker://${to}`,
          ],
        ];
  };
  const errors: string[] = [];
  let exitedZero = 0;
  let good = 0;
  const started = performance.now();
  try {
    await runPool(options.copies, options.parallel, async (i) => {
      const [cmd, args] = command(i);
      const r = await run(cmd, args);
      if (r.code === 0) exitedZero++;
      else errors.push(r.stderr.trim().split('\n').slice(-1)[0] ?? `exit ${r.code}`);
      if (r.code === 0 && (await copiedExactly(registries.dst, `heavy/${tool}-${i}`, registries.image)))
        good++;
    });
  } finally {
    await proxies.stop();
  }
  return {
    tool,
    exact: good,
    exitedZero,
    seconds: (performance.now() - started) / 1000,
    faults: { source: { ...srcFaults.counts }, destination: { ...dstFaults.counts } },
    errors,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      copies: { type: 'string', default: String(HEAVY_SCENARIO.copies) },
      parallel: { type: 'string', default: String(HEAVY_SCENARIO.parallel) },
      'retry-times': { type: 'string', default: '3' },
    },
  });
  const options = {
    copies: Number(values.copies),
    parallel: Number(values.parallel),
    retryTimes: Number(values['retry-times']),
  };
  const registries = await startHeavyFaultRegistries();
  try {
    const results: ToolResult[] = [];
    for (const tool of ['gantry', 'skopeo'] as const) {
      log(`${tool}: ${options.copies} copies, ${options.parallel} at a time…`);
      results.push(await benchTool(tool, options, registries));
    }
    const lines = [
      `| tool | exact copies | exited 0 | wall time | source faults (503/429, reset, cut, corrupt) | destination faults (503/429, reset) |`,
      `|---|---|---|---|---|---|`,
      ...results.map((r) => {
        const s = r.faults.source;
        const d = r.faults.destination;
        const name = r.tool === 'skopeo' ? `skopeo --retry-times ${options.retryTimes}` : 'gantry';
        return `| ${name} | ${r.exact} / ${options.copies} | ${r.exitedZero} | ${r.seconds.toFixed(1)} s | ${s.unavailable}, ${s.reset}, ${s.cut}, ${s.corrupt} | ${d.unavailable}, ${d.reset} |`;
      }),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    for (const r of results) {
      const distinct = [
        ...new Set(
          r.errors.map((e) =>
            e
              .replace(/^time="[^"]*" level=\w+ msg=/, '')
              .replace(/sha256:[0-9a-f]{64}/g, 'sha256:…')
              .replace(/_state=[^"\\]*/g, '_state=…')
              .replace(/127\.0\.0\.1:\d+/g, 'HOST')
              .replace(/heavy\/(gantry|skopeo)-\d+/g, 'heavy/$1-N'),
          ),
        ),
      ];
      if (distinct.length > 0)
        process.stdout.write(`\n${r.tool} failures:\n${distinct.map((e) => `- ${e}`).join('\n')}\n`);
    }
  } finally {
    await registries.stop();
  }
}

main().catch((err: unknown) => {
  log(`bench-faults could not run: ${String(err)}`);
  process.exit(2);
});
