/**
 * Seeding a test registry with generated images using raw undici requests (monolithic blob
 * uploads: `POST /v2/<name>/blobs/uploads/` then `PUT <location>?digest=…`), independent of
 * Gantry's own client so tests are not circular. Auth is handled per the registry's variant.
 */
import type { Agent } from 'undici';
import type { TestImage, TestIndex } from './images.js';
import { sha256Digest } from './images.js';
import type { RegistryProcess } from './registry.js';
import { authorizationFor, dispatcherFor, expectStatus, registryRequest } from './registry-http.js';

/** The result of a manifest PUT. */
export interface PushedManifest {
  /** Digest the registry reported in `Docker-Content-Digest` (checked against the bytes). */
  digest: string;
  /** `Location` header of the response. */
  location: string | undefined;
}

/** Credentials and connection reused by the requests of one push. */
interface Session {
  registry: RegistryProcess;
  repository: string;
  authorization: string | null;
  dispatcher: Agent | undefined;
}

async function withSession<T>(
  registry: RegistryProcess,
  repository: string,
  fn: (session: Session) => Promise<T>,
): Promise<T> {
  const authorization = (await authorizationFor(registry, repository, ['pull', 'push'])) ?? null;
  const dispatcher = dispatcherFor(registry);
  try {
    return await fn({ registry, repository, authorization, dispatcher });
  } finally {
    await dispatcher?.close();
  }
}

function send(session: Session, path: string, options: Parameters<typeof registryRequest>[2] = {}) {
  return registryRequest(session.registry, path, {
    ...options,
    authorization: session.authorization,
    ...(session.dispatcher ? { dispatcher: session.dispatcher } : {}),
  });
}

async function uploadBlob(session: Session, data: Buffer, digest: string): Promise<void> {
  const name = session.repository;
  const head = await send(session, `/v2/${name}/blobs/${digest}`, { method: 'HEAD' });
  if (head.status === 200) return;
  const start = await send(session, `/v2/${name}/blobs/uploads/`, { method: 'POST' });
  expectStatus(start, [202], `POST /v2/${name}/blobs/uploads/`);
  const location = start.header('location');
  if (!location) throw new Error(`POST /v2/${name}/blobs/uploads/: no Location header`);
  const url = new URL(location, session.registry.url);
  url.searchParams.set('digest', digest);
  const put = await send(session, url.toString(), {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
    body: data,
  });
  expectStatus(put, [201], `PUT blob ${digest} to ${name}`);
}

async function putManifest(
  session: Session,
  bytes: Buffer,
  mediaType: string,
  reference: string,
): Promise<PushedManifest> {
  const path = `/v2/${session.repository}/manifests/${reference}`;
  const res = await send(session, path, {
    method: 'PUT',
    headers: { 'content-type': mediaType },
    body: bytes,
  });
  expectStatus(res, [201], `PUT ${path}`);
  const digest = res.header('docker-content-digest') ?? '';
  const expected = sha256Digest(bytes);
  if (digest !== expected)
    throw new Error(`PUT ${path}: registry reported digest ${digest}, bytes are ${expected}`);
  return { digest, location: res.header('location') };
}

async function pushOne(session: Session, image: TestImage | TestIndex, reference: string): Promise<void> {
  if ('images' in image) {
    for (const child of image.images) await pushOne(session, child, child.digest);
  } else {
    for (const [digest, data] of image.blobs) await uploadBlob(session, data, digest);
  }
  await putManifest(session, image.manifest, image.mediaType, reference);
}

/**
 * Uploads one blob (monolithic), skipping it when the registry already has it. `digest` defaults
 * to the sha256 of `data`; pass a different one to provoke a digest mismatch. Returns the digest.
 */
export async function pushBlob(
  registry: RegistryProcess,
  repository: string,
  data: Buffer,
  digest: string = sha256Digest(data),
): Promise<string> {
  await withSession(registry, repository, (session) => uploadBlob(session, data, digest));
  return digest;
}

/** PUTs manifest `bytes` as `mediaType` under `reference` (a tag or the digest). */
export function pushManifest(
  registry: RegistryProcess,
  repository: string,
  bytes: Buffer,
  mediaType: string,
  reference: string,
): Promise<PushedManifest> {
  return withSession(registry, repository, (session) => putManifest(session, bytes, mediaType, reference));
}

/**
 * Pushes an image, artifact or index with all its blobs (an index's children first, by digest)
 * and tags it with `tag` (default: pushed by digest only). Returns the manifest digest.
 */
export async function pushImage(
  registry: RegistryProcess,
  repository: string,
  image: TestImage | TestIndex,
  tag?: string,
): Promise<string> {
  await withSession(registry, repository, (session) => pushOne(session, image, tag ?? image.digest));
  return image.digest;
}
