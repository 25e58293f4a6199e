/**
 * Prints the figures the reliability suites recorded (test-artifacts/reliability/*.json, written by
 * `recordFigures` in test/helpers/reliability.ts) as Markdown, for RELIABILITY.md.
 *
 *   npm run test:reliability          # the long variants of every suite, then this report
 *   tsx scripts/reliability-report.ts   # the report of whatever ran last
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SuiteFigures } from '../test/helpers/reliability.js';

const dir = join(fileURLToPath(new URL('..', import.meta.url)), 'test-artifacts', 'reliability');

let files: string[] = [];
try {
  files = readdirSync(dir).filter((f) => f.endsWith('.json'));
} catch {
  // nothing ran yet
}
if (files.length === 0) {
  console.error(`no figures in ${dir}: run the suites first (npm run test:reliability)`);
  process.exit(1);
}
for (const file of files.sort()) {
  const s = JSON.parse(readFileSync(join(dir, file), 'utf8')) as SuiteFigures;
  // Other files there (e.g. the load suite's per-second samples) are not a suite's figures.
  if (typeof s.figures !== 'object' || s.figures === null || Array.isArray(s)) continue;
  const variant = s.long ? 'long' : 'short';
  const seed = s.seed === undefined ? '' : `, seed ${s.seed}`;
  console.log(`### ${s.suite} (${variant}, Node ${s.node}, ${s.at}${seed})\n`);
  console.log('| figure | value |\n|---|---|');
  for (const [k, v] of Object.entries(s.figures)) console.log(`| ${k} | ${String(v)} |`);
  console.log('');
}
