/**
 * Manifest operations (distribution-spec "Pulling manifests", "Pushing manifests", "Deleting
 * manifests"): https://github.com/opencontainers/distribution-spec/blob/main/spec.md
 * Every digest is computed locally from the exact bytes; `Docker-Content-Digest` is a hint that
 * must agree when present.
 */
import {
  Digester,
  GantryError,
  MANIFEST_ACCEPT,
  digestAlgorithm,
  digestOf,
  isDigest,
  parseDigest,
  type Digest,
} from '../core/index.js';
import { repositoryScope } from './auth/challenge.js';
import { parseManifest, type Manifest } from './manifest.js';
import { formatReference, manifestReference, type Reference, type Repository } from './reference.js';
import { Session } from './session.js';
import { discardBody, readBody, MAX_MANIFEST_BYTES } from './transport/read-body.js';
import type { HttpResponse } from './transport/http-transport.js';
import { rereadDamaged } from './reread.js';

/** What a HEAD tells about a manifest. */
export interface ManifestHeadResult {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
}

/** Options for {@link manifestPut}. */
export interface ManifestPutResult {
  readonly digest: Digest;
  /** True when the registry says it indexed the manifest's `subject` (`OCI-Subject` header). */
  readonly subjectIndexed: boolean;
  /** True when the registry answered with this digest (`Docker-Content-Digest`) for what it stored. */
  readonly confirmed: boolean;
}

const ACCEPT = MANIFEST_ACCEPT.join(', ');

function pullScope(repo: Repository): string[] {
  return [repositoryScope(repo.repository, 'pull')];
}

/**
 * Resolves a manifest to its digest, media type and size; `undefined` when it does not exist.
 * This GETs rather than HEADs: undici closes the connection after every HEAD (to guard against
 * servers that send a body anyway), manifests are small, and a GET keeps the connection alive and
 * lets the digest be computed rather than taken from a header.
 */
export async function manifestHead(
  session: Session,
  ref: Reference,
): Promise<ManifestHeadResult | undefined> {
  const got = await manifestBytes(session, ref);
  if (got === undefined) return undefined;
  return {
    digest: got.digest,
    mediaType: mediaTypeOf(got.contentType, got.bytes),
    size: got.bytes.byteLength,
  };
}

/**
 * GETs a manifest's bytes and verifies them against the digest asked for or announced (read again
 * when they arrive damaged); undefined when the registry does not have it.
 */
async function manifestBytes(
  session: Session,
  ref: Reference,
): Promise<{ bytes: Buffer; digest: Digest; contentType: string | undefined } | undefined> {
  const what = `manifest ${formatReference(ref)}`;
  return rereadDamaged(async (body) => {
    const res = await session.call({
      method: 'GET',
      registry: ref.registry,
      path: Session.manifestPath(ref, manifestReference(ref)),
      scopes: pullScope(ref),
      headers: { accept: ACCEPT },
      expect: [200, 404],
      what,
    });
    if (res.status === 404) {
      await discardBody(res.body);
      return undefined;
    }
    return body(async () => {
      const bytes = await readManifestBody(res, what);
      const digest = verifyManifestDigest(ref, bytes, res.headers.get('docker-content-digest'));
      return { bytes, digest, contentType: res.headers.get('content-type') };
    });
  });
}

function mediaTypeOf(contentType: string | undefined, bytes: Buffer): string {
  const header = contentType?.split(';')[0]?.trim();
  if (header && header !== 'application/json' && header !== 'application/octet-stream') return header;
  try {
    const declared = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    if (typeof declared === 'string') return declared;
  } catch {
    // not JSON: the caller sees it when it reads the manifest
  }
  return header ?? 'application/octet-stream';
}

/** GETs a manifest byte-exact and verifies its digest. Throws `REGISTRY_MANIFEST_UNKNOWN` when absent. */
export async function manifestGet(session: Session, ref: Reference): Promise<Manifest> {
  const got = await manifestBytes(session, ref);
  if (got === undefined)
    throw new GantryError('REGISTRY_MANIFEST_UNKNOWN', `manifest unknown: ${formatReference(ref)}`, {
      details: { reference: formatReference(ref) },
    });
  return parseManifest(got.bytes, got.digest, got.contentType);
}

