/**
 * `gantry attach REF FILE [--artifact-type T] [--annotation K=V]`: upload a report or a piece of
 * evidence as an OCI referrer of REF (like `oras attach`), its type detected from the content when
 * not given, so gates find it.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { GantryError, isGantryError } from '../../core/index.js';
import { artifactOf, parseVulnerabilityReport } from '../../app.js';
import { parseReference } from '../../app.js';
import { printJson, printLines } from '../output.js';
import { clientForHost, type ConfiguredRegistryOptions } from '../config-client.js';

/** Options of `gantry attach`. */
export interface AttachOptions extends ConfiguredRegistryOptions {
  readonly artifactType?: string;
  readonly annotation?: string[];
  readonly json?: boolean;
}

/** Artifact types for report formats Gantry recognises. */
export const REPORT_ARTIFACT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  trivy: 'application/vnd.aquasec.trivy.report+json',
  grype: 'application/vnd.anchore.grype.report+json',
  sarif: 'application/sarif+json',
  cyclonedx: 'application/vnd.cyclonedx+json',
});

/** Detects an artifact type from content, or `undefined`. */
export function detectArtifactType(bytes: Buffer): string | undefined {
  try {
    return REPORT_ARTIFACT_TYPES[parseVulnerabilityReport(bytes, 'file').format];
  } catch (err) {
    if (!isGantryError(err)) throw err;
  }
  const head = bytes.subarray(0, 4096).toString('utf8').trimStart();
  if (head.startsWith('<?xml') || head.startsWith('<testsuite')) {
    if (/<testsuites?[\s>]/.test(head)) return 'application/vnd.dev.gantry.junit+xml';
  }
  if (head.startsWith('{')) {
    if (/"spdxVersion"\s*:/.test(head)) return 'application/spdx+json';
    if (/"bomFormat"\s*:\s*"CycloneDX"/.test(head)) return 'application/vnd.cyclonedx+json';
    if (/"_type"\s*:\s*"https:\/\/in-toto\.io\/Statement/.test(head)) return 'application/vnd.in-toto+json';
  }
  return undefined;
}

/** Runs `gantry attach`. */
export async function attach(refText: string, file: string, options: AttachOptions): Promise<number> {
  const ref = parseReference(refText);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    throw new GantryError('USAGE_INVALID', `cannot read ${file}`);
  }
  const artifactType = options.artifactType ?? detectArtifactType(bytes);
  if (!artifactType)
    throw new GantryError('USAGE_INVALID', `cannot tell what ${file} is: pass --artifact-type TYPE`);
  const annotations: Record<string, string> = {
    'org.opencontainers.image.title': basename(file),
    'org.opencontainers.image.created': new Date().toISOString(),
  };
  for (const a of options.annotation ?? []) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new GantryError('USAGE_INVALID', `--annotation needs KEY=VALUE, got "${a}"`);
    annotations[a.slice(0, eq)] = a.slice(eq + 1);
  }
  const { client, close } = await clientForHost(ref.registry, options);
  try {
    const subject = await client.manifestGet(ref);
    const repo = { registry: ref.registry, repository: ref.repository };
    const artifact = artifactOf(
      bytes,
      artifactType,
      { mediaType: subject.mediaType, digest: subject.digest, size: subject.bytes.length },
      artifactType,
      annotations,
      { 'org.opencontainers.image.title': basename(file) },
    );
    for (const [digest, data] of artifact.blobs) {
      if ((await client.blobHead(repo, digest)) === undefined)
        await client.blobUpload(repo, digest, data.length, data, { restart: true });
    }
    const pushed = await client.referrerPush(repo, artifact.manifest, artifact.mediaType);
    const result = {
      subject: `${ref.registry}/${ref.repository}@${subject.digest}`,
      digest: pushed.digest,
      artifactType,
      size: bytes.length,
    };
    if (options.json) printJson(result);
    else printLines(`Attached ${basename(file)} (${artifactType}) to ${result.subject} as ${pushed.digest}`);
    return 0;
  } finally {
    await close();
  }
}
