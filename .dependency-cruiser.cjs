/**
 * Layering rules (see docs/decisions/0002-layering.md): dependencies point down.
 * core <- registry <- copy <- promotion/store <- app <- server/cli.
 */
const layer = (name, mayNotUse) => ({
  name: `${name}-layering`,
  severity: 'error',
  comment: `${name} must not depend on ${mayNotUse.join(', ')}`,
  from: { path: `^src/${name}/` },
  to: { path: `^src/(${mayNotUse.join('|')})/` },
});

module.exports = {
  forbidden: [
    layer('core', ['registry', 'copy', 'promotion', 'store', 'config', 'server', 'cli', 'jobs']),
    layer('registry', ['copy', 'promotion', 'store', 'config', 'server', 'cli']),
    layer('copy', ['promotion', 'store', 'config', 'server', 'cli']),
    layer('promotion', ['copy', 'store', 'server', 'cli']),
    {
      // promotion reaches registries only through its RegistryPort; the value types it shares
      // with them (Repository, Descriptor, Manifest) are in core. Its in-memory test registry
      // parses manifests with the registry layer's parser.
      name: 'promotion-through-its-port',
      severity: 'error',
      comment: 'promotion must not depend on registry (use RegistryPort and the core types)',
      from: { path: '^src/promotion/', pathNot: '\\.test-support\\.ts$' },
      to: { path: '^src/registry/' },
    },
    // store: SQL over core only; the promotion ports it implements are wired in app.ts.
    layer('store', ['registry', 'copy', 'promotion', 'config', 'server', 'cli', 'pin', 'jobs']),
    // jobs: the durable promotion runtime, on the composition root (app.ts), config and store.
    layer('jobs', ['cli', 'server', 'registry', 'copy', 'promotion', 'pin', 'launch']),
    layer('config', ['server', 'cli', 'copy', 'promotion', 'store', 'jobs']),
    // server: HTTP on top of the composition root (app.ts), config and store; the domain only through app.
    layer('server', ['cli', 'registry', 'copy', 'promotion', 'pin', 'launch']),
    // cli: reaches the domain (registry, copy, promotion, pin) through the composition root
    // (src/app.ts) only; core for errors, config for loading gantry.yaml, and, for `serve` and
    // `ledger`, the server and the store it runs on (docs/decisions/0010-promotion-state-machine.md).
    layer('cli', ['registry', 'copy', 'promotion', 'pin']),
    // pin: pure rewriting of deployment files; only the CLI uses it.
    layer('pin', ['copy', 'promotion', 'store', 'config', 'server', 'cli']),
    // launch: loads the bundle with a code cache before anything else; Node built-ins only.
    layer('launch', ['core', 'registry', 'copy', 'promotion', 'store', 'config', 'server', 'cli', 'pin']),
    {
      name: 'no-deep-cross-layer-imports',
      severity: 'error',
      comment: 'import another layer through its index.ts only',
      from: { path: '^src/([^/]+)/' },
      to: { path: '^src/([^/]+)/.+', pathNot: ['^src/$1/', '^src/[^/]+/index\\.ts$'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'src-not-test',
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.test\\.ts$' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js'],
    },
  },
};