async function readManifestBody(res: HttpResponse, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > MAX_MANIFEST_BYTES) {
    res.body.destroy();
    throw new GantryError(
      'REGISTRY_TOO_LARGE',
      `${what} is ${declared} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`,
      {
        details: { size: declared, limit: MAX_MANIFEST_BYTES },
      },
    );
  }
  return readBody(res.body, MAX_MANIFEST_BYTES, { what });
}

function verifyManifestDigest(ref: Reference, bytes: Buffer, header: string | undefined): Digest {
  const algorithm = ref.digest ? digestAlgorithm(ref.digest) : 'sha256';
  const computed = digestOf(bytes, algorithm);
  if (ref.digest && computed !== ref.digest) throw lyingDigest(ref, ref.digest, computed);
  if (header) {
    let claimed: Digest;
    try {
      claimed = parseDigest(header);
    } catch {
      throw new GantryError(
        'REGISTRY_PROTOCOL',
        `registry sent an invalid Docker-Content-Digest for ${formatReference(ref)}`,
      );
    }
    const check =
      digestAlgorithm(claimed) === algorithm ? computed : digestOf(bytes, digestAlgorithm(claimed));
    if (check !== claimed) throw lyingDigest(ref, claimed, check);
  }
  return computed;
}

function lyingDigest(ref: Reference, claimed: string, actual: string): GantryError {
  return new GantryError(
    'REGISTRY_DIGEST_MISMATCH',
    `digest mismatch for ${formatReference(ref)}: expected ${claimed}, content is ${actual}`,
    { details: { reference: formatReference(ref), expected: claimed, actual } },
  );
}

/**
 * PUTs manifest bytes under a tag or digest. When `reference` is a digest it must be the bytes'
 * digest. The registry's `Docker-Content-Digest`, when sent, must agree.
 */
export async function manifestPut(
  session: Session,
  repo: Repository,
  reference: string,
  bytes: Buffer,
  mediaType: string,
): Promise<ManifestPutResult> {
  // Checked first: nothing about an invalid tag or digest is computed or sent.
  const path = Session.manifestPath(repo, reference);
  const algorithm = reference.includes(':') ? digestAlgorithm(parseDigest(reference)) : 'sha256';
  const d = new Digester(algorithm);
  d.update(bytes);
  const digest = d.digest();
  const target: Reference = {
    registry: repo.registry,
    repository: repo.repository,
    ...(reference.includes(':') ? { digest: reference as Digest } : { tag: reference }),
  };
  if (reference.includes(':') && reference !== digest) throw lyingDigest(target, reference, digest);
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    throw new GantryError(
      'REGISTRY_TOO_LARGE',
      `manifest ${digest} is over the ${MAX_MANIFEST_BYTES}-byte limit`,
    );
  }
  const res = await session.call({
    method: 'PUT',
    registry: repo.registry,
    path,
    scopes: [repositoryScope(repo.repository, 'pull', 'push')],
    headers: { 'content-type': mediaType },
    body: bytes,
    expect: [200, 201, 202],
    what: `push manifest ${formatReference(target)}`,
  });
  await discardBody(res.body);
  const header = res.headers.get('docker-content-digest');
  if (header && isDigest(header) && digestAlgorithm(header) === algorithm && header !== digest) {
    throw new GantryError(
      'REGISTRY_DIGEST_MISMATCH',
      `registry stored ${formatReference(target)} as ${header}, but the bytes sent hash to ${digest}`,
      { details: { expected: digest, actual: header } },
    );
  }
  return {
    digest,
    subjectIndexed: res.headers.get('oci-subject') !== undefined,
    confirmed: header === digest,
  };
}

/** DELETEs a manifest by digest. Throws `REGISTRY_MANIFEST_UNKNOWN` when it is absent. */
export async function manifestDelete(session: Session, ref: Reference): Promise<void> {
  if (!ref.digest) {
    throw new GantryError(
      'REFERENCE_INVALID',
      `delete needs a digest reference, got ${formatReference(ref)}`,
    );
  }
  const res = await session.call({
    method: 'DELETE',
    registry: ref.registry,
    path: Session.manifestPath(ref, ref.digest),
    scopes: [repositoryScope(ref.repository, 'delete')],
    expect: [200, 202, 404],
    what: `delete manifest ${formatReference(ref)}`,
  });
  await discardBody(res.body);
  if (res.status === 404) {
    throw new GantryError('REGISTRY_MANIFEST_UNKNOWN', `manifest unknown: ${formatReference(ref)}`);
  }
}
