/**
 * Manifest and descriptor types (OCI image-spec and Docker v2 schema 2) and a parser that checks
 * their shape. Bytes are kept exactly as received: the digest is always of the raw bytes.
 * https://github.com/opencontainers/image-spec/blob/main/manifest.md
 */
import * as z from 'zod/mini';
import {
  GantryError,
  MediaTypes,
  isDigest,
  isIndexMediaType,
  isSchema1MediaType,
  type Descriptor,
  type Digest,
  type ImageIndex,
  type ImageManifest,
  type Manifest,
} from '../core/index.js';

// The value types live in core (the promotion layer uses them without depending on the registry).
export type { Descriptor, ImageIndex, ImageManifest, Manifest, Platform } from '../core/index.js';

const digestSchema = z.string().check(z.refine(isDigest, { message: 'invalid digest' }));
const annotationsSchema = z.record(z.string(), z.string());
const platformSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  variant: z.optional(z.string()),
  'os.version': z.optional(z.string()),
  'os.features': z.optional(z.array(z.string())),
});
const descriptorSchema = z.looseObject({
  mediaType: z.string().check(z.minLength(1)),
  digest: digestSchema,
  size: z.int().check(z.nonnegative()),
  urls: z.optional(z.array(z.string())),
  annotations: z.optional(annotationsSchema),
  platform: z.optional(platformSchema),
  artifactType: z.optional(z.string()),
});
const imageSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.optional(z.string()),
  artifactType: z.optional(z.string()),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: z.optional(descriptorSchema),
  annotations: z.optional(annotationsSchema),
});
const indexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.optional(z.string()),
  artifactType: z.optional(z.string()),
  manifests: z.array(descriptorSchema),
  subject: z.optional(descriptorSchema),
  annotations: z.optional(annotationsSchema),
});

/**
 * Parses manifest bytes. `contentType` is the `Content-Type` the registry sent (or the media type
 * the caller declares); when it is missing or generic the `mediaType` field and then the shape
 * decide. Schema 1 is refused with `REGISTRY_MANIFEST_SCHEMA1`; anything malformed with
 * `REGISTRY_MANIFEST_INVALID`.
 */
export function parseManifest(bytes: Buffer, digest: Digest, contentType?: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new GantryError('REGISTRY_MANIFEST_INVALID', `manifest ${digest} is not valid JSON`, {
      details: { digest },
    });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new GantryError('REGISTRY_MANIFEST_INVALID', `manifest ${digest} is not a JSON object`, {
      details: { digest },
    });
  }
  const obj = json as Record<string, unknown>;
  const declared = typeof obj.mediaType === 'string' ? obj.mediaType : undefined;
  const header = contentType?.split(';')[0]?.trim();
  if (obj.schemaVersion === 1 || (header && isSchema1MediaType(header))) {
    throw new GantryError(
      'REGISTRY_MANIFEST_SCHEMA1',
      `manifest ${digest} is Docker schema 1, which is deprecated and not supported: re-push the image with a current client`,
      { details: { digest } },
    );
  }
  const generic =
    !header ||
    header === 'application/json' ||
    header === 'application/octet-stream' ||
    header === 'text/plain';
  let mediaType = generic ? declared : header;
  if (!mediaType) mediaType = 'manifests' in obj ? MediaTypes.ociIndex : MediaTypes.ociManifest;
  if (declared && header && !generic && declared !== header) {
    throw new GantryError(
      'REGISTRY_MANIFEST_INVALID',
      `manifest ${digest} declares media type ${declared} but was served as ${header}`,
      { details: { digest } },
    );
  }
  const isIndex = isIndexMediaType(mediaType) || (!('layers' in obj) && 'manifests' in obj);
  const result = (isIndex ? indexSchema : imageSchema).safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.join('.') || '(root)';
    throw new GantryError(
      'REGISTRY_MANIFEST_INVALID',
      `manifest ${digest} is malformed at ${where}: ${issue?.message ?? 'invalid'}`,
      { details: { digest } },
    );
  }
  return isIndex
    ? { kind: 'index', bytes, digest, mediaType, body: result.data as unknown as ImageIndex }
    : { kind: 'image', bytes, digest, mediaType, body: result.data as unknown as ImageManifest };
}

/** The descriptor of a fetched manifest (what a parent index or a referrer would point at). */
export function manifestDescriptor(m: Manifest): Descriptor {
  return Object.freeze({
    mediaType: m.mediaType,
    digest: m.digest,
    size: m.bytes.byteLength,
    ...(m.body.artifactType !== undefined && { artifactType: m.body.artifactType }),
    ...(m.body.annotations !== undefined && { annotations: m.body.annotations }),
  });
}

/** The descriptors a manifest points at (children of an index; config and layers of an image). */
export function manifestChildren(m: Manifest): readonly Descriptor[] {
  return m.kind === 'index' ? m.body.manifests : [m.body.config, ...m.body.layers];
}
