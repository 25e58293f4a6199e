/**
 * Shared knobs of the reliability suites (issue 15, RELIABILITY.md):
 * - `GANTRY_LONG=1` runs the long variants (more rounds, longer loads); CI runs the short ones.
 * - `GANTRY_SEED=N` replays a run: every random choice of a suite comes from {@link rng}, and a
 *   failing suite names its seed.
 * - {@link recordFigures} writes a suite's figures to `test-artifacts/reliability/SUITE.json`, where
 *   `npm run test:reliability` collects them for RELIABILITY.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** True when the long variants were asked for (`GANTRY_LONG=1`). */
export const LONG = process.env.GANTRY_LONG === '1';

/** Picks the short or the long figure. */
export const scale = <T>(short: T, long: T): T => (LONG ? long : short);

/** The run's seed: `GANTRY_SEED`, else one drawn now (and reported). */
export function seedOf(): number {
  const given = process.env.GANTRY_SEED;
  if (given !== undefined && /^\d+$/.test(given)) return Number(given);
  return Math.floor(Math.random() * 2 ** 31);
}

/** A small seeded generator (mulberry32): the same seed gives the same choices. */
export interface Rng {
  readonly seed: number;
  /** In [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
}

export function rng(seed: number = seedOf()): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from nothing');
      return items[Math.floor(next() * items.length)] as (typeof items)[number];
    },
  };
}

/** Figures of one suite, as written to `test-artifacts/reliability/SUITE.json`. */
export interface SuiteFigures {
  readonly suite: string;
  readonly seed?: number;
  readonly long: boolean;
  readonly node: string;
  readonly at: string;
  readonly figures: Readonly<Record<string, number | string | boolean>>;
}

/** Writes (replaces) a suite's figures; call it at the end of the suite, after its assertions. */
export function recordFigures(
  suite: string,
  figures: Readonly<Record<string, number | string | boolean>>,
  seed?: number,
): SuiteFigures {
  const out: SuiteFigures = {
    suite,
    ...(seed !== undefined && { seed }),
    long: LONG,
    node: process.version,
    at: new Date().toISOString(),
    figures,
  };
  const dir = join(root, 'test-artifacts', 'reliability');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${suite}.json`), `${JSON.stringify(out, null, 2)}\n`);
  return out;
}
