/**
 * Reading back from a test registry with raw undici requests (independent of Gantry's client), to
 * assert that what a test copied arrived byte for byte.
 */
import type { RegistryProcess } from './registry.js';
import { expectStatus, registryRequest } from './registry-http.js';

/** Every manifest media type, for `Accept`. */
export const ALL_MANIFEST_TYPES: readonly string[] = Object.freeze([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
]);

/** A fetched manifest. */
export interface FetchedManifest {
  /** Exact bytes served. */
  bytes: Buffer;
  /** `Content-Type` of the response. */
  mediaType: string;
  /** `Docker-Content-Digest` of the response. */
  digest: string | undefined;
}

/** GETs a manifest by tag or digest; throws unless 200. */
export async function fetchManifest(
  registry: RegistryProcess,
  repository: string,
  reference: string,
  accept: readonly string[] = ALL_MANIFEST_TYPES,
): Promise<FetchedManifest> {
  const path = `/v2/${repository}/manifests/${reference}`;
  const res = await registryRequest(registry, path, { headers: { accept: accept.join(', ') } });
  expectStatus(res, [200], `GET ${path}`);
  return {
    bytes: res.body,
    mediaType: res.header('content-type') ?? '',
    digest: res.header('docker-content-digest'),
  };
}

/** GETs a blob; throws unless 200. */
export async function fetchBlob(
  registry: RegistryProcess,
  repository: string,
  digest: string,
): Promise<Buffer> {
  const path = `/v2/${repository}/blobs/${digest}`;
  const res = await registryRequest(registry, path);
  expectStatus(res, [200], `GET ${path}`);
  return res.body;
}

/** GETs `/v2/<name>/tags/list` (optionally `?n=&last=`); returns the tags and the raw `Link` header. */
export async function listTags(
  registry: RegistryProcess,
  repository: string,
  page: { n?: number; last?: string } = {},
): Promise<{ tags: string[]; link: string | undefined }> {
  const query = new URLSearchParams();
  if (page.n !== undefined) query.set('n', String(page.n));
  if (page.last !== undefined) query.set('last', page.last);
  const qs = query.toString();
  const path = `/v2/${repository}/tags/list${qs ? `?${qs}` : ''}`;
  const res = await registryRequest(registry, path);
  expectStatus(res, [200], `GET ${path}`);
  const body = JSON.parse(res.body.toString('utf8')) as { tags?: string[] | null };
  return { tags: body.tags ?? [], link: res.header('link') };
}
