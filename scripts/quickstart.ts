/**
 * The quick-start demo: two local CNCF distribution registries (dev and prod) on 127.0.0.1, a
 * sample application pushed to dev by "CI", and Gantry promoting it dev → staging → prod from a
 * gantry.yaml, then showing the status matrix, the pinned reference and the attestation check.
 * Everything is removed at the end.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeImage, makeIndex, pushImage, startRegistry } from '../test/helpers/index.js';

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

const [dev, prod] = await Promise.all([startRegistry(), startRegistry()]);
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
  gantry('promote', 'api', '3.0.1', '--to', 'prod');
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
} finally {
  await Promise.all([dev.stop(), prod.stop()]);
  rmSync(dir, { recursive: true, force: true });
}
