/** Benchmark results: per-tool statistics, the Markdown results table, and the JSON file. */
import { median, type Measurement } from './measure.js';

/** Scenario identifiers, in the order they run. */
export const SCENARIOS = ['a', 'b', 'c', 'd', 'e'] as const;
/** One scenario identifier. */
export type ScenarioId = (typeof SCENARIOS)[number];

/** Statistics over the runs of one command. */
export interface ToolStats {
  /** The command line (with registry ports replaced by placeholders). */
  command: string;
  /** Wall time of every run in milliseconds, in run order. */
  wallMs: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Peak RSS of every run in KiB, in run order (null when unreadable). */
  maxRssKiB: (number | null)[];
  /** Median peak RSS in KiB (null when unreadable). */
  medianRssKiB: number | null;
}

/** The outcome of one scenario. */
export interface ScenarioResult {
  id: ScenarioId;
  title: string;
  /** What is compared: wall time or peak memory. */
  metric: 'wall-time' | 'peak-rss';
  gantry: ToolStats;
  skopeo: ToolStats;
  /** The reference command of scenario (c), `node -e 0`. */
  baseline?: ToolStats;
  /** Gantry's median over the reference's median: wall time (skopeo, or `node -e 0` for c) or peak RSS (e). */
  ratio: number;
  /** What `ratio` is relative to. */
  ratioOf: string;
  target: string;
  pass: boolean;
  /** Facts checked along the way (digests verified, bytes transferred, mounts). */
  notes: string[];
}

/** Collects measurements of one command. */
export class Samples {
  readonly #runs: Measurement[] = [];
  constructor(readonly command: string) {}

  add(m: Measurement): void {
    this.#runs.push(m);
  }

  stats(): ToolStats {
    const wallMs = this.#runs.map((r) => round(r.wallMs, 1));
    const rss = this.#runs.map((r) => r.maxRssKiB ?? null);
    const known = rss.filter((v): v is number => v !== null);
    return {
      command: this.command,
      wallMs,
      medianMs: round(median(wallMs), 1),
      minMs: Math.min(...wallMs),
      maxMs: Math.max(...wallMs),
      maxRssKiB: rss,
      medianRssKiB: known.length > 0 ? median(known) : null,
    };
  }
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** `1.23 s` or `87 ms`. */
export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

/** Peak RSS in MB (10^6 bytes), from KiB. */
export function rssMB(kib: number | null): number | null {
  return kib === null ? null : (kib * 1024) / 1e6;
}

function formatRss(kib: number | null): string {
  const mb = rssMB(kib);
  return mb === null ? 'n/a' : `${mb.toFixed(0)} MB`;
}

function cell(r: ScenarioResult, tool: ToolStats): string {
  if (r.metric === 'peak-rss') return `${formatRss(tool.medianRssKiB)} (${formatMs(tool.medianMs)})`;
  return formatMs(tool.medianMs);
}

/** The results as a Markdown table (medians). */
export function resultsTable(results: readonly ScenarioResult[]): string {
  const rows = [
    ['Scenario', 'Gantry', 'skopeo', 'Ratio', 'Target', 'Result'],
    ...results.map((r) => [
      `(${r.id}) ${r.title}`,
      cell(r, r.gantry),
      cell(r, r.skopeo),
      `${r.ratio.toFixed(2)}× ${r.ratioOf}`,
      r.target,
      r.pass ? 'PASS' : 'FAIL',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(rows[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.slice(1).map(line),
  ].join('\n');
}

/** Per-scenario details under the table: every run, memory, and the checks made. */
export function resultsDetails(results: readonly ScenarioResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    out.push(`(${r.id}) ${r.title}`);
    const tools: [string, ToolStats | undefined][] = [
      ['gantry', r.gantry],
      ['skopeo', r.skopeo],
      ['node -e 0', r.baseline],
    ];
    for (const [name, t] of tools) {
      if (!t) continue;
      out.push(
        `  ${name.padEnd(9)} median ${formatMs(t.medianMs)} (min ${formatMs(t.minMs)}, max ${formatMs(t.maxMs)}); ` +
          `runs ${t.wallMs.map(formatMs).join(', ')}; peak RSS median ${formatRss(t.medianRssKiB)}`,
      );
    }
    for (const note of r.notes) out.push(`  - ${note}`);
  }
  return out.join('\n');
}
