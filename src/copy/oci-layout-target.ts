/**
 * An OCI image layout directory as a copy source and destination, for air-gapped transfers
 * (https://github.com/opencontainers/image-spec/blob/main/image-layout.md):
 *
 *   PATH/oci-layout            {"imageLayoutVersion":"1.0.0"}
 *   PATH/index.json            an image index; entries named by `org.opencontainers.image.ref.name`
 *   PATH/blobs/<alg>/<hex>     content, manifests included
 *
 * This class maps the target interfaces onto the layout; the blob store (verified reads, atomic
 * writes) is in `oci-layout-blobs.ts`, `index.json` and `oci-layout` (with the serialised
 * updates) in `oci-layout-index.ts`.
 *
 * References: a tag names the last `index.json` entry with that `ref.name`; a digest names a
 * manifest blob; the empty string means "no name" the way skopeo treats `oci:PATH` — read: the
 * only manifest of `index.json`; write: an entry without `ref.name`.
 */
import { Readable } from 'node:stream';
import {
  GantryError,
  MediaTypes,
  digestOf,
  isGantryError,
  isImageManifestMediaType,
  isIndexMediaType,
  parseDigest,
  verifyBytes,
  type Digest,
} from '../core/index.js';
import { parseManifest, type Descriptor, type Manifest } from '../registry/index.js';
import { LayoutBlobStore, MAX_MANIFEST_BYTES } from './oci-layout-blobs.js';
import {
  LayoutIndexFile,
  OCI_REF_NAME_ANNOTATION,
  refName,
  tagNames,
  type LayoutIndex,
} from './oci-layout-index.js';
import { isOciLayoutTag } from './oci-layout-reference.js';
import type { BlobOutcome, ReadTarget, ResolvedManifest, WriteTarget } from './target.js';

export { OCI_LAYOUT_VERSION, OCI_REF_NAME_ANNOTATION } from './oci-layout-index.js';

/** Manifests whose subjects `referrers()` reads at once. */
const REFERRER_READ_CONCURRENCY = 16;

/** What a manifest blob says about itself, for `referrers()`. */
interface ManifestFacts {
  readonly subject?: Digest;
  readonly descriptor: Descriptor;
}

/** Reads from and writes to one OCI image layout directory. */
export class OciLayoutTarget implements ReadTarget, WriteTarget {
  /** `oci:PATH`. */
  readonly name: string;
  /** The layout directory. */
  readonly path: string;
  readonly #blobs: LayoutBlobStore;
  readonly #index: LayoutIndexFile;
  readonly #facts = new Map<Digest, Promise<ManifestFacts | undefined>>();

  /** `path` is the layout directory; it is created on the first write. */
  constructor(path: string) {
    this.path = path;
    this.name = `oci:${path}`;
    this.#blobs = new LayoutBlobStore(path, this.name);
    this.#index = new LayoutIndexFile(path, this.name);
  }

  // ---------------------------------------------------------------- read side

  /**
   * Fetches a manifest by tag, digest or `''` (the only manifest), verified against its digest.
   * Throws `REGISTRY_NAME_UNKNOWN` when there is no layout, `REGISTRY_MANIFEST_UNKNOWN` when the
   * tag or manifest is absent, `REGISTRY_TOO_LARGE` over 4 MiB.
   */
  async fetchManifest(reference: string): Promise<Manifest> {
    const index = await this.#index.require();
    const { digest, entry } = this.#lookup(index, reference);
    const bytes = await this.#blobs.readManifest(digest, entry?.size);
    if (bytes === undefined) {
      throw new GantryError(
        'REGISTRY_MANIFEST_UNKNOWN',
        entry
          ? `${this.#what(reference)}: index.json names ${digest}, but its blob is missing`
          : `${this.#what(reference)}: manifest unknown`,
        { details: { digest } },
      );
    }
    return parseManifest(bytes, digest, entry?.mediaType);
  }

