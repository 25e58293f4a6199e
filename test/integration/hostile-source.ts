/**
 * A scripted, HOSTILE source registry for the security tests: a fake registry serving one
 * repository whose tag list and manifests the test controls. Every manifest request by a tag the
 * test did not map (including names the registry itself listed, such as
 * `../../../prod/web/manifests/latest`) is answered with `fallback`, so a client that requests a
 * hostile name gets an image to copy: exactly what a malicious registry would do.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import {
  sendBytes,
  sendJson,
  sendRegistryError,
  startFakeRegistry,
  type FakeRegistry,
  type FakeRequest,
  type TestImage,
  type TestIndex,
} from '../helpers/index.js';

/** What the hostile source serves; fields may be changed between runs. */
export interface HostileSourceScript {
  /** The tag list `/v2/<repo>/tags/list` answers (any strings, valid or not). */
  tags: string[];
  /** Manifests by tag. */
  byTag: Map<string, TestImage | TestIndex>;
  /** Served for any other manifest reference that is not a known digest. */
  fallback: TestImage;
  /** Extra manifests and blobs reachable by digest only. */
  extra: (TestImage | TestIndex)[];
}

/** A running hostile source. */
export interface HostileSource extends FakeRegistry {
  readonly script: HostileSourceScript;
  /** Manifest references (decoded) that clients asked for. */
  manifestRequests(): string[];
}

function all(script: HostileSourceScript): (TestImage | TestIndex)[] {
  const top = [script.fallback, ...script.byTag.values(), ...script.extra];
  return top.flatMap((m) => ('images' in m ? [m, ...m.images] : [m]));
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function serveManifest(res: ServerResponse, m: TestImage | TestIndex): void {
  sendBytes(res, 200, m.manifest, { 'Content-Type': m.mediaType, 'Docker-Content-Digest': m.digest });
}

/** Starts a hostile source serving repository `repository`. */
export async function startHostileSource(
  repository: string,
  script: HostileSourceScript,
): Promise<HostileSource> {
  const prefix = `/v2/${repository}/`;
  const handler = (req: FakeRequest, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const path = url.split('?')[0] ?? url;
    if (path === '/v2/' || path === '/v2') return sendJson(res, 200, {});
    if (!path.startsWith(prefix)) return sendRegistryError(res, 404, 'NAME_UNKNOWN', 'unknown repository');
    const rest = path.slice(prefix.length);
    if (rest === 'tags/list') return sendJson(res, 200, { name: repository, tags: script.tags });
    if (rest.startsWith('referrers/')) return sendRegistryError(res, 404, 'UNSUPPORTED', 'no referrers API');
    if (rest.startsWith('blobs/')) {
      const digest = rest.slice('blobs/'.length);
      for (const m of all(script)) {
        const blob = m.blobs.get(digest);
        if (blob) return sendBytes(res, 200, blob, { 'Docker-Content-Digest': digest });
      }
      return sendRegistryError(res, 404, 'BLOB_UNKNOWN', 'blob unknown');
    }
    if (rest.startsWith('manifests/')) {
      const reference = decode(rest.slice('manifests/'.length));
      const byDigest = all(script).find((m) => m.digest === reference);
      if (byDigest) return serveManifest(res, byDigest);
      if (/^sha256-[0-9a-f]{64}(\.\w+)?$/.test(reference) || reference.startsWith('sha256:')) {
        return sendRegistryError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
      }
      return serveManifest(res, script.byTag.get(reference) ?? script.fallback);
    }
    return sendRegistryError(res, 404, 'NOT_FOUND', 'not found');
  };
  const fake = await startFakeRegistry(handler);
  return Object.assign(fake, {
    script,
    manifestRequests: () =>
      fake.requests
        .map((r) => /\/manifests\/(.*)$/.exec(r.url.split('?')[0] ?? '')?.[1])
        .filter((r): r is string => r !== undefined)
        .map(decode),
  });
}

/** Writes an OCI image layout holding `images` under the given `ref.name`s. */
export async function writeLayout(
  path: string,
  entries: readonly (readonly [string, TestImage])[],
): Promise<void> {
  await mkdir(join(path, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(path, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const [, image] of entries) {
    for (const [digest, data] of image.blobs)
      await writeFile(join(path, 'blobs', 'sha256', digest.slice(7)), data);
    await writeFile(join(path, 'blobs', 'sha256', image.digest.slice(7)), image.manifest);
  }
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: entries.map(([name, image]) => ({
      mediaType: image.mediaType,
      digest: image.digest,
      size: image.size,
      annotations: { 'org.opencontainers.image.ref.name': name },
    })),
  };
  await writeFile(join(path, 'index.json'), JSON.stringify(index));
}
