// Bundles the CLI with esbuild, dependencies included, plus the small loader that runs it with a
// V8 code cache. Builds into a temporary directory and swaps it in, so a concurrent `gantry` run
// never sees a half-written dist/.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { build as viteBuild } from 'vite';

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

// Node built-ins that bundled dependencies load eagerly but Gantry never uses. undici requires
// `node:http2` at load time for HTTP/2, which Gantry does not negotiate; undici falls back to
// exactly this when http2 is unavailable. undici requires `node:http` (ten modules) only to
// recognise an `http.IncomingMessage` passed as a request body, which Gantry never does, and for
// the default `maxHeaderSize`, which the transport sets itself. commander requires
// `node:child_process` for external subcommands, which Gantry does not have; it is loaded on
// first use instead.
const leanBuiltins = {
  name: 'lean-builtins',
  setup(b) {
    const from = (args, pkg) => args.importer.includes(`${'/'}node_modules${'/'}${pkg}${'/'}`);
    b.onResolve({ filter: /^node:http2$/ }, (args) =>
      from(args, 'undici') ? { path: 'http2', namespace: 'gantry-lean' } : undefined,
    );
    b.onResolve({ filter: /^node:http$/ }, (args) =>
      from(args, 'undici') ? { path: 'http', namespace: 'gantry-lean' } : undefined,
    );
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      from(args, 'commander') ? { path: 'child_process', namespace: 'gantry-lean' } : undefined,
    );
    b.onLoad({ filter: /^http2$/, namespace: 'gantry-lean' }, () => ({
      contents: 'module.exports = { constants: {} };',
      loader: 'js',
    }));
    b.onLoad({ filter: /^http$/, namespace: 'gantry-lean' }, () => ({
      contents: 'module.exports = { IncomingMessage: class IncomingMessage {}, maxHeaderSize: 16384 };',
      loader: 'js',
    }));
    b.onLoad({ filter: /^child_process$/, namespace: 'gantry-lean' }, () => ({
      contents:
        "let m; module.exports = new Proxy({}, { get: (_, k) => (m ??= require('node:child_process'))[k] });",
      loader: 'js',
    }));
  },
};

// `gantry serve` and `gantry ledger` (src/cli/server-commands.ts) live in dist/server.cjs, loaded
// by the CLI bundle on first use: the server's dependencies (Fastify, pino, prom-client, kysely,
// pg) would double the bundle every other command reads and deserialises at start-up.
const serverBundle = {
  name: 'server-bundle',
  setup(b) {
    b.onResolve({ filter: /\/server-commands\.js$/ }, (args) =>
      args.importer.endsWith(`${'/'}src${'/'}cli${'/'}main.ts`)
        ? { path: './server.cjs', external: true }
        : undefined,
    );
  },
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  logLevel: 'warning',
};

// The CLI: one CommonJS file, because only scripts (not ES modules) can use a V8 code cache on
// Node 20 (src/launch/code-cache.ts). Commands stay lazy: esbuild turns each `import()` of a
// command into a module that is initialised on first use.
await build({
  ...common,
  plugins: [dropZodLocales, leanBuiltins, serverBundle],
  entryPoints: { cli: 'src/cli/index.ts' },
  outExtension: { '.js': '.cjs' },
  outdir: tmp.pathname,
  format: 'cjs',
  // The bundle runs through vm.Script with a V8 code cache (src/launch/code-cache.ts). A script
  // restored from that cache loses its dynamic-import callback, so a real `import()` fails there
  // ("A dynamic import callback was not specified"). Every `import()` of a module left outside the
  // bundle (Node built-ins such as node:child_process) is therefore compiled to `require()`.
  supported: { 'dynamic-import': false },
  define: { __GANTRY_VERSION__: JSON.stringify(pkg.version) },
  // PGlite finds its .wasm and .data files next to its own module, which bundling would move;
  // pg-native is pg's optional native binding, never installed.
  external: ['@electric-sql/pglite', 'pg-native'],
});

