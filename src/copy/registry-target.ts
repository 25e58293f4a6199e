/** A repository of an OCI Distribution registry as a copy source and destination. */
import type { Readable } from 'node:stream';
import { isGantryError, type Digest } from '../core/index.js';
import {
  canMount,
  type Descriptor,
  type Manifest,
  type RegistryClient,
  type Repository,
} from '../registry/index.js';
import type { BlobOutcome, PushBlobOptions, ReadTarget, ResolvedManifest, WriteTarget } from './target.js';

/** Reads from and writes to one repository through a {@link RegistryClient}. */
export class RegistryTarget implements ReadTarget, WriteTarget {
  readonly name: string;
  readonly repository: Repository;
  readonly #client: RegistryClient;

  /**
   * `options.signal` aborts every request of this target: one in flight is cut off, and none
   * starts once it fired. Default: none.
   */
  constructor(
    client: RegistryClient,
    repository: Repository,
    options: { readonly signal?: AbortSignal } = {},
  ) {
    this.#client = options.signal ? client.withSignal(options.signal) : client;
    this.repository = Object.freeze({ registry: repository.registry, repository: repository.repository });
    this.name = `${repository.registry}/${repository.repository}`;
  }

  fetchManifest(reference: string): Promise<Manifest> {
    return this.#client.manifestGet(this.#ref(reference));
  }

  fetchBlob(descriptor: Descriptor): Readable {
    return this.#client.blobGet(this.repository, descriptor.digest, { size: descriptor.size });
  }

  async referrers(digest: Digest, knownTags?: ReadonlySet<string>): Promise<readonly Descriptor[]> {
    return (await this.#client.referrersList(this.repository, digest, undefined, knownTags)).descriptors;
  }

  /** Every entry of the tag list, invalid names included: the caller validates (and reports) them. */
  async tags(): Promise<string[]> {
    const { tags, invalid } = await this.#client.tagListChecked(this.repository);
    return [...tags, ...invalid];
  }

  async existingTags(): Promise<ReadonlySet<string>> {
    try {
      return new Set(await this.#client.tagList(this.repository));
    } catch (err) {
      if (isGantryError(err, 'REGISTRY_NAME_UNKNOWN', 'REGISTRY_NOT_FOUND')) return new Set();
      throw err;
    }
  }

  resolve(reference: string): Promise<ResolvedManifest | undefined> {
    return this.#client.manifestHead(this.#ref(reference));
  }

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    return (await this.#client.blobHead(this.repository, descriptor.digest)) !== undefined;
  }

  async pushBlob(
    descriptor: Descriptor,
    content: Buffer | (() => Readable),
    options: PushBlobOptions = {},
  ): Promise<BlobOutcome> {
    let location: string | undefined;
    const from = options.mountFrom;
    if (from && canMount(from, this.repository)) {
      try {
        const mount = await this.#client.blobMount(this.repository, descriptor.digest, from);
        if (mount.mounted) return 'mounted';
        location = mount.location;
      } catch (err) {
        // The destination's credentials may not read the source repository (each side of a copy
        // has its own): a refused mount is only a missed shortcut, so upload instead.
        if (!isGantryError(err, 'REGISTRY_UNAUTHORIZED', 'REGISTRY_DENIED')) throw err;
      }
    }
    await this.#client.blobUpload(
      this.repository,
      descriptor.digest,
      descriptor.size,
      content,
      location !== undefined ? { location } : {},
    );
    return 'copied';
  }

  async pushManifest(bytes: Buffer, mediaType: string, reference: string): Promise<boolean> {
    return (await this.#client.manifestPut(this.repository, reference, bytes, mediaType)).confirmed;
  }

  async pushReferrer(bytes: Buffer, mediaType: string): Promise<void> {
    await this.#client.referrerPush(this.repository, bytes, mediaType);
  }

  #ref(reference: string) {
    return reference.includes(':')
      ? { ...this.repository, digest: reference as Digest }
      : { ...this.repository, tag: reference };
  }
}
