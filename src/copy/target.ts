/**
 * The small capability interfaces the copy engine works over (in the manner of oras-go's
 * `Target`): something content can be read from, and something it can be written to. A registry
 * repository and an OCI image layout directory implement both.
 */
import type { Readable } from 'node:stream';
import type { Digest } from '../core/index.js';
import type { Descriptor, Manifest, Repository } from '../registry/index.js';

/** What a manifest lookup by tag or digest finds. */
export interface ResolvedManifest {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
}

/** A place content is read from. */
export interface ReadTarget {
  /** Human name for messages: `host/repo` or `oci:/path`. */
  readonly name: string;
  /** The registry repository behind this target, when it is one (enables cross-repository mounts). */
  readonly repository?: Repository;
  /** Fetches a manifest by tag or digest, verified against its digest. Throws `REGISTRY_MANIFEST_UNKNOWN` when absent. */
  fetchManifest(reference: string): Promise<Manifest>;
  /** Streams a blob, verified against its digest and size while it streams. */
  fetchBlob(descriptor: Descriptor): Readable;
  /**
   * Manifests whose `subject` is `digest`. `knownTags`, the target's tags when the caller has
   * just listed them, lets it skip looking for a referrers fallback tag that is not there.
   */
  referrers(digest: Digest, knownTags?: ReadonlySet<string>): Promise<readonly Descriptor[]>;
  /** Every tag (referrers fallback tags included; callers filter them). */
  tags(): Promise<string[]>;
}

/** Options for {@link WriteTarget.pushBlob}. */
export interface PushBlobOptions {
  /** A repository of the same registry the blob may be mounted from instead of uploaded. */
  readonly mountFrom?: Repository;
}

/** How a blob reached the destination. */
export type BlobOutcome = 'copied' | 'mounted';

/** A place content is written to. */
export interface WriteTarget {
  readonly name: string;
  readonly repository?: Repository;
  /** Looks a manifest up by tag or digest; `undefined` when absent. */
  resolve(reference: string): Promise<ResolvedManifest | undefined>;
  /** True when the blob is already present. */
  hasBlob(descriptor: Descriptor): Promise<boolean>;
  /**
   * Writes a blob, mounting it when `mountFrom` allows. `content` is the whole blob, or opens a
   * stream of it (called once per attempt).
   */
  pushBlob(
    descriptor: Descriptor,
    content: Buffer | (() => Readable),
    options?: PushBlobOptions,
  ): Promise<BlobOutcome>;
  /**
   * Writes manifest bytes under a digest or tag. Resolves true when the destination itself
   * answered with the digest of what it stored (so no read-back is needed), false otherwise.
   */
  pushManifest(bytes: Buffer, mediaType: string, reference: string): Promise<boolean>;
  /** Writes a manifest that has a `subject`, keeping the referrers index of the subject up to date. */
  pushReferrer(bytes: Buffer, mediaType: string): Promise<void>;
  /** Referrers already present for `digest`. */
  referrers(digest: Digest, knownTags?: ReadonlySet<string>): Promise<readonly Descriptor[]>;
  /** The tags present now; empty when the repository or layout does not exist yet. */
  existingTags(): Promise<ReadonlySet<string>>;
}