// The server commands: an ordinary CommonJS module `require`d by the CLI bundle (no code cache;
// a server starts once). Errors it throws are GantryErrors to the CLI too (a shared brand, see
// src/core/errors.ts).
await build({
  ...common,
  plugins: [dropZodLocales],
  entryPoints: { server: 'src/cli/server-commands.ts' },
  outExtension: { '.js': '.cjs' },
  outdir: tmp.pathname,
  format: 'cjs',
  supported: { 'dynamic-import': false },
  define: { __GANTRY_VERSION__: JSON.stringify(pkg.version) },
  external: ['@electric-sql/pglite', 'pg-native'],
});

// The dashboard (web/, decision 0016): Vite builds it into dist/web, which `gantry serve` serves
// at /. Each text file gets a .gz twin that is sent to browsers that accept gzip.
await viteBuild({
  configFile: new URL('web/vite.config.ts', root).pathname,
  logLevel: 'warn',
  build: { outDir: new URL('web', tmp).pathname },
});
for (const dir of ['web', 'web/assets']) {
  const at = new URL(`${dir}/`, tmp);
  if (!existsSync(at)) continue;
  for (const name of readdirSync(at)) {
    if (!/\.(?:js|css|html|svg|json)$/.test(name)) continue;
    const file = new URL(name, at);
    writeFileSync(new URL(`${name}.gz`, at), gzipSync(readFileSync(file), { level: 9 }));
  }
}

// The embedded store's data-dir template (docs/decisions/0009-store.md, 0011-server.md): a
// migrated, closed PGlite data dir that `gantry serve` copies on a first start instead of running
// initdb (seconds). It fits only the PGlite version and migrations that wrote it, so it is built
// here, keyed by both, and reused from the previous dist/ when neither changed. Never committed.
const storeKey = createHash('sha256')
  .update(
    JSON.parse(readFileSync(new URL('node_modules/@electric-sql/pglite/package.json', root), 'utf8')).version,
  )
  .update(readFileSync(new URL('src/store/migrations.ts', root)))
  .digest('hex');
const previousKey = new URL('dist/store-template.key', root);
if (existsSync(previousKey) && readFileSync(previousKey, 'utf8') === storeKey) {
  cpSync(new URL('dist/store-template', root), new URL('store-template', tmp), { recursive: true });
} else {
  await build({
    ...common,
    minify: false,
    sourcemap: false,
    entryPoints: { 'store-template-builder': 'src/store/index.ts' },
    outExtension: { '.js': '.cjs' },
    outdir: tmp.pathname,
    format: 'cjs',
    supported: { 'dynamic-import': false },
    external: ['@electric-sql/pglite', 'pg-native'],
  });
  const builder = new URL('store-template-builder.cjs', tmp);
  const { createStoreTemplate } = createRequire(import.meta.url)(builder.pathname);
  await createStoreTemplate(new URL('store-template', tmp).pathname, { format: 'directory' });
  rmSync(builder);
}
writeFileSync(new URL('store-template.key', tmp), storeKey);
// The loader bin/gantry.js uses: Node built-ins only. It names the code cache after the bundle's
// hash, computed here once instead of on every start.
const bundle = readFileSync(new URL('cli.cjs', tmp), 'utf8');
await build({
  ...common,
  entryPoints: { launch: 'src/launch/code-cache.ts' },
  outExtension: { '.js': '.cjs' },
  outdir: tmp.pathname,
  format: 'cjs',
  define: {
    __GANTRY_BUNDLE_SHA256__: JSON.stringify(createHash('sha256').update(bundle).digest('hex')),
    __GANTRY_BUNDLE_LENGTH__: String(bundle.length),
  },
});
if (stamp) writeFileSync(new URL('.built-from', tmp), stamp);
try {
  renameSync(dist, old);
} catch {
  // no previous build
}
renameSync(tmp, dist);
rmSync(old, { recursive: true, force: true });
