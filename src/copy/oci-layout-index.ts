/**
 * `index.json` and `oci-layout` of an OCI image layout
 * (https://github.com/opencontainers/image-spec/blob/main/image-layout.md): reading and
 * validating them, creating a new layout, and read-modify-write updates of `index.json`, which
 * are serialised within the instance (the lock) and written atomically, so no torn `index.json`
 * is ever visible. Separate processes writing the same layout at once are not coordinated
 * (neither are skopeo's or oras's).
 */
import { readFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { GantryError, MediaTypes, digestOf, isGantryError } from '../core/index.js';
import { parseManifest, type Descriptor, type ImageIndex, type Manifest } from '../registry/index.js';
import { errno, ioError, writeFileAtomic } from './oci-layout-io.js';

/** The annotation naming an `index.json` entry (the `TAG` of `oci:PATH:TAG`). */
export const OCI_REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/** The `imageLayoutVersion` written to `oci-layout`. */
export const OCI_LAYOUT_VERSION = '1.0.0';

/** `index.json` as read: the body (unknown fields kept, for rewriting) and its entries. */
export interface LayoutIndex {
  readonly body: Readonly<Record<string, unknown>>;
  readonly manifests: readonly Descriptor[];
}

/** A change of the entry list: the new list, or `undefined` to leave it as it is. */
export type IndexChange = (manifests: readonly Descriptor[]) => readonly Descriptor[] | undefined;

/** The `index.json` and `oci-layout` files of one layout. */
export class LayoutIndexFile {
  readonly #root: string;
  readonly #name: string;
  #ready: Promise<void> | undefined;
  #layoutChecked: Promise<void> | undefined;
  #queue: Promise<void> = Promise.resolve();

  /** `root` is the layout directory; `name` (`oci:PATH`) names it in messages. */
  constructor(root: string, name: string) {
    this.#root = root;
    this.#name = name;
  }

  /** Reads `index.json` (checking `oci-layout` once per instance); `undefined` when there is none. */
  async read(): Promise<LayoutIndex | undefined> {
    const file = join(this.#root, 'index.json');
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
    return this.#parse(bytes);
  }

  /** Reads `index.json`; `REGISTRY_NAME_UNKNOWN` when there is no layout. */
  async require(): Promise<LayoutIndex> {
    const index = await this.read();
    if (!index) {
      throw new GantryError(
        'REGISTRY_NAME_UNKNOWN',
        `${this.#name}: no OCI image layout there (index.json is missing)`,
        { details: { path: this.#root } },
      );
    }
    return index;
  }

  /** Creates `oci-layout`, `index.json` and `blobs/sha256/` once per instance (keeping what exists). */
  ensure(): Promise<void> {
    this.#ready ??= (async () => {
      const blobs = join(this.#root, 'blobs', 'sha256');
      try {
        await mkdir(blobs, { recursive: true });
      } catch (err) {
        throw ioError(err, 'create', blobs);
      }
      await this.#checkLayoutFile(true);
      await this.update(() => undefined);
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
  update(change: IndexChange): Promise<void> {
    const run = this.#queue.then(async () => {
      const file = join(this.#root, 'index.json');
      let current: LayoutIndex | undefined;
      try {
        current = this.#parse(await readFile(file));
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
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #parse(bytes: Buffer): LayoutIndex {
    let parsed: Manifest;
    try {
      parsed = parseManifest(bytes, digestOf(bytes));
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new GantryError('REGISTRY_MANIFEST_INVALID', `${this.#name}: index.json is invalid (${why})`, {
        cause: err,
        details: { path: this.#root },
      });
    }
    if (parsed.kind !== 'index') {
      throw new GantryError('REGISTRY_MANIFEST_INVALID', `${this.#name}: index.json is not an image index`, {
        details: { path: this.#root },
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
    const file = join(this.#root, 'oci-layout');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw ioError(err, 'read', file);
      if (!create) {
        throw new GantryError(
          'REGISTRY_MANIFEST_INVALID',
          `${this.#name} is not an OCI image layout: the oci-layout file is missing`,
          { details: { path: this.#root } },
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
        `${this.#name}: oci-layout is malformed or names an unsupported imageLayoutVersion (expected 1.x)`,
        { details: { path: this.#root } },
      );
    }
  }
}

/** The `ref.name` annotation of an entry. */
export function refName(d: Descriptor): string | undefined {
  return d.annotations?.[OCI_REF_NAME_ANNOTATION];
}

/** The `ref.name`s of index entries, in order, without duplicates. */
export function tagNames(manifests: readonly Descriptor[]): Set<string> {
  const tags = new Set<string>();
  for (const d of manifests) {
    const name = refName(d);
    if (name !== undefined) tags.add(name);
  }
  return tags;
}
