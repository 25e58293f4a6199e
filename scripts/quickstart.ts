/**
 * The quick-start demo: a local CNCF distribution registry on 127.0.0.1, a generated sample
 * application pushed to it (a multi-platform index with labels and an SBOM referrer), and Gantry's
 * CLI listing and inspecting it. Everything is removed at the end.
 */
import { spawnSync } from 'node:child_process';
import { MediaTypes } from '../src/core/index.js';
import {
  makeArtifact,
  makeImage,
  makeIndex,
  pushImage,
  pushManifest,
  startRegistry,
} from '../test/helpers/index.js';

function gantry(...args: string[]): void {
  console.log(`\n$ gantry ${args.join(' ')}`);
  const r = spawnSync(process.execPath, ['bin/gantry.js', ...args], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`gantry ${args[0]} exited ${r.status}`);
}

const registry = await startRegistry();
try {
  console.log(`Started a local registry at ${registry.url}`);
  const labels = {
    'org.opencontainers.image.version': '1.4.2',
    'org.opencontainers.image.revision': '3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0a',
    'org.opencontainers.image.source': 'https://git.example.com/team/web',
  };
  const amd64 = makeImage({ seed: 'web-amd64', labels, layers: [{ size: 2 << 20, seed: 'web-base' }] });
  const arm64 = makeImage({
    seed: 'web-arm64',
    labels,
    platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    layers: [{ size: 2 << 20, seed: 'web-base-arm' }],
  });
  const index = makeIndex([amd64, arm64]);
  await pushImage(registry, 'team/web', index, '1.4.2');
  await pushImage(registry, 'team/web', index, 'latest');
  const sbom = makeArtifact({
    subject: { mediaType: amd64.mediaType, digest: amd64.digest, size: amd64.size },
    artifactType: 'application/spdx+json',
    content: JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'web' }),
  });
  await pushImage(registry, 'team/web', sbom);
  const fallback = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: [
      {
        mediaType: sbom.mediaType,
        digest: sbom.digest,
        size: sbom.size,
        artifactType: 'application/spdx+json',
      },
    ],
  };
  await pushManifest(
    registry,
    'team/web',
    Buffer.from(JSON.stringify(fallback)),
    MediaTypes.ociIndex,
    `sha256-${amd64.digest.slice(7)}`,
  );
  console.log('Pushed team/web:1.4.2 (linux/amd64 + linux/arm64, with an SBOM referrer)');

  const repo = `${registry.host}/team/web`;
  gantry('ls', repo, '--tls-verify=false');
  gantry('inspect', `${repo}:1.4.2`, '--tls-verify=false');
  gantry('inspect', `${repo}@${amd64.digest}`, '--tls-verify=false');
} finally {
  await registry.stop();
}
