// Bundles the CLI with esbuild: dependencies included, code-split so each command loads only
// what it uses. Builds into a temporary directory and swaps it in, so a concurrent `gantry` run
// never sees a half-written dist/.
import { build } from 'esbuild';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const stamp = process.argv.find((a) => a.startsWith('--stamp='))?.slice('--stamp='.length);
const tmp = new URL(`dist.tmp-${process.pid}/`, root);
const dist = new URL('dist', root);
const old = new URL(`dist.old-${process.pid}`, root);

// zod re-exports every translation of its error messages as `z.locales`; Gantry never uses it
// (English messages come from locales/en.js directly), and the bundle would otherwise parse all of
// them on every start.
const dropZodLocales = {
  name: 'drop-zod-locales',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${'/'}node_modules${'/'}zod${'/'}`)
        ? { path: 'zod-locales', namespace: 'gantry-empty' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'gantry-empty' }, () => ({ contents: 'export {};', loader: 'js' }));
  },
};

await build({
  plugins: [dropZodLocales],
  entryPoints: { cli: 'src/cli/index.ts' },
  outdir: tmp.pathname,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  // Bundled dependencies keep start-up lean (no module resolution at run time); CommonJS
  // dependencies need a `require` inside ESM chunks.
  banner: {
    js: "import { createRequire as __gantryRequire } from 'node:module'; const require = __gantryRequire(import.meta.url);",
  },
  define: { __GANTRY_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
});
if (stamp) writeFileSync(new URL('.built-from', tmp), stamp);
try {
  renameSync(dist, old);
} catch {
  // no previous build
}
renameSync(tmp, dist);
rmSync(old, { recursive: true, force: true });
