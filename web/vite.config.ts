// The dashboard's build (docs/decisions/0016-dashboard.md): Preact with JSX through Vite's own
// transformer (no Babel), one hashed script and stylesheet, no source maps shipped, nothing loaded
// from another origin. scripts/build.mjs runs it with `build.outDir` set to dist/web.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    target: 'es2022',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
