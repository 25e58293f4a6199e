// Bundles the CLI with esbuild: one entry, code-split so each command loads only when used.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: { cli: 'src/cli/index.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  // Bundled dependencies keep start-up lean (one file per command, no module resolution at run time).
  banner: {
    js: "import { createRequire as __gantryRequire } from 'node:module'; const require = __gantryRequire(import.meta.url);",
  },
  sourcemap: 'linked',
  define: { __GANTRY_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
});
