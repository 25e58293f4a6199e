/**
 * An in-memory implementation of the promotion layer's RegistryPort for fast unit tests of
 * history, gates and attestations: manifests and blobs by digest, tags, and referrers found
 * through the `subject` of pushed manifests. `fail` makes chosen calls throw (a registry fault).
 */
import { GantryError, digestOf, type Digest } from '../../src/core/index.js';
import type { ContentCopy, RegistryPort } from '../../src/promotion/index.js';
import { parseManifest, type Descriptor, type Manifest, type Repository } from '../../src/registry/index.js';

/** An in-memory registry port. */
export interface MemoryRegistry extends RegistryPort {
  /** Stores a manifest (its bytes) under its digest and optional tag; returns it parsed. */
  putManifest(repo: Repository, bytes: Buffer, tag?: string): Manifest;
  /** Stores a blob. */
  putBlob(repo: Repository, bytes: Buffer): Digest;
  /** When set, called before every operation: throw from it to simulate a fault. */
  fail?: (op: string, repo: Repository, reference?: string) => void;
}

const key = (repo: Repository): string => `${repo.registry}/${repo.repository}`;

/** Creates an empty in-memory registry port. */
export function memoryRegistry(): MemoryRegistry {
  const manifests = new Map<string, Map<string, Manifest>>();
  const tags = new Map<string, Map<string, Digest>>();
  const blobs = new Map<string, Map<string, Buffer>>();
  const of = <T>(m: Map<string, Map<string, T>>, repo: Repository): Map<string, T> => {
    let inner = m.get(key(repo));
    if (!inner) m.set(key(repo), (inner = new Map<string, T>()));
    return inner;
  };
  /** Runs `f` after the fault hook, as a promise (a throwing hook or body rejects it). */
  const run = <T>(op: string, repo: Repository, reference: string | undefined, f: () => T): Promise<T> => {
    try {
      self.fail?.(op, repo, reference);
      return Promise.resolve(f());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  };
  const self: MemoryRegistry = {
    putManifest(repo, bytes, tag) {
      const m = parseManifest(bytes, digestOf(bytes));
      of(manifests, repo).set(m.digest, m);
      if (tag) of(tags, repo).set(tag, m.digest);
      return m;
    },
    putBlob(repo, bytes) {
      const d = digestOf(bytes);
      of(blobs, repo).set(d, bytes);
      return d;
    },
    manifest: (repo, reference) =>
      run('manifest', repo, reference, () => {
        const digest = reference.includes(':') ? reference : of(tags, repo).get(reference);
        const m = digest === undefined ? undefined : of(manifests, repo).get(digest);
        if (!m) throw new GantryError('REGISTRY_MANIFEST_UNKNOWN', `${reference} unknown`);
        return m;
      }),
    resolve: (repo, reference) =>
      run('resolve', repo, reference, () => {
        const digest = reference.includes(':') ? reference : of(tags, repo).get(reference);
        return digest !== undefined && of(manifests, repo).has(digest) ? (digest as Digest) : undefined;
      }),
    blob: (repo, descriptor) =>
      run('blob', repo, descriptor.digest, () => {
        const b = of(blobs, repo).get(descriptor.digest);
        if (!b) throw new GantryError('REGISTRY_BLOB_UNKNOWN', `${descriptor.digest} unknown`);
        return b;
      }),
    tags: (repo) => run('tags', repo, undefined, () => [...of(tags, repo).keys()]),
    deleteTag: (repo, tag) => run('deleteTag', repo, tag, () => of(tags, repo).delete(tag) || true),
    referrers: (repo, digest, artifactType) =>
      run('referrers', repo, digest, () => {
        const out: Descriptor[] = [];
        for (const m of of(manifests, repo).values()) {
          if (m.body.subject?.digest !== digest) continue;
          const type = m.body.artifactType;
          if (artifactType !== undefined && type !== artifactType) continue;
          out.push({
            mediaType: m.mediaType,
            digest: m.digest,
            size: m.bytes.length,
            ...(type !== undefined && { artifactType: type }),
            ...(m.body.annotations !== undefined && { annotations: m.body.annotations }),
          });
        }
        return out;
      }),
    copy: (): Promise<ContentCopy> => Promise.reject(new Error('copy is not implemented in memory')),
    tag: (repo, tag, manifest) =>
      run('tag', repo, tag, () => {
        of(manifests, repo).set(manifest.digest, manifest);
        of(tags, repo).set(tag, manifest.digest);
      }),
    attach: (repo, artifact) =>
      run('attach', repo, undefined, () => {
        for (const [d, b] of artifact.blobs) of(blobs, repo).set(d, b);
        self.putManifest(repo, artifact.manifest);
      }),
  };
  return self;
}
