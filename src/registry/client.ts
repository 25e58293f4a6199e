/**
 * The registry client facade: one object for every registry Gantry talks to, with resource-first
 * methods (`manifestGet`, `blobMount`, `tagList`, …). Each method is implemented in its resource
 * module; this class only wires the shared transport and authenticator.
 */
import type { Readable } from 'node:stream';
import { silentLogger, systemClock, type Clock, type Digest, type Logger } from '../core/index.js';
import { Authenticator } from './auth/authenticator.js';
import {
  blobBytes,
  blobGet,
  blobHead,
  blobMount,
  blobUpload,
  type BlobGetOptions,
  type BlobSource,
  type BlobUploadOptions,
  type MountResult,
} from './blobs.js';
import type { CredentialProvider } from './credentials/index.js';
import type { Manifest, Descriptor } from './manifest.js';
import {
  manifestDelete,
  manifestGet,
  manifestHead,
  manifestPut,
  type ManifestHeadResult,
  type ManifestPutResult,
} from './manifests.js';
import type { Reference, Repository } from './reference.js';
import { referrerPush, referrersList, type ReferrersResult } from './referrers.js';
import { catalogList, type CatalogResult } from './catalog.js';
import { ping } from './ping.js';
import { Session, type ReferrerLock } from './session.js';
import { tagDelete, tagList, tagListChecked, type TagListResult } from './tags.js';
import { HttpTransport, type HostSettings } from './transport/http-transport.js';
import type { RetryOptions } from './transport/retry-policy.js';

/** Options for {@link RegistryClient}. Every field is optional. */
export interface RegistryClientOptions {
  /** Credentials per registry host. Default: anonymous everywhere. */
  readonly credentials?: CredentialProvider;
  /** TLS / scheme settings per host. Default: TLS verified with Node's root CAs. */
  readonly hostSettings?: (host: string) => HostSettings;
  /** Retry behaviour. Default: 5 attempts, 200 ms–10 s backoff, budget 20 per host. */
  readonly retry?: RetryOptions;
  /** `User-Agent`. Default `gantry`. */
  readonly userAgent?: string;
  /** Logger (URLs are redacted, secrets never passed). Default silent. */
  readonly logger?: Logger;
  /** Clock. Default system clock. */
  readonly clock?: Clock;
  /** An existing transport to share connection pools with. Default: a new one from the options above. */
  readonly transport?: HttpTransport;
  /**
   * Runs each update of a referrers fallback index (registries without the referrers API) inside
   * an exclusive lock on the subject, held by the caller across processes (`gantry serve`): the
   * update then reads, merges and writes once, verifies with one re-read, and skips the settle
   * wait. Default: none (updates are serialised in-process only and settle before verifying; see
   * docs/decisions/0012-referrer-index-writes.md).
   */
  readonly referrerLock?: ReferrerLock;
}

/** A client for OCI Distribution registries. */
export class RegistryClient {
  readonly #session: Session;
  readonly #ownsTransport: boolean;

