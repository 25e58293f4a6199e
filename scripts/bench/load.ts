/**
 * A closed-loop HTTP load generator for the server benchmark: `connections` keep-alive
 * connections, each sending its next request as soon as the previous answer has been read, for
 * `durationMs` after a warm-up. Latency is measured per request on the monotonic clock, from
 * sending to the end of the body. It runs in the benchmark process, so on a 2-core machine the
 * server and the load share the CPU: the figures are a floor for the server alone.
 */
import { Pool } from 'undici';

/** Options of {@link loadTest}. */
export interface LoadOptions {
  readonly url: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly connections: number;
  readonly durationMs: number;
  /** Untimed requests first (per connection). Default 200 in total. */
  readonly warmupMs?: number;
}

/** What {@link loadTest} measured. */
export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** The `q` quantile (0–1) of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
  return sorted[Math.max(0, i)] as number;
}

/** Runs the load and returns throughput and latency quantiles. */
export async function loadTest(options: LoadOptions): Promise<LoadResult> {
  const pool = new Pool(options.url, { connections: options.connections, pipelining: 1 });
  const latencies: number[] = [];
  let errors = 0;
  const once = async (record: boolean): Promise<void> => {
    const start = process.hrtime.bigint();
    try {
      const res = await pool.request({
        method: 'GET',
        path: options.path,
        headers: { ...options.headers },
      });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
      if (record) latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
    } catch {
      if (record) errors++;
    }
  };
  const loop = async (until: number, record: boolean): Promise<void> => {
    while (performance.now() < until) await once(record);
  };
  try {
    const warm = performance.now() + (options.warmupMs ?? 2000);
    await Promise.all(Array.from({ length: options.connections }, () => loop(warm, false)));
    const started = performance.now();
    const until = started + options.durationMs;
    await Promise.all(Array.from({ length: options.connections }, () => loop(until, true)));
    const elapsed = performance.now() - started;
    latencies.sort((a, b) => a - b);
    return {
      requests: latencies.length,
      errors,
      requestsPerSecond: (latencies.length / elapsed) * 1000,
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
      maxMs: latencies.at(-1) ?? NaN,
    };
  } finally {
    await pool.close();
  }
}
