/**
 * `gantry inspect REF`: what an image is — digest, media type, platforms, labels and annotations,
 * layers and referrers. `--raw` prints the manifest bytes exactly as the registry stores them.
 */
import { MediaTypes, escapeControl, isImageManifestMediaType, type Digest } from '../../core/index.js';
import {
  parseReference,
  type Descriptor,
  type Manifest,
  type Reference,
  type RegistryClient,
} from '../../app.js';
import { printJson, printLines } from '../output.js';
import { clientForHost, type ConfiguredRegistryOptions } from '../config-client.js';

/** Options of `gantry inspect`. */
export interface InspectOptions extends ConfiguredRegistryOptions {
  readonly raw?: boolean;
  readonly json?: boolean;
  readonly referrers?: boolean;
}

/** The JSON shape of `gantry inspect --json` (a stable contract). */
export interface InspectResult {
  readonly reference: string;
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
  readonly platforms: readonly { platform: string; digest: Digest; mediaType: string; size: number }[];
  readonly platform?: string;
  readonly created?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly config?: { digest: Digest; mediaType: string; size: number };
  readonly layers: readonly { digest: Digest; mediaType: string; size: number }[];
  readonly referrers: readonly {
    digest: Digest;
    mediaType: string;
    artifactType?: string;
    size: number;
    annotations?: Readonly<Record<string, string>>;
  }[];
  readonly referrersSource?: string;
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
    const result = await describe(client, ref, manifest, options.referrers !== false);
    if (options.json) printJson(result);
    else printHuman(result);
    return 0;
  } finally {
    await close();
  }
}

async function describe(
  client: RegistryClient,
  ref: Reference,
  manifest: Manifest,
  withReferrers: boolean,
): Promise<InspectResult> {
  const referrers = withReferrers ? await client.referrersList(ref, manifest.digest) : undefined;
  const base = {
    reference: `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}@${manifest.digest}`,
    digest: manifest.digest,
    mediaType: manifest.mediaType,
    size: manifest.bytes.byteLength,
    annotations: manifest.body.annotations ?? {},
    referrers: (referrers?.descriptors ?? []).map((d) => ({
      digest: d.digest,
      mediaType: d.mediaType,
      size: d.size,
      ...(d.artifactType !== undefined && { artifactType: d.artifactType }),
      ...(d.annotations !== undefined && { annotations: d.annotations }),
    })),
    ...(referrers && { referrersSource: referrers.source }),
  };
  if (manifest.kind === 'index') {
    return {
      ...base,
      platforms: manifest.body.manifests.map((d) => ({
        platform: platformString(d),
        digest: d.digest,
        mediaType: d.mediaType,
        size: d.size,
      })),
      labels: {},
      layers: [],
    };
  }
  const body = manifest.body;
  const config = body.config;
  let labels: Record<string, string> = {};
  let platform: string | undefined;
  let created: string | undefined;
  if (config.mediaType === MediaTypes.ociConfig || config.mediaType === MediaTypes.dockerConfig) {
    const parsed = await readConfig(client, ref, config);
    labels = parsed.labels;
    platform = parsed.platform;
    created = parsed.created;
  }
  return {
    ...base,
    platforms: platform
      ? [
          {
            platform,
            digest: manifest.digest,
            mediaType: manifest.mediaType,
            size: manifest.bytes.byteLength,
          },
        ]
      : [],
    ...(platform !== undefined && { platform }),
    ...(created !== undefined && { created }),
    labels,
    config: { digest: config.digest, mediaType: config.mediaType, size: config.size },
    layers: body.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size })),
  };
}

/** Image configs are small; anything past this is refused rather than buffered. */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

async function readConfig(
  client: RegistryClient,
  ref: Reference,
  config: Descriptor,
): Promise<{ labels: Record<string, string>; platform?: string; created?: string }> {
  if (config.size > MAX_CONFIG_BYTES) return { labels: {} };
  const chunks: Buffer[] = [];
  for await (const chunk of client.blobGet(ref, config.digest, {
    size: config.size,
  }) as AsyncIterable<Buffer>)
    chunks.push(chunk);
  let json: {
    architecture?: unknown;
    os?: unknown;
    variant?: unknown;
    created?: unknown;
    config?: { Labels?: unknown };
  };
  try {
    json = JSON.parse(Buffer.concat(chunks).toString()) as typeof json;
  } catch {
    return { labels: {} };
  }
  const labels: Record<string, string> = {};
  const raw = json.config?.Labels;
  if (raw && typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') labels[k] = v;
  }
  const platform =
    typeof json.os === 'string' && typeof json.architecture === 'string'
      ? [json.os, json.architecture, typeof json.variant === 'string' ? json.variant : undefined]
          .filter(Boolean)
          .join('/')
      : undefined;
  return {
    labels,
    ...(platform !== undefined && { platform }),
    ...(typeof json.created === 'string' && { created: json.created }),
  };
}

function platformString(d: Descriptor): string {
  const p = d.platform;
  if (!p) return 'unknown';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
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
