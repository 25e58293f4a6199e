/**
 * What the promotion service needs from the outside world, as a port: registries (read, write,
 * copy) and time. The composition root (src/app.ts) implements it with the registry client and
 * the copy engine; tests can implement it in memory.
 */
import type { Digest, Descriptor, Manifest, Repository } from '../core/index.js';

/** The outcome of copying content for a promotion. */
export interface ContentCopy {
  readonly bytesTransferred: number;
  readonly blobsCopied: number;
  readonly blobsMounted: number;
  readonly blobsSkipped: number;
}

/** How far one application's copy got (reported while it runs). */
export interface CopyProgress {
  /** Bytes written to the target so far (mounted and skipped blobs count nothing). */
  readonly bytesTransferred: number;
  /** Bytes of every blob to transfer, as planned. */
  readonly bytesTotal: number;
  /** Blobs finished (copied, mounted or already present). */
  readonly blobsDone: number;
  /** Blobs of the image, every platform. */
  readonly blobsTotal: number;
}

/** Options of {@link RegistryPort.copy}. */
export interface CopyOptions {
  /** Plan only: transfer nothing and report what would be transferred. */
  readonly dryRun?: boolean;
  /** Aborts the copy (a job's lost lease, a cancellation): it stops promptly and throws. */
  readonly signal?: AbortSignal;
  /** Called as the copy progresses (throttled by the implementation; never throws into the copy). */
  readonly onProgress?: (progress: CopyProgress) => void;
}

/** Registry access as the promotion service needs it. */
export interface RegistryPort {
  /** Fetches a manifest by tag or digest; `REGISTRY_MANIFEST_UNKNOWN` when absent. */
  manifest(repo: Repository, reference: string): Promise<Manifest>;
  /**
   * The digest a tag or digest resolves to, or `undefined` when the registry says it is unknown
   * (404). Every other failure throws; see `resolveIfPresent`.
   */
  resolve(repo: Repository, reference: string): Promise<Digest | undefined>;
  /** Reads a small blob (image config, attestation envelope) fully. */
  blob(repo: Repository, descriptor: Descriptor): Promise<Buffer>;
  /** Every tag of a repository ([] when the repository does not exist). */
  tags(repo: Repository): Promise<string[]>;
  /** Referrers of a digest, optionally of one artifact type. */
  referrers(repo: Repository, digest: Digest, artifactType?: string): Promise<readonly Descriptor[]>;
  /** Copies `digest` with everything under it and its referrers from `source` to `target`, writing no tag. */
  copy(source: Repository, target: Repository, digest: Digest, options?: CopyOptions): Promise<ContentCopy>;
  /** Points `tag` at an existing manifest (the exact bytes). */
  tag(repo: Repository, tag: string, manifest: Manifest): Promise<void>;
  /**
   * Removes `tag`, keeping the manifest (OCI 1.1 tag deletion). `false` when the registry does not
   * delete tags (distribution 2.x); an absent tag counts as removed.
   */
  deleteTag(repo: Repository, tag: string): Promise<boolean>;
  /** Pushes an artifact (its blobs, then its manifest as a referrer of its subject). */
  attach(
    repo: Repository,
    artifact: { manifest: Buffer; mediaType: string; blobs: ReadonlyMap<Digest, Buffer> },
  ): Promise<void>;
}
