/**
 * What an image is, read from its registry: digest, media type, platforms, labels, annotations,
 * layers and referrers (`gantry inspect`), and, for the server's candidate details, the same with
 * the size of everything under it, the kind of each referrer and a summary of its newest
 * vulnerability report. Reads only.
 */
import { MediaTypes, type Digest } from './core/index.js';
import {
  APPROVAL_ARTIFACT_TYPE,
  COSIGN_SIG_ARTIFACT_TYPE,
  PROMOTION_ARTIFACT_TYPE,
  collapseFindings,
  parseVulnerabilityReport,
  type VulnerabilityReport,
} from './promotion/index.js';
import type { Descriptor, Manifest, Reference, RegistryClient, Repository } from './registry/index.js';

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
  readonly referrers: readonly InspectReferrer[];
  readonly referrersSource?: string;
}

/** A referrer as `gantry inspect --json` shows it. */
export interface InspectReferrer {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly artifactType?: string;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Describes `manifest` (read from `ref`), with its referrers when `withReferrers`. */
export async function describeImage(
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
  let json: {
    architecture?: unknown;
    os?: unknown;
    variant?: unknown;
    created?: unknown;
    config?: { Labels?: unknown };
  };
  try {
    json = JSON.parse((await readBlob(client, ref, config)).toString()) as typeof json;
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

async function readBlob(client: RegistryClient, repo: Repository, d: Descriptor): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of client.blobGet(repo, d.digest, { size: d.size }) as AsyncIterable<Buffer>)
    chunks.push(chunk);
  return Buffer.concat(chunks);
}

function platformString(d: Descriptor): string {
  const p = d.platform;
  if (!p) return 'unknown';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** What a referrer is, for a reviewer. */
export type ReferrerKind =
  'signature' | 'sbom' | 'vulnerability-report' | 'attestation' | 'promotion-record' | 'approval' | 'other';

/** The kind of a referrer, from its artifact type (or its media type when it has none). */
export function referrerKind(d: {
  readonly artifactType?: string;
  readonly mediaType: string;
}): ReferrerKind {
  const type = d.artifactType ?? d.mediaType;
  if (type === PROMOTION_ARTIFACT_TYPE) return 'promotion-record';
  if (type === APPROVAL_ARTIFACT_TYPE) return 'approval';
  if (
    type === COSIGN_SIG_ARTIFACT_TYPE ||
    /notary\.signature|sigstore\.bundle|\bsignature\b|\.sig\b/i.test(type)
  )
    return 'signature';
  if (/sarif|trivy|grype|vuln|scan|vex/i.test(type)) return 'vulnerability-report';
  if (/spdx|cyclonedx|sbom|syft/i.test(type)) return 'sbom';
  if (/in-?toto|dsse|attestation|provenance|slsa/i.test(type)) return 'attestation';
  return 'other';
}

/** Severity counts of a vulnerability report (findings collapsed by id and package, as the gate does). */
export interface VulnerabilitySummary {
  readonly scanner: string;
  readonly createdAt?: string;
  readonly critical: number;
  readonly high: number;
  readonly medium: number;
  readonly low: number;
  readonly unknown: number;
  /** The referrer the report was read from. */
  readonly reportDigest?: Digest;
}

/** Counts `report`'s findings by severity (`negligible` counts as low). */
export function summarizeReport(report: VulnerabilityReport, reportDigest?: Digest): VulnerabilitySummary {
  const counts = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
  for (const f of collapseFindings(report.findings))
    counts[f.severity === 'negligible' ? 'low' : f.severity] += 1;
  return {
    scanner: report.scanner,
    ...(report.createdAt !== undefined && { createdAt: report.createdAt }),
    ...counts,
    ...(reportDigest !== undefined && { reportDigest }),
  };
}

/** An image as a reviewer sees it: {@link InspectResult} plus sizes, referrer kinds and vulnerabilities. */
export interface ImageDetails {
  readonly digest: Digest;
  readonly mediaType: string;
  /** Bytes of the manifest, its config and its layers; for an index, the sum over its platform images. */
  readonly size: number;
  readonly created?: string;
  /** The image config's labels (for an index, its first platform's). */
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Each platform with the bytes of its image (manifest, config, layers). */
  readonly platforms: readonly { platform: string; digest: Digest; size: number }[];
  readonly referrers: readonly (InspectReferrer & { kind: ReferrerKind })[];
  /** The newest vulnerability report Gantry can read among the referrers. */
  readonly vulnerabilities?: VulnerabilitySummary;
}

/** Artifact types that may hold a scanner report (as the vulnerabilities gate reads them). */
const REPORT_TYPE = /sarif|trivy|grype|cyclonedx|vuln|scan/i;
/** Reports larger than this are not read for the summary. */
const MAX_REPORT_BYTES = 16 * 1024 * 1024;
/** At most this many report referrers are tried, newest first. */
const MAX_REPORTS_TRIED = 5;
const CREATED = 'org.opencontainers.image.created';

/** Reads the details of `digest` in `repo`. */
export async function imageDetails(
  client: RegistryClient,
  repo: Repository,
  digest: Digest,
): Promise<ImageDetails> {
  const ref: Reference = { registry: repo.registry, repository: repo.repository, digest };
  const manifest = await client.manifestGet(ref);
  const top = await describeImage(client, ref, manifest, true);
  let size = imageSize(top);
  let labels = top.labels;
  let created = top.created;
  let platforms = top.platforms.map((p) => ({ platform: p.platform, digest: p.digest, size }));
  if (manifest.kind === 'index') {
    const children = await Promise.all(
      top.platforms.map(async (p) => {
        const child = await client.manifestGet({ ...ref, digest: p.digest });
        return child.kind === 'index' ? undefined : describeImage(client, ref, child, false);
      }),
    );
    platforms = top.platforms.map((p, i) => {
      const child = children[i];
      return { platform: p.platform, digest: p.digest, size: child ? imageSize(child) : p.size };
    });
    size = platforms.reduce((sum, p) => sum + p.size, 0);
    const first = children.find((c) => c !== undefined);
    labels = first?.labels ?? {};
    created = first?.created;
  }
  const referrers = top.referrers.map((r) => ({ ...r, kind: referrerKind(r) }));
  const vulnerabilities = await newestReport(client, repo, digest, top.referrers);
  return {
    digest: manifest.digest,
    mediaType: manifest.mediaType,
    size,
    ...(created !== undefined && { created }),
    labels,
    annotations: top.annotations,
    platforms,
    referrers,
    ...(vulnerabilities && { vulnerabilities }),
  };
}

function imageSize(d: InspectResult): number {
  return d.size + (d.config?.size ?? 0) + d.layers.reduce((sum, l) => sum + l.size, 0);
}

/** The summary of the newest readable report among `referrers` (by their `created` annotation). */
async function newestReport(
  client: RegistryClient,
  repo: Repository,
  subject: Digest,
  referrers: readonly InspectReferrer[],
): Promise<VulnerabilitySummary | undefined> {
  const reports = referrers
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => r.artifactType !== undefined && REPORT_TYPE.test(r.artifactType))
    .sort((a, b) => {
      const ca = a.r.annotations?.[CREATED] ?? '';
      const cb = b.r.annotations?.[CREATED] ?? '';
      return ca === cb ? b.i - a.i : ca < cb ? 1 : -1;
    })
    .slice(0, MAX_REPORTS_TRIED);
  for (const { r } of reports) {
    try {
      const m = await client.manifestGet({ ...repo, digest: r.digest });
      if (m.kind !== 'image' || m.body.subject?.digest !== subject) continue;
      const layer = m.body.layers[0];
      if (!layer || layer.size > MAX_REPORT_BYTES) continue;
      const bytes = await readBlob(client, repo, layer);
      return summarizeReport(parseVulnerabilityReport(bytes, `referrer ${r.digest}`), r.digest);
    } catch {
      // not a report Gantry can read (an SBOM without vulnerabilities, another format): the next one
    }
  }
  return undefined;
}
