/**
 * An OCI image layout directory as a copy source and destination, for air-gapped transfers
 * (https://github.com/opencontainers/image-spec/blob/main/image-layout.md):
 *
 *   PATH/oci-layout            {"imageLayoutVersion":"1.0.0"}
 *   PATH/index.json            an image index; entries named by `org.opencontainers.image.ref.name`
 *   PATH/blobs/<alg>/<hex>     content, manifests included
 *
 * Everything read is verified against its digest (and size); everything written goes through a
 * temporary file that is renamed into place, so no partial blob or torn `index.json` is ever
 * visible. Updates of `index.json` are serialised within the instance; separate processes writing
 * the same layout at once are not coordinated (neither are skopeo's or oras's).
 *
 * References: a tag names the last `index.json` entry with that `ref.name`; a digest names a
 * manifest blob; the empty string means "no name" the way skopeo treats `oci:PATH` — read: the
 * only manifest of `index.json`; write: an entry without `ref.name`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  Digester,
  GantryError,
  MediaTypes,
  digestAlgorithm,
  digestHex,
  digestOf,
  isGantryError,
  isImageManifestMediaType,
  isIndexMediaType,
  parseDigest,
  toGantryError,
  writeFileAtomic as writeAtomic,
  type Digest,
} from '../core/index.js';
import { parseManifest, type Descriptor, type ImageIndex, type Manifest } from '../registry/index.js';
import { isOciLayoutTag } from './oci-layout-reference.js';
import type { BlobOutcome, ReadTarget, ResolvedManifest, WriteTarget } from './target.js';

/** The annotation naming an `index.json` entry (the `TAG` of `oci:PATH:TAG`). */
export const OCI_REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/** The `imageLayoutVersion` written to `oci-layout`. */
export const OCI_LAYOUT_VERSION = '1.0.0';

/** Manifests over this size are refused, as from a registry. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Manifests whose subjects `referrers()` reads at once. */
const REFERRER_READ_CONCURRENCY = 16;

