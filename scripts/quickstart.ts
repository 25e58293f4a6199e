/**
 * The quick-start demo: two local CNCF distribution registries (dev and prod) on 127.0.0.1, a
 * sample application pushed to dev by "CI", and Gantry promoting it dev → staging → prod from a
 * gantry.yaml with the CLI, showing the status matrix, the pinned reference and the attestation
 * check. Then `gantry serve` starts on the embedded store, a CI token is made with the bootstrap
 * admin token, the second application is promoted to prod through the HTTP API, and the server
 * keeps running with its URL printed until Ctrl-C. Everything is removed at the end.
 *
 *   npm run quickstart [-- --exit]     (--exit: stop once the API promotion completed)
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  getFreePort,
  makeImage,
  makeIndex,
  pushImage,
  startGantryServer,
  startRegistry,
  type GantryServerProcess,
} from '../test/helpers/index.js';

const exitAfterDemo = process.argv.includes('--exit');

const dir = mkdtempSync(join(tmpdir(), 'gantry-quickstart-'));
const config = join(dir, 'gantry.yaml');

function gantry(...args: string[]): void {
  console.log(`\n$ gantry ${args.join(' ')}`);
  const r = spawnSync(process.execPath, ['bin/gantry.js', ...args], {
    stdio: 'inherit',
    env: { ...process.env, GANTRY_CONFIG: config, GANTRY_ACTOR: 'quickstart' },
  });
  if (r.status !== 0) throw new Error(`gantry ${args[0]} exited ${r.status}`);
}

async function api<T>(
  server: GantryServerProcess,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as T & { error?: { code: string; message: string } };
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${json.error?.message ?? ''}`);
  return json;
}

/** Port 8080 when it is free (the documented default), else any free one. */
async function port(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => void getFreePort().then(resolve));
    probe.listen(8080, '127.0.0.1', () => probe.close(() => resolve(8080)));
  });
}

const [dev, prod] = await Promise.all([startRegistry(), startRegistry()]);
let server: GantryServerProcess | undefined;
try {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, 'signing.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, 'signing.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(
    config,
    `# dev and staging share the dev registry (staging is a tag); prod is its own registry.
registries:
  dev:  { url: "http://${dev.host}" }
  prod: { url: "http://${prod.host}" }
environments:
  dev:     { registry: dev, prefix: team-a }
  staging: { registry: dev, prefix: team-a, mode: tag, tag: staging, from: [dev] }
  prod:
    registry: prod
    prefix: team-a
    from: [staging]
    tags: { immutable: ['^v?\\d+\\.\\d+\\.\\d+$', '^[0-9a-f]{40}$'], floating: [latest, prod] }
applications: [web, api]
attestation: { key: ${join(dir, 'signing.pem')} }
`,
  );
  console.log(`Started dev registry ${dev.url} and prod registry ${prod.url}; configuration in ${config}`);

  // What CI would have pushed to dev: a multi-platform web image with an SBOM, and an api image.
  const labels = (version: string, revision: string) => ({
    'org.opencontainers.image.version': version,
    'org.opencontainers.image.revision': revision,
    'org.opencontainers.image.source': 'https://git.example.com/team-a/web',
  });
  const web = makeIndex([
    makeImage({
      seed: 'web-amd64',
      labels: labels('1.4.2', '3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0a'),
      layers: [{ size: 2 << 20, seed: 'web-base' }],
    }),
    makeImage({
      seed: 'web-arm64',
      labels: labels('1.4.2', '3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0a'),
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
      layers: [{ size: 2 << 20, seed: 'web-base-arm' }],
    }),
  ]);
  await pushImage(dev, 'team-a/web', web, '1.4.2');
  await pushImage(
    dev,
    'team-a/api',
    makeImage({ seed: 'api', labels: labels('3.0.1', 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678') }),
    '3.0.1',
  );
  console.log('CI pushed team-a/web:1.4.2 (linux/amd64 + linux/arm64) and team-a/api:3.0.1 to dev');

  gantry('promote', 'web', '1.4.2', '--to', 'staging');
  gantry('promote', 'api', '3.0.1', '--to', 'staging');
  gantry('plan', 'web', '1.4.2', '--to', 'prod');
  gantry('promote', 'web', '1.4.2', '--to', 'prod');
  gantry('status');
  gantry('ref', 'web', '--env', 'prod');
  gantry(
    'verify',
    `${prod.host}/team-a/web:prod`,
    '--env',
    'prod',
    '--tls-verify=false',
    '--key',
    join(dir, 'signing.pub.pem'),
  );

  // The one system that holds push rights to production: the server, on the embedded store.
  const bootstrap = `gty_${randomBytes(32).toString('hex')}`;
  console.log('\n$ GANTRY_BOOTSTRAP_TOKEN=gty_… gantry serve --data-dir …/gantry-data');
  server = await startGantryServer({
    config,
    dataDir: join(dir, 'gantry-data'),
    bootstrapToken: bootstrap,
    port: await port(),
    env: { GANTRY_LOG_LEVEL: 'warn' },
  });
  const ci = await api<{ token: string }>(server, bootstrap, 'POST', '/api/v1/tokens', {
    name: 'ci',
    roles: ['ci'],
  });
  console.log(
    `\n$ curl -X POST ${server.url}/api/v1/promotions -d '{"app":"api","version":"3.0.1","to":"prod"}'`,
  );
  const requested = await api<{ id: string; state: string }>(server, ci.token, 'POST', '/api/v1/promotions', {
    app: 'api',
    version: '3.0.1',
    to: 'prod',
  });
  console.log(`promotion ${requested.id}: ${requested.state}`);
  let last = requested.state;
  const ended = ['completed', 'rejected', 'failed', 'cancelled'];
  while (!ended.includes(last)) {
    await new Promise((r) => setTimeout(r, 100));
    const view = await api<{ state: string; error?: { message: string } }>(
      server,
      ci.token,
      'GET',
      `/api/v1/promotions/${requested.id}`,
    );
    if (view.state !== last)
      console.log(`promotion ${requested.id}: ${view.state}${view.error ? ` (${view.error.message})` : ''}`);
    last = view.state;
  }
  if (last !== 'completed') throw new Error(`the API promotion ended ${last}`);

  console.log(`
Gantry is running at ${server.url} (embedded store in ${join(dir, 'gantry-data')})
  dashboard: ${server.url}/
             sign in with the admin token below
  status:    curl -H "Authorization: Bearer $GANTRY_TOKEN" ${server.url}/api/v1/status
  ledger:    curl -H "Authorization: Bearer $GANTRY_TOKEN" ${server.url}/api/v1/ledger/verify
  API:       ${server.url}/openapi.json
  CLI:       GANTRY_SERVER=${server.url} GANTRY_TOKEN=… node bin/gantry.js status
the admin token (dashboard sign-in, API and CLI)
  export GANTRY_TOKEN=${bootstrap}
`);
  if (!exitAfterDemo) {
    console.log('Press Ctrl-C to stop (the registries, the server and their data are removed).');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
  }
} finally {
  await server?.stop();
  await Promise.all([dev.stop(), prod.stop()]);
  rmSync(dir, { recursive: true, force: true });
}
