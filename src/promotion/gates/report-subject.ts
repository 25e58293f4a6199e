/**
 * Which image a scanner report says it is about, read from where each format records it. Pure:
 * the parsed JSON document in, digests out (see report-binding.ts for how they are used).
 */
import type { Digest } from '../../core/index.js';

/**
 * The image a report names (see {@link reportSubject} for where each format carries it).
 * At least one of the lists is non-empty.
 */
export interface ReportSubject {
  /** Manifest (or index) digests: repo digests, a manifest digest, a purl or hash. */
  readonly digests: readonly Digest[];
  /** Image config digests ("image IDs"). */
  readonly imageIds: readonly Digest[];
}

const DIGEST_IN = /sha256:[0-9a-f]{64}/g;

/** Every sha256 digest written in `value` (a string or a list of strings; purl `%3A` decoded). */
function digestsIn(value: unknown): Digest[] {
  const texts = Array.isArray(value) ? (value as unknown[]) : [value];
  return texts.flatMap((t) =>
    typeof t === 'string'
      ? ([...t.replace(/%3A/gi, ':').matchAll(DIGEST_IN)].map((m) => m[0]) as Digest[])
      : [],
  );
}

function field(value: unknown, ...path: string[]): unknown {
  let v = value;
  for (const p of path)
    v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

/**
 * The image `doc` says it is about, or `undefined` when it names none. Each format keeps it in
 * its own place, and no place belongs to two formats:
 * - Trivy JSON: `Metadata.RepoDigests` (and a digest in `ArtifactName`); image id `Metadata.ImageID`;
 * - Grype JSON: `source.target.manifestDigest`, `.repoDigests` (and a digest in `.userInput`);
 *   image id `source.target.imageID`;
 * - CycloneDX: `metadata.component` — a digest in its `purl`, `bom-ref`, `version` or `name`, a
 *   SHA-256 in `hashes`, Trivy's `aquasecurity:trivy:RepoDigest` property; image id
 *   `aquasecurity:trivy:ImageID`;
 * - SARIF: run `properties` (`repoDigests`, `imageDigest`, `digest`; image id `imageID`), and the
 *   `image@sha256:…` Grype writes in result locations' `fullyQualifiedName`.
 */
export function reportSubject(doc: Record<string, unknown>): ReportSubject | undefined {
  const found = [trivy(doc), grype(doc), cycloneDx(doc), sarif(doc)];
  const digests = [...new Set(found.flatMap((f) => f.digests))];
  const imageIds = [...new Set(found.flatMap((f) => f.imageIds))];
  return digests.length === 0 && imageIds.length === 0 ? undefined : { digests, imageIds };
}

function trivy(doc: unknown): ReportSubject {
  return {
    digests: [...digestsIn(field(doc, 'Metadata', 'RepoDigests')), ...digestsIn(field(doc, 'ArtifactName'))],
    imageIds: digestsIn(field(doc, 'Metadata', 'ImageID')),
  };
}

function grype(doc: unknown): ReportSubject {
  const target = field(doc, 'source', 'target');
  return {
    digests: [
      ...digestsIn(field(target, 'manifestDigest')),
      ...digestsIn(field(target, 'repoDigests')),
      ...digestsIn(field(target, 'userInput')),
    ],
    imageIds: digestsIn(field(target, 'imageID')),
  };
}

function cycloneDx(doc: unknown): ReportSubject {
  const c = field(doc, 'metadata', 'component');
  const digests = [
    ...digestsIn(field(c, 'purl')),
    ...digestsIn(field(c, 'bom-ref')),
    ...digestsIn(field(c, 'version')),
    ...digestsIn(field(c, 'name')),
  ];
  const imageIds: Digest[] = [];
  for (const h of list(field(c, 'hashes'))) {
    const alg = field(h, 'alg');
    const content = field(h, 'content');
    if (typeof alg === 'string' && /^sha-?256$/i.test(alg) && typeof content === 'string')
      digests.push(...digestsIn(`sha256:${content.toLowerCase()}`));
  }
  for (const p of list(field(c, 'properties'))) {
    const name = field(p, 'name');
    if (name === 'aquasecurity:trivy:RepoDigest') digests.push(...digestsIn(field(p, 'value')));
    if (name === 'aquasecurity:trivy:ImageID') imageIds.push(...digestsIn(field(p, 'value')));
  }
  return { digests, imageIds };
}

function sarif(doc: unknown): ReportSubject {
  const digests: Digest[] = [];
  const imageIds: Digest[] = [];
  for (const run of list(field(doc, 'runs'))) {
    const props = field(run, 'properties');
    digests.push(
      ...digestsIn(field(props, 'repoDigests')),
      ...digestsIn(field(props, 'imageDigest')),
      ...digestsIn(field(props, 'digest')),
    );
    imageIds.push(...digestsIn(field(props, 'imageID')), ...digestsIn(field(props, 'imageId')));
    for (const result of list(field(run, 'results')).slice(0, 1000))
      for (const location of list(field(result, 'locations')))
        for (const logical of list(field(location, 'logicalLocations'))) {
          const fqn = field(logical, 'fullyQualifiedName');
          if (typeof fqn === 'string') digests.push(...digestsIn(/@(sha256:[0-9a-f]{64})/.exec(fqn)?.[1]));
        }
  }
  return { digests, imageIds };
}

function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [];
}