/** `index.json` as read: the body (unknown fields kept, for rewriting) and its entries. */
interface LayoutIndex {
  readonly body: Readonly<Record<string, unknown>>;
  readonly manifests: readonly Descriptor[];
}

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
  #ready: Promise<void> | undefined;
  #layoutChecked: Promise<void> | undefined;
  #indexQueue: Promise<void> = Promise.resolve();
  readonly #facts = new Map<Digest, Promise<ManifestFacts | undefined>>();

  /** `path` is the layout directory; it is created on the first write. */
  constructor(path: string) {
    this.path = path;
    this.name = `oci:${path}`;
  }

  // ---------------------------------------------------------------- read side

  /**
   * Fetches a manifest by tag, digest or `''` (the only manifest), verified against its digest.
   * Throws `REGISTRY_NAME_UNKNOWN` when there is no layout, `REGISTRY_MANIFEST_UNKNOWN` when the
   * tag or manifest is absent, `REGISTRY_TOO_LARGE` over 4 MiB.
   */
  async fetchManifest(reference: string): Promise<Manifest> {
    const index = await this.#requireIndex();
    const { digest, entry } = this.#lookup(index, reference);
    const bytes = await this.#readManifestBlob(digest, entry?.size);
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
    const blobPath = (d: Digest): string => this.#blobPath(d);
    const name = this.name;
    async function* generate(): AsyncGenerator<Buffer> {
      const digest = parseDigest(descriptor.digest);
      const file = blobPath(digest);
      const digester = new Digester(digestAlgorithm(digest));
      const what = `blob ${name}@${digest}`;
      let handle;
      try {
        handle = await open(file, 'r');
      } catch (err) {
        if (errno(err) === 'ENOENT') {
          throw new GantryError('REGISTRY_BLOB_UNKNOWN', `${what}: blob unknown`, { details: { digest } });
        }
        throw ioError(err, 'open', file);
      }
      try {
        for await (const chunk of handle.createReadStream({ autoClose: false }) as AsyncIterable<Buffer>) {
          digester.update(chunk);
          if (digester.size > descriptor.size) {
            throw new GantryError(
              'REGISTRY_SIZE_MISMATCH',
              `${what} is larger than its declared ${descriptor.size} bytes`,
              { details: { digest, expected: descriptor.size } },
            );
          }
          yield chunk;
        }
      } catch (err) {
        throw isGantryError(err) ? err : ioError(err, 'read', file);
      } finally {
        await handle.close().catch(() => undefined);
      }
      if (digester.size !== descriptor.size) {
        throw new GantryError(
          'REGISTRY_SIZE_MISMATCH',
          `${what} has ${digester.size} bytes, expected ${descriptor.size}`,
          { details: { digest, expected: descriptor.size, actual: digester.size } },
        );
      }
      const actual = digester.digest();
      if (actual !== digest) {
        throw new GantryError('REGISTRY_DIGEST_MISMATCH', `${what} content hashes to ${actual}`, {
          details: { expected: digest, actual },
        });
      }
    }
    return Readable.from(generate(), { objectMode: false });
  }

  /**
   * Manifests of `index.json` whose `subject` is `digest`, as the referrers API describes them:
   * `artifactType` (the manifest's, else its config media type) and the manifest's annotations.
   * An absent layout has no referrers.
   */
  async referrers(digest: Digest): Promise<readonly Descriptor[]> {
    const index = await this.#readIndex();
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
    return tagNames((await this.#readIndex())?.manifests ?? []);
  }

  /** The `ref.name` of every `index.json` entry, in index order, without duplicates. */
  async tags(): Promise<string[]> {
    return [...tagNames((await this.#requireIndex()).manifests)];
  }

  // ---------------------------------------------------------------- write side

  /**
   * Looks a manifest up by tag (its `index.json` entry, when its blob is present with the right
   * size), by digest (the blob, when present and intact; media type from its `mediaType` field) or
   * by `''` (the only manifest). `undefined` when absent, including when there is no layout yet.
   */
  async resolve(reference: string): Promise<ResolvedManifest | undefined> {
    const index = await this.#readIndex();
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
      const size = await this.#fileSize(this.#blobPath(digest));
      if (size !== entry.size) return undefined;
      return Object.freeze({ digest, mediaType: entry.mediaType, size: entry.size });
    }
    let bytes: Buffer | undefined;
    try {
      bytes = await this.#readManifestBlob(digest);
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
    const size = await this.#fileSize(this.#blobPath(parseDigest(descriptor.digest)));
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
    await this.#ensureLayout();
    const source = Buffer.isBuffer(content) ? Readable.from([content]) : content();
    await this.#writeBlob(digest, descriptor.size, source);
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
    const actual = digestOf(bytes, digestAlgorithm(digest));
    if (actual !== digest) {
      throw new GantryError(
        'REGISTRY_DIGEST_MISMATCH',
        `manifest for ${this.name}@${digest}: the bytes hash to ${actual}`,
        { details: { expected: digest, actual } },
      );
    }
    const manifest = this.#checkManifest(bytes, digest, mediaType);
    await this.#ensureLayout();
    await this.#writeBlob(digest, bytes.byteLength, Readable.from([bytes]));
    this.#remember(manifest);
    // Nobody but this process vouches for the write: callers read it back.
    if (isDigestRef) return false;
    const entry = entryFor(manifest, mediaType, reference === '' ? undefined : reference);
    await this.#updateIndex((manifests) => {
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
    await this.#ensureLayout();
    await this.#writeBlob(digest, bytes.byteLength, Readable.from([bytes]));
    const facts = this.#remember(manifest);
    await this.#updateIndex((manifests) =>
      manifests.some((d) => d.digest === digest) ? undefined : [...manifests, facts.descriptor],
    );
  }

  // ---------------------------------------------------------------- internals

  #what(reference: string): string {
    if (reference === '') return this.name;
    return reference.includes(':') ? `${this.name}@${reference}` : `${this.name}:${reference}`;
  }

  #blobPath(digest: Digest): string {
    return join(this.path, 'blobs', digestAlgorithm(digest), digestHex(digest));
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

  /** A file's size, `undefined` when it does not exist (or is not a file). */
  async #fileSize(file: string): Promise<number | undefined> {
    try {
      const s = await stat(file);
      return s.isFile() ? s.size : undefined;
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return undefined;
      throw ioError(err, 'stat', file);
    }
  }

  /** Reads a manifest blob, verified; `undefined` when the file does not exist. */
  async #readManifestBlob(digest: Digest, expectedSize?: number): Promise<Buffer | undefined> {
    const file = this.#blobPath(digest);
    const what = `manifest ${this.name}@${digest}`;
    let bytes: Buffer;
    try {
      const handle = await open(file, 'r');
      try {
        const { size } = await handle.stat();
        if (size > MAX_MANIFEST_BYTES) {
          throw new GantryError(
            'REGISTRY_TOO_LARGE',
            `${what} is ${size} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`,
            { details: { size, limit: MAX_MANIFEST_BYTES } },
          );
        }
        bytes = await handle.readFile();
      } finally {
        await handle.close();
      }
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      throw isGantryError(err) ? err : ioError(err, 'read', file);
    }
    if (expectedSize !== undefined && bytes.byteLength !== expectedSize) {
      throw new GantryError(
        'REGISTRY_SIZE_MISMATCH',
        `${what} has ${bytes.byteLength} bytes, index.json says ${expectedSize}`,
        { details: { digest, expected: expectedSize, actual: bytes.byteLength } },
      );
    }
    const actual = digestOf(bytes, digestAlgorithm(digest));
    if (actual !== digest) {
      throw new GantryError('REGISTRY_DIGEST_MISMATCH', `${what} content hashes to ${actual}`, {
        details: { expected: digest, actual },
      });
    }
    return bytes;
  }

  /** Subject and descriptor of a manifest of `index.json`, cached by digest; `undefined` when its blob is missing. */
  #manifestFacts(entry: Descriptor): Promise<ManifestFacts | undefined> {
    const cached = this.#facts.get(entry.digest);
    if (cached) return cached;
    const pending = (async () => {
      const bytes = await this.#readManifestBlob(entry.digest, entry.size);
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

  /** Reads `index.json` (checking `oci-layout` once per instance); `undefined` when there is none. */
  async #readIndex(): Promise<LayoutIndex | undefined> {
    const file = join(this.path, 'index.json');
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return undefined;
      throw ioError(err, 'read', file);
    }
    this.#layoutChecked ??= this.#checkLayoutFile(false).catch((err: unknown) => {
      this.#layoutChecked = undefined;
      throw err;
    });
    await this.#layoutChecked;
    return this.#parseIndex(bytes);
  }

  async #requireIndex(): Promise<LayoutIndex> {
    const index = await this.#readIndex();
    if (!index) {
      throw new GantryError(
        'REGISTRY_NAME_UNKNOWN',
        `${this.name}: no OCI image layout there (index.json is missing)`,
        { details: { path: this.path } },
      );
    }
    return index;
  }

  #parseIndex(bytes: Buffer): LayoutIndex {
    let parsed: Manifest;
    try {
      parsed = parseManifest(bytes, digestOf(bytes));
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new GantryError('REGISTRY_MANIFEST_INVALID', `${this.name}: index.json is invalid (${why})`, {
        cause: err,
        details: { path: this.path },
      });
    }
    if (parsed.kind !== 'index') {
      throw new GantryError('REGISTRY_MANIFEST_INVALID', `${this.name}: index.json is not an image index`, {
        details: { path: this.path },
      });
    }
    const body = parsed.body as ImageIndex & Readonly<Record<string, unknown>>;
    return { body, manifests: body.manifests };
  }

  /**
   * Validates `oci-layout`: it must exist (or, when `create`, is written) and name a 1.x layout
   * version; `REGISTRY_MANIFEST_INVALID` otherwise.
   */
  async #checkLayoutFile(create: boolean): Promise<void> {
    const file = join(this.path, 'oci-layout');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw ioError(err, 'read', file);
      if (!create) {
        throw new GantryError(
          'REGISTRY_MANIFEST_INVALID',
          `${this.name} is not an OCI image layout: the oci-layout file is missing`,
          { details: { path: this.path } },
        );
      }
      await writeFileAtomic(file, JSON.stringify({ imageLayoutVersion: OCI_LAYOUT_VERSION }));
      return;
    }
    let version: unknown;
    try {
      version = (JSON.parse(text) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch {
      version = undefined;
    }
    if (typeof version !== 'string' || !/^1\.\d+\.\d+/.test(version)) {
      throw new GantryError(
        'REGISTRY_MANIFEST_INVALID',
        `${this.name}: oci-layout is malformed or names an unsupported imageLayoutVersion (expected 1.x)`,
        { details: { path: this.path } },
      );
    }
  }

  /** Creates `oci-layout`, `index.json` and `blobs/sha256/` once per instance (keeping what exists). */
  #ensureLayout(): Promise<void> {
    this.#ready ??= (async () => {
      const blobs = join(this.path, 'blobs', 'sha256');
      try {
        await mkdir(blobs, { recursive: true });
      } catch (err) {
        throw ioError(err, 'create', blobs);
      }
      await this.#checkLayoutFile(true);
      await this.#updateIndex(() => undefined);
    })().catch((err: unknown) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  /**
   * Read-modify-write of `index.json`, one at a time. `change` returns the new entry list, or
   * `undefined` to leave it as is (a missing `index.json` is still created, empty).
   */
  #updateIndex(
    change: (manifests: readonly Descriptor[]) => readonly Descriptor[] | undefined,
  ): Promise<void> {
    const run = this.#indexQueue.then(async () => {
      const file = join(this.path, 'index.json');
      let current: LayoutIndex | undefined;
      try {
        current = this.#parseIndex(await readFile(file));
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw isGantryError(err) ? err : ioError(err, 'read', file);
      }
      const manifests = change(current?.manifests ?? []);
      if (current && manifests === undefined) return;
      const body = current?.body ?? { schemaVersion: 2, mediaType: MediaTypes.ociIndex };
      await writeFileAtomic(
        file,
        JSON.stringify({ ...body, manifests: manifests ?? current?.manifests ?? [] }),
      );
    });
    this.#indexQueue = run.catch(() => undefined);
    return run;
  }

  /** Streams `source` to `blobs/<alg>/<hex>` through a temporary file, verifying size and digest. */
  async #writeBlob(digest: Digest, size: number, source: Readable): Promise<void> {
    const algorithm = digestAlgorithm(digest);
    const dir = join(this.path, 'blobs', algorithm);
    const final = join(dir, digestHex(digest));
    const temp = join(dir, `.tmp-${digestHex(digest).slice(0, 12)}-${randomBytes(6).toString('hex')}`);
    const what = `blob ${this.name}@${digest}`;
    const digester = new Digester(algorithm);
    let handle;
    try {
      if (algorithm !== 'sha256') await mkdir(dir, { recursive: true });
      handle = await open(temp, 'wx');
    } catch (err) {
      source.destroy();
      throw ioError(err, 'create', temp);
    }
    let renamed = false;
    try {
      try {
        for await (const raw of source as AsyncIterable<Buffer | string>) {
          const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
          digester.update(chunk);
          if (digester.size > size) {
            throw new GantryError(
              'REGISTRY_SIZE_MISMATCH',
              `${what} is larger than its declared ${size} bytes`,
              {
                details: { digest, expected: size },
              },
            );
          }
          for (let offset = 0; offset < chunk.byteLength;) {
            const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
            offset += bytesWritten;
          }
        }
        if (digester.size !== size) {
          throw new GantryError(
            'REGISTRY_SIZE_MISMATCH',
            `${what} has ${digester.size} bytes, expected ${size}`,
            {
              details: { digest, expected: size, actual: digester.size },
            },
          );
        }
        const actual = digester.digest();
        if (actual !== digest) {
          throw new GantryError('REGISTRY_DIGEST_MISMATCH', `${what} content hashes to ${actual}`, {
            details: { expected: digest, actual },
          });
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, final);
      renamed = true;
    } catch (err) {
      throw isGantryError(err) ? err : errno(err) ? ioError(err, 'write', final) : toGantryError(err);
    } finally {
      source.destroy();
      if (!renamed) await unlink(temp).catch(() => undefined);
    }
  }
}

/** The `ref.name` annotation of an entry. */
/** The `ref.name`s of index entries, in order, without duplicates. */
function tagNames(manifests: readonly Descriptor[]): Set<string> {
  const tags = new Set<string>();
  for (const d of manifests) {
    const name = refName(d);
    if (name !== undefined) tags.add(name);
  }
  return tags;
}

function refName(d: Descriptor): string | undefined {
  return d.annotations?.[OCI_REF_NAME_ANNOTATION];
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

/** Writes a file atomically, as a `LOCAL_IO` error when it cannot. */
async function writeFileAtomic(file: string, content: string): Promise<void> {
  try {
    await writeAtomic(file, content);
  } catch (err) {
    throw ioError(err, 'write', file);
  }
}

function errno(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && !isGantryError(err) ? code : undefined;
}

/** A file system failure as a GantryError (`LOCAL_IO`, naming the path and errno). */
function ioError(err: unknown, action: string, file: string): GantryError {
  if (isGantryError(err)) return err;
  const code = errno(err) ?? 'unknown';
  const why = err instanceof Error ? err.message : String(err);
  return new GantryError('LOCAL_IO', `cannot ${action} ${file}: ${why}`, {
    cause: err,
    details: { path: file, errno: code },
  });
}
