#!/usr/bin/env node
// Thin launcher: the bundled CLI lives in dist/ (built by `npm run build`) and is loaded with a
// V8 code cache (src/launch/code-cache.ts, docs/decisions/0004-startup-time.md).
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';

// undici parses HTTP with a WebAssembly build of llhttp. V8's optimising WebAssembly tier would
// recompile it in the background and hold up the exit of a short command by ~0.1 s; the baseline
// tier parses HTTP headers just as well for a CLI (see docs/decisions/0004-startup-time.md).
setFlagsFromString('--liftoff-only');
const { launch } = await import('../dist/launch.js');

await launch(fileURLToPath(new URL('../dist/cli.cjs', import.meta.url)), process.argv);
// Leave as soon as output is flushed rather than wait for background work the CLI does not need.
process.stdout.write('', () => process.stderr.write('', () => process.exit()));