  /** `session` is internal: {@link withSignal} shares this client's session under a signal. */
  constructor(options: RegistryClientOptions = {}, session?: Session) {
    if (session) {
      this.#session = session;
      this.#ownsTransport = false;
      return;
    }
    const logger = options.logger ?? silentLogger;
    const clock = options.clock ?? systemClock;
    const transport =
      options.transport ??
      new HttpTransport({
        logger,
        clock,
        ...(options.hostSettings !== undefined && { hostSettings: options.hostSettings }),
        ...(options.retry !== undefined && { retry: options.retry }),
        ...(options.userAgent !== undefined && { userAgent: options.userAgent }),
      });
    this.#ownsTransport = options.transport === undefined;
    const auth = new Authenticator({
      transport,
      logger,
      clock,
      ...(options.hostSettings !== undefined && { hostSettings: options.hostSettings }),
      ...(options.credentials !== undefined && { credentials: options.credentials }),
    });
    this.#session = new Session(transport, auth, logger, {
      clock,
      ...(options.referrerLock !== undefined && { referrerLock: options.referrerLock }),
    });
  }

  /**
   * This client with every request aborted by `signal` (connections, tokens and what it learnt
   * of registries are shared): a request in flight is cut off, and none starts once it fired.
   * Closing the returned client closes nothing.
   */
  withSignal(signal: AbortSignal): RegistryClient {
    return new RegistryClient({}, this.#session.withSignal(signal));
  }

  /** Checks the registry answers `/v2/` and accepts the credentials (a token is fetched when it asks for one). */
  ping(registry: string): Promise<void> {
    return ping(this.#session, registry);
  }

  /** HEADs a manifest: digest, media type and size, or `undefined` when absent. */
  manifestHead(ref: Reference): Promise<ManifestHeadResult | undefined> {
    return manifestHead(this.#session, ref);
  }

  /** GETs a manifest byte-exact, verified against its digest. */
  manifestGet(ref: Reference): Promise<Manifest> {
    return manifestGet(this.#session, ref);
  }

  /** PUTs a manifest under a tag or its digest. */
  manifestPut(
    repo: Repository,
    reference: string,
    bytes: Buffer,
    mediaType: string,
  ): Promise<ManifestPutResult> {
    return manifestPut(this.#session, repo, reference, bytes, mediaType);
  }

  /** DELETEs a manifest by digest. */
  manifestDelete(ref: Reference): Promise<void> {
    return manifestDelete(this.#session, ref);
  }

  /** HEADs a blob: its size, or `undefined` when absent. */
  blobHead(repo: Repository, digest: Digest): Promise<number | undefined> {
    return blobHead(this.#session, repo, digest);
  }

  /** Streams a blob, verified while it streams, resuming with `Range` after a dropped connection. */
  blobGet(repo: Repository, digest: Digest, options?: BlobGetOptions): Readable {
    return blobGet(this.#session, repo, digest, options);
  }

  /** A small blob, whole and verified ({@link blobBytes}). */
  blobBytes(repo: Repository, digest: Digest, size: number): Promise<Buffer> {
    return blobBytes(this.#session, repo, digest, size);
  }

  /** Mounts a blob from another repository of the same registry. */
  blobMount(repo: Repository, digest: Digest, from: Repository): Promise<MountResult> {
    return blobMount(this.#session, repo, digest, from);
  }

  /** Uploads a blob (one streamed PUT; chunked PATCH as fallback or on request). */
  blobUpload(
    repo: Repository,
    digest: Digest,
    size: number,
    source: BlobSource,
    options?: BlobUploadOptions,
  ): Promise<void> {
    return blobUpload(this.#session, repo, digest, size, source, options);
  }

  /**
   * Lists every valid tag of a repository, following pagination. Entries of the registry's list
   * that are not valid tag names are left out (and logged); {@link tagListChecked} returns them.
   */
  tagList(repo: Repository, pageSize?: number): Promise<string[]> {
    return tagList(this.#session, repo, pageSize);
  }

  /** Lists a repository's tag list split into valid tags and entries that are not valid tag names. */
  tagListChecked(repo: Repository, pageSize?: number): Promise<TagListResult> {
    return tagListChecked(this.#session, repo, pageSize);
  }

  /**
   * Lists every repository of a registry (`/v2/_catalog`), following pagination; entries that are
   * not valid repository paths are set apart. `REGISTRY_UNSUPPORTED` when the registry has no catalog.
   */
  catalogList(registry: string, pageSize?: number): Promise<CatalogResult> {
    return catalogList(this.#session, registry, pageSize);
  }

  /** Removes a tag, keeping its manifest; `false` when the registry cannot delete tags. */
  tagDelete(repo: Repository, tag: string): Promise<boolean> {
    return tagDelete(this.#session, repo, tag);
  }

  /** Lists the referrers of a digest (referrers API, or the tag schema fallback). */
  referrersList(
    repo: Repository,
    digest: Digest,
    artifactType?: string,
    knownTags?: ReadonlySet<string>,
  ): Promise<ReferrersResult> {
    return referrersList(this.#session, repo, digest, artifactType, knownTags);
  }

  /** Pushes a manifest with a `subject`, maintaining the fallback tag where the registry needs it. */
  referrerPush(repo: Repository, bytes: Buffer, mediaType: string): Promise<Descriptor> {
    return referrerPush(this.#session, repo, bytes, mediaType);
  }

  /** Closes pooled connections (only when this client created the transport). */
  async close(): Promise<void> {
    if (this.#ownsTransport) await this.#session.transport.close();
  }
}
