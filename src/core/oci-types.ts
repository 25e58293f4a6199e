/**
 * The OCI value types every layer shares: repositories, descriptors and manifests as fetched
 * (exact bytes, digest, media type, parsed body). Types only; the registry layer parses and
 * fetches them (src/registry/manifest.ts).
 * https://github.com/opencontainers/image-spec/blob/main/manifest.md
 */
import type { Digest } from './digest.js';

/** A registry plus a repository path inside it. */
export interface Repository {
  /** Registry host, with port when not default (`docker.io`, `127.0.0.1:5000`). */
  readonly registry: string;
  /** Repository path (`library/nginx`, `team/web`). */
  readonly repository: string;
}

/** Platform of an index entry or image config. */
export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly 'os.version'?: string;
  readonly 'os.features'?: readonly string[];
}

/** A content descriptor. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly urls?: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: Platform;
  readonly artifactType?: string;
}

/** An image manifest (OCI or Docker v2 schema 2), or an OCI artifact manifest. */
export interface ImageManifest {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly artifactType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** An index / manifest list. */
export interface ImageIndex {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly artifactType?: string;
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** A manifest as fetched: exact bytes, their digest, the resolved media type and the parsed body. */
export type Manifest =
  | {
      readonly kind: 'index';
      readonly bytes: Buffer;
      readonly digest: Digest;
      readonly mediaType: string;
      readonly body: ImageIndex;
    }
  | {
      readonly kind: 'image';
      readonly bytes: Buffer;
      readonly digest: Digest;
      readonly mediaType: string;
      readonly body: ImageManifest;
    };
