#!/usr/bin/env node
// Thin launcher: the bundled CLI lives in dist/ (built by `npm run build`) and is loaded with a
// V8 code cache (src/launch/code-cache.ts, docs/decisions/0004-startup-time.md). CommonJS (see
// bin/package.json): an ES module entry would start Node's ES module loader, ~10 ms per run.
'use strict';

// undici parses HTTP with a WebAssembly build of llhttp. V8's optimising WebAssembly tier would
// recompile it in the background and hold up the exit of a short command by ~0.1 s; the baseline
// tier parses HTTP headers just as well for a CLI (see docs/decisions/0004-startup-time.md).
require('node:v8').setFlagsFromString('--liftoff-only');

const { join } = require('node:path');

/** A broken installation (dist/ missing or damaged) gets one line, not a stack trace. */
function cannotStart(err) {
  const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
  process.stderr.write(`gantry: cannot start (${why}); build it with \`npm run build\`\n`);
  process.exit(1);
}

let launch;
try {
  ({ launch } = require('../dist/launch.cjs'));
} catch (err) {
  cannotStart(err);
}
launch(join(__dirname, '..', 'dist', 'cli.cjs'), process.argv).then(
  // Leave as soon as output is flushed rather than wait for background work the CLI does not need.
  () => process.stdout.write('', () => process.stderr.write('', () => process.exit())),
  cannotStart,
);
