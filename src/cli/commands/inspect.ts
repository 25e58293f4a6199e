/**
 * `gantry inspect REF`: what an image is — digest, media type, platforms, labels and annotations,
 * layers and referrers. `--raw` prints the manifest bytes exactly as the registry stores them.
 */
import { escapeControl, isImageManifestMediaType } from '../../core/index.js';
import { describeImage, parseReference, type InspectResult } from '../../app.js';
import { printJson, printLines } from '../output.js';
import { clientForHost, type ConfiguredRegistryOptions } from '../config-client.js';

/** Options of `gantry inspect`. */
export interface InspectOptions extends ConfiguredRegistryOptions {
  readonly raw?: boolean;
  readonly json?: boolean;
  readonly referrers?: boolean;
}

/** Runs `gantry inspect`. */
export async function inspect(refText: string, options: InspectOptions): Promise<number> {
  const ref = parseReference(refText);
  const { client, close } = await clientForHost(ref.registry, options);
  try {
    const manifest = await client.manifestGet(ref);
    if (options.raw) {
      process.stdout.write(manifest.bytes);
      return 0;
    }
    const result = await describeImage(client, ref, manifest, options.referrers !== false);
    if (options.json) printJson(result);
    else printHuman(result);
    return 0;
  } finally {
    await close();
  }
}

function printHuman(r: InspectResult): void {
  const lines = [
    `Reference:  ${r.reference}`,
    `Digest:     ${r.digest}`,
    `Media type: ${r.mediaType}`,
    `Size:       ${r.size}`,
  ];
  if (r.created) lines.push(`Created:    ${r.created}`);
  if (r.platform) lines.push(`Platform:   ${r.platform}`);
  if (!isImageManifestMediaType(r.mediaType) && r.platforms.length > 0) {
    lines.push('Platforms:');
    for (const p of r.platforms) lines.push(`  ${p.platform.padEnd(20)} ${p.digest}`);
  }
  const labels = Object.entries(r.labels);
  if (labels.length > 0) {
    lines.push('Labels:');
    for (const [k, v] of labels) lines.push(`  ${k}=${v}`);
  }
  const annotations = Object.entries(r.annotations);
  if (annotations.length > 0) {
    lines.push('Annotations:');
    for (const [k, v] of annotations) lines.push(`  ${k}=${v}`);
  }
  if (r.layers.length > 0) {
    lines.push('Layers:');
    for (const l of r.layers) lines.push(`  ${l.digest}  ${String(l.size).padStart(12)}  ${l.mediaType}`);
  }
  if (r.referrers.length > 0) {
    lines.push(`Referrers (${r.referrersSource ?? 'api'}):`);
    for (const d of r.referrers) lines.push(`  ${d.digest}  ${d.artifactType ?? d.mediaType}`);
  }
  // Labels, annotations, media types and dates come from the registry: escape control characters.
  printLines(...lines.map(escapeControl));
}