  /**
   * Streams a blob from `blobs/`, verified while it streams: the stream errors with
   * `REGISTRY_SIZE_MISMATCH` / `REGISTRY_DIGEST_MISMATCH` instead of ending when the file is wrong,
   * and with `REGISTRY_BLOB_UNKNOWN` when it is missing.
   */
  fetchBlob(descriptor: Descriptor): Readable {
    return this.#blobs.read(descriptor);
  }

  /**
   * Manifests of `index.json` whose `subject` is `digest`, as the referrers API describes them:
   * `artifactType` (the manifest's, else its config media type) and the manifest's annotations.
   * An absent layout has no referrers.
   */
  async referrers(digest: Digest): Promise<readonly Descriptor[]> {
    const index = await this.#index.read();
    if (!index) return [];
    const seen = new Set<string>();
    const candidates = index.manifests.filter((d) => {
      if (seen.has(d.digest)) return false;
      seen.add(d.digest);
      return isImageManifestMediaType(d.mediaType) || isIndexMediaType(d.mediaType);
    });
    const facts: (ManifestFacts | undefined)[] = [];
    for (let i = 0; i < candidates.length; i += REFERRER_READ_CONCURRENCY) {
      const batch = candidates.slice(i, i + REFERRER_READ_CONCURRENCY);
      facts.push(...(await Promise.all(batch.map((d) => this.#manifestFacts(d)))));
    }
    return facts.filter((f) => f?.subject === digest).map((f) => (f as ManifestFacts).descriptor);
  }

  /** The tags of `index.json`; empty when there is no layout yet. */
  async existingTags(): Promise<ReadonlySet<string>> {
    return tagNames((await this.#index.read())?.manifests ?? []);
  }

  /** The `ref.name` of every `index.json` entry, in index order, without duplicates. */
  async tags(): Promise<string[]> {
    return [...tagNames((await this.#index.require()).manifests)];
  }

  // ---------------------------------------------------------------- write side

  /**
   * Looks a manifest up by tag (its `index.json` entry, when its blob is present with the right
   * size), by digest (the blob, when present and intact; media type from its `mediaType` field) or
   * by `''` (the only manifest). `undefined` when absent, including when there is no layout yet.
   */
  async resolve(reference: string): Promise<ResolvedManifest | undefined> {
    const index = await this.#index.read();
    if (!index) return undefined;
    let found;
    try {
      found = this.#lookup(index, reference);
    } catch (err) {
      if (isGantryError(err, 'REGISTRY_MANIFEST_UNKNOWN', 'USAGE_INVALID')) return undefined;
      throw err;
    }
    const { digest, entry } = found;
    if (entry && !reference.includes(':')) {
      const size = await this.#blobs.size(digest);
      if (size !== entry.size) return undefined;
      return Object.freeze({ digest, mediaType: entry.mediaType, size: entry.size });
    }
    let bytes: Buffer | undefined;
    try {
      bytes = await this.#blobs.readManifest(digest);
    } catch (err) {
      // A damaged blob is as good as absent: the caller writes it again.
      if (isGantryError(err, 'REGISTRY_DIGEST_MISMATCH', 'REGISTRY_TOO_LARGE')) return undefined;
      throw err;
    }
    if (bytes === undefined) return undefined;
    const mediaType = declaredMediaType(bytes) ?? entry?.mediaType;
    if (mediaType === undefined) return undefined;
    return Object.freeze({ digest, mediaType, size: bytes.byteLength });
  }

  /** True when `blobs/<alg>/<hex>` exists with the descriptor's size. */
  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    const size = await this.#blobs.size(parseDigest(descriptor.digest));
    return size === descriptor.size;
  }

  /**
   * Streams `content` (a buffer, or the stream it opens) into a temporary file next to the blob, hashing as it writes, and renames it
   * into place once digest and size are right (`REGISTRY_DIGEST_MISMATCH` /
   * `REGISTRY_SIZE_MISMATCH` otherwise, and the temporary file is removed). An existing blob is
   * written again (callers check {@link hasBlob} first). `mountFrom` does not apply.
   */
  async pushBlob(descriptor: Descriptor, content: Buffer | (() => Readable)): Promise<BlobOutcome> {
    const digest = parseDigest(descriptor.digest);
    await this.#index.ensure();
    const source = Buffer.isBuffer(content) ? Readable.from([content]) : content();
    await this.#blobs.write(digest, descriptor.size, source);
    return 'copied';
  }

  /**
   * Writes a manifest blob (digest verified, at most 4 MiB, shape checked with `parseManifest`).
   * Under a tag, the `index.json` entry with that `ref.name` is replaced (or added); under a digest
   * only the blob is written; under `''` an entry without `ref.name` is added unless one exists.
   */
  async pushManifest(bytes: Buffer, mediaType: string, reference: string): Promise<boolean> {
    const isDigestRef = reference.includes(':');
    if (!isDigestRef && reference !== '' && !isOciLayoutTag(reference)) {
      throw new GantryError('USAGE_INVALID', `invalid tag "${reference}" for ${this.name}`);
    }
    const digest = isDigestRef ? parseDigest(reference) : digestOf(bytes, 'sha256');
    verifyBytes(bytes, { digest }, { what: `manifest for ${this.name}@${digest}:` });
    const manifest = this.#checkManifest(bytes, digest, mediaType);
    await this.#index.ensure();
    await this.#blobs.write(digest, bytes.byteLength, Readable.from([bytes]));
    this.#remember(manifest);
    // Nobody but this process vouches for the write: callers read it back.
    if (isDigestRef) return false;
    const entry = entryFor(manifest, mediaType, reference === '' ? undefined : reference);
    await this.#index.update((manifests) => {
      if (reference === '') {
        return manifests.some((d) => d.digest === digest && refName(d) === undefined)
          ? undefined
          : [...manifests, entry];
      }
      const at = manifests.findIndex((d) => refName(d) === reference);
      if (at === -1) return [...manifests, entry];
      // Replace in place (as skopeo does) and drop any later duplicates of the tag.
      return manifests.flatMap((d, i) => (i === at ? [entry] : refName(d) === reference ? [] : [d]));
    });
    return false;
  }

  /**
   * Writes a manifest that has a `subject` and adds an `index.json` entry for it without
   * `ref.name` (with `artifactType` and the manifest's annotations), so it stays reachable the
   * way oras keeps referrers in a layout. Nothing is added when an entry for that digest exists.
   */
  async pushReferrer(bytes: Buffer, mediaType: string): Promise<void> {
    const digest = digestOf(bytes, 'sha256');
    const manifest = this.#checkManifest(bytes, digest, mediaType);
    await this.#index.ensure();
    await this.#blobs.write(digest, bytes.byteLength, Readable.from([bytes]));
    const facts = this.#remember(manifest);
    await this.#index.update((manifests) =>
      manifests.some((d) => d.digest === digest) ? undefined : [...manifests, facts.descriptor],
    );
  }

  // ---------------------------------------------------------------- internals

  #what(reference: string): string {
    if (reference === '') return this.name;
    return reference.includes(':') ? `${this.name}@${reference}` : `${this.name}:${reference}`;
  }

  /** Finds what `reference` names; throws `REGISTRY_MANIFEST_UNKNOWN` (or `USAGE_INVALID` for an ambiguous `''`). */
  #lookup(index: LayoutIndex, reference: string): { digest: Digest; entry: Descriptor | undefined } {
    if (reference.includes(':')) {
      const digest = parseDigest(reference);
      return { digest, entry: index.manifests.findLast((d) => d.digest === digest) };
    }
    if (reference === '') {
      const [only, ...more] = index.manifests;
      if (!only) {
        throw new GantryError('REGISTRY_MANIFEST_UNKNOWN', `${this.name}: index.json lists no manifests`);
      }
      if (more.length > 0) {
        throw new GantryError(
          'USAGE_INVALID',
          `${this.name} holds ${index.manifests.length} manifests: name one with ${this.name}:TAG`,
        );
      }
      return { digest: only.digest, entry: only };
    }
    const entry = index.manifests.findLast((d) => refName(d) === reference);
    if (!entry) {
      throw new GantryError('REGISTRY_MANIFEST_UNKNOWN', `${this.#what(reference)}: tag unknown`, {
        details: { tag: reference },
      });
    }
    return { digest: entry.digest, entry };
  }

  /** Subject and descriptor of a manifest of `index.json`, cached by digest; `undefined` when its blob is missing. */
  #manifestFacts(entry: Descriptor): Promise<ManifestFacts | undefined> {
    const cached = this.#facts.get(entry.digest);
    if (cached) return cached;
    const pending = (async () => {
      const bytes = await this.#blobs.readManifest(entry.digest, entry.size);
      return bytes === undefined ? undefined : factsOf(parseManifest(bytes, entry.digest, entry.mediaType));
    })();
    this.#facts.set(entry.digest, pending);
    // Only settled facts of present blobs stay cached (content never changes under its digest).
    void pending.then(
      (facts) => facts === undefined && this.#facts.delete(entry.digest),
      () => this.#facts.delete(entry.digest),
    );
    return pending;
  }

  #remember(manifest: Manifest): ManifestFacts {
    const facts = factsOf(manifest);
    this.#facts.set(manifest.digest, Promise.resolve(facts));
    return facts;
  }

  #checkManifest(bytes: Buffer, digest: Digest, mediaType: string): Manifest {
    if (bytes.byteLength > MAX_MANIFEST_BYTES) {
      throw new GantryError(
        'REGISTRY_TOO_LARGE',
        `manifest ${digest} is over the ${MAX_MANIFEST_BYTES}-byte limit`,
        { details: { size: bytes.byteLength, limit: MAX_MANIFEST_BYTES } },
      );
    }
    return parseManifest(bytes, digest, mediaType);
  }
}

