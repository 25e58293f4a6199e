/**
 * What Gantry knows about an image it is asked to promote: its digest, manifest, and the OCI
 * labels that name its version and source revision (read from the image config; for an index,
 * from its first platform).
 */
import { GantryError, MediaTypes, type Digest, type Manifest, type Repository } from '../core/index.js';
import type { RegistryPort } from './ports.js';
import { isUnknown } from './resolve-if-present.js';

/** Label keys with meaning to Gantry. */
export const Labels = Object.freeze({
  version: 'org.opencontainers.image.version',
  revision: 'org.opencontainers.image.revision',
  source: 'org.opencontainers.image.source',
  created: 'org.opencontainers.image.created',
});

/** An image in a repository with its metadata. */
export interface Candidate {
  readonly repository: Repository;
  readonly digest: Digest;
  readonly manifest: Manifest;
  readonly labels: Readonly<Record<string, string>>;
}

/** Image configs larger than this are not read for labels. */
const MAX_CONFIG = 1024 * 1024;

/** Reads the candidate `reference` (tag or digest) of `repository`. */
export async function readCandidate(
  registry: RegistryPort,
  repository: Repository,
  reference: string,
): Promise<Candidate> {
  const manifest = await registry.manifest(repository, reference);
  return {
    repository,
    digest: manifest.digest,
    manifest,
    labels: await readLabels(registry, repository, manifest),
  };
}

/**
 * Reads the candidate `reference` in the source environment `environment`. A reference the
 * source's registry does not know never reached that environment: `PROMOTION_NOT_ALLOWED`.
 */
export async function readSourceCandidate(
  registry: RegistryPort,
  environment: string,
  repository: Repository,
  reference: string,
): Promise<Candidate> {
  let manifest: Manifest;
  try {
    manifest = await registry.manifest(repository, reference);
  } catch (err) {
    if (!isUnknown(err)) throw err;
    throw new GantryError(
      'PROMOTION_NOT_ALLOWED',
      `${reference} is not in ${environment} (${repository.registry}/${repository.repository}): it never reached ${environment}, so it cannot be promoted from there`,
      { cause: err, details: { reference, environment } },
    );
  }
  return {
    repository,
    digest: manifest.digest,
    manifest,
    labels: await readLabels(registry, repository, manifest),
  };
}

async function readLabels(
  registry: RegistryPort,
  repository: Repository,
  manifest: Manifest,
): Promise<Record<string, string>> {
  let image = manifest;
  if (image.kind === 'index') {
    const first = image.body.manifests[0];
    if (!first) return {};
    image = await registry.manifest(repository, first.digest);
    if (image.kind !== 'image') return {};
  }
  const labels: Record<string, string> = { ...(image.body.annotations ?? {}) };
  const config = image.body.config;
  if (
    (config.mediaType === MediaTypes.ociConfig || config.mediaType === MediaTypes.dockerConfig) &&
    config.size <= MAX_CONFIG
  ) {
    // A registry that fails to serve the config is an error (the labels decide which tags are
    // written); a config that is not JSON has no labels, and gates that need them say so.
    const bytes = await registry.blob(repository, config);
    let json: { config?: { Labels?: unknown } } = {};
    try {
      json = JSON.parse(bytes.toString('utf8')) as typeof json;
    } catch {
      json = {};
    }
    const raw = json.config?.Labels;
    if (raw && typeof raw === 'object') {
      for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') labels[k] = v;
    }
  }
  return labels;
}