/** The referrers-API descriptor and the subject of a manifest. */
function factsOf(m: Manifest): ManifestFacts {
  const artifactType = m.body.artifactType ?? (m.kind === 'image' ? m.body.config.mediaType : undefined);
  const annotations = m.body.annotations;
  const descriptor: Descriptor = Object.freeze({
    mediaType: m.mediaType,
    digest: m.digest,
    size: m.bytes.byteLength,
    ...(artifactType !== undefined && { artifactType }),
    ...(annotations !== undefined &&
      Object.keys(annotations).length > 0 && { annotations: withoutRefName(annotations) }),
  });
  return m.body.subject ? { subject: m.body.subject.digest, descriptor } : { descriptor };
}

/** The `index.json` entry of a manifest pushed under `tag` (or without a name). */
function entryFor(m: Manifest, mediaType: string, tag: string | undefined): Descriptor {
  return Object.freeze({
    mediaType,
    digest: m.digest,
    size: m.bytes.byteLength,
    ...(m.body.artifactType !== undefined && { artifactType: m.body.artifactType }),
    ...(tag !== undefined && { annotations: { [OCI_REF_NAME_ANNOTATION]: tag } }),
  });
}

function withoutRefName(annotations: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  if (!(OCI_REF_NAME_ANNOTATION in annotations)) return annotations;
  const { [OCI_REF_NAME_ANNOTATION]: _dropped, ...rest } = annotations;
  return rest;
}

/** The `mediaType` field of manifest JSON, if any. */
function declaredMediaType(bytes: Buffer): string | undefined {
  try {
    const json = JSON.parse(bytes.toString('utf8')) as unknown;
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
    const obj = json as Record<string, unknown>;
    if (typeof obj.mediaType === 'string') return obj.mediaType;
    return 'manifests' in obj ? MediaTypes.ociIndex : 'layers' in obj ? MediaTypes.ociManifest : undefined;
  } catch {
    return undefined;
  }
}
