/**
 * The one in-memory {@link RegistryPort} for unit tests of the promotion layer (service, history,
 * gates, attestations): repositories of manifests, tags and referrers (attached artifacts and
 * pushed manifests with a `subject`), blobs, a log of every write, and a hook that makes one read
 * or write fail the way a registry would (503, 403, unsupported tag deletion).
 */
import { GantryError, MediaTypes, digestOf, type Digest } from '../core/index.js';
import { parseManifest, type Descriptor, type Manifest, type Repository } from '../registry/index.js';
import type { RegistryPort } from './ports.js';

interface Repo {
  readonly manifests: Map<Digest, Manifest>;
  readonly tags: Map<string, Digest>;
  readonly referrers: Map<Digest, Descriptor[]>;
}

/** A failure a hook may inject: an error to throw, or `undefined` to go on. */
export type Fault = (op: string, repo: Repository, reference: string) => Error | undefined;

/** The in-memory registries. */
export class MemoryRegistry {
  readonly #repos = new Map<string, Repo>();
  /** Every call, e.g. `resolve prod/team/web:1.0`, `tag prod/team/web:latest`. */
  readonly calls: string[] = [];
  /** Writes only (`tag`, `deleteTag`, `copy`, `attach`). */
  readonly writes: string[] = [];
  /** Whether `deleteTag` removes tags (OCI 1.1) or is unsupported (distribution 2.x). Default true. */
  deletesTags = true;
  /** Blobs by digest (any repository). */
  readonly blobs = new Map<Digest, Buffer>();
  /** Injected failures. */
  fault: Fault = () => undefined;

  #repo(r: Repository): Repo {
    const key = `${r.registry}/${r.repository}`;
    let repo = this.#repos.get(key);
    if (!repo) {
      repo = { manifests: new Map(), tags: new Map(), referrers: new Map() };
      this.#repos.set(key, repo);
    }
    return repo;
  }

  /** Logs a call; rejects (like a registry answering with an error) when the fault hook says so. */
  async #call(op: string, r: Repository, reference: string): Promise<void> {
    const line = `${op} ${r.registry}/${r.repository}:${reference}`;
    this.calls.push(line);
    if (['tag', 'deleteTag', 'copy', 'attach'].includes(op)) this.writes.push(line);
    const err = this.fault(op, r, reference);
    if (err) throw err;
    await Promise.resolve();
  }

  /** Stores `manifest` in `repo` under `tags`. */
  put(repo: Repository, manifest: Manifest, ...tags: string[]): void {
    const r = this.#repo(repo);
    r.manifests.set(manifest.digest, manifest);
    for (const t of tags) r.tags.set(t, manifest.digest);
  }

  /**
   * Stores a manifest from its bytes under its digest and `tags`, returning it parsed. One with a
   * `subject` is listed among that subject's referrers, as a registry with the referrers API does.
   */
  putManifest(repo: Repository, bytes: Buffer, ...tags: string[]): Manifest {
    const m = parseManifest(bytes, digestOf(bytes));
    this.put(repo, m, ...tags);
    if (m.body.subject) this.#addReferrer(repo, m.body.subject.digest, m);
    return m;
  }

  /** Stores a blob; returns its digest. */
  putBlob(bytes: Buffer): Digest {
    const digest = digestOf(bytes);
    this.blobs.set(digest, bytes);
    return digest;
  }

  #addReferrer(repo: Repository, subject: Digest, m: Manifest): void {
    const r = this.#repo(repo);
    const list = r.referrers.get(subject) ?? [];
    if (list.some((d) => d.digest === m.digest)) return;
    const artifactType = m.body.artifactType;
    list.push({
      mediaType: m.mediaType,
      digest: m.digest,
      size: m.bytes.byteLength,
      ...(artifactType !== undefined && { artifactType }),
      ...(m.body.annotations !== undefined && { annotations: m.body.annotations }),
    });
    r.referrers.set(subject, list);
  }

  /** The digest `tag` points at, without logging. */
  peek(repo: Repository, tag: string): Digest | undefined {
    return this.#repo(repo).tags.get(tag);
  }

  /** The port. */
  readonly port: RegistryPort = {
    manifest: async (repo, reference) => {
      await this.#call('manifest', repo, reference);
      const r = this.#repo(repo);
      const d = reference.startsWith('sha256:') ? (reference as Digest) : r.tags.get(reference);
      const m = d && r.manifests.get(d);
      if (!m) throw new GantryError('REGISTRY_MANIFEST_UNKNOWN', `manifest unknown: ${reference}`);
      return m;
    },
    resolve: async (repo, reference) => {
      await this.#call('resolve', repo, reference);
      const r = this.#repo(repo);
      if (reference.startsWith('sha256:'))
        return r.manifests.has(reference as Digest) ? (reference as Digest) : undefined;
      return r.tags.get(reference);
    },
    blob: async (repo, descriptor) => {
      await this.#call('blob', repo, descriptor.digest);
      const bytes = this.blobs.get(descriptor.digest);
      if (!bytes) throw new GantryError('REGISTRY_BLOB_UNKNOWN', `blob unknown: ${descriptor.digest}`);
      return bytes;
    },
    tags: async (repo) => {
      await this.#call('tags', repo, '');
      return [...this.#repo(repo).tags.keys()];
    },
    referrers: async (repo, digest, artifactType) => {
      await this.#call('referrers', repo, digest);
      const list = this.#repo(repo).referrers.get(digest) ?? [];
      return list.filter((d) => !artifactType || d.artifactType === artifactType);
    },
    copy: async (source, target, digest) => {
      await this.#call('copy', target, digest);
      const m = this.#repo(source).manifests.get(digest);
      if (!m) throw new GantryError('REGISTRY_MANIFEST_UNKNOWN', `manifest unknown: ${digest}`);
      this.#repo(target).manifests.set(digest, m);
      return { bytesTransferred: 0, blobsCopied: 0, blobsMounted: 0, blobsSkipped: 0 };
    },
    tag: async (repo, tag, manifest) => {
      await this.#call('tag', repo, tag);
      this.put(repo, manifest, tag);
    },
    deleteTag: async (repo, tag) => {
      await this.#call('deleteTag', repo, tag);
      if (!this.deletesTags) return false;
      this.#repo(repo).tags.delete(tag);
      return true;
    },
    attach: async (repo, artifact) => {
      const m = parseManifest(artifact.manifest, digestOf(artifact.manifest), artifact.mediaType);
      const subject = m.body.subject;
      if (!subject) throw new GantryError('REGISTRY_MANIFEST_INVALID', `${m.digest} has no subject`);
      await this.#call('attach', repo, subject.digest);
      for (const [d, b] of artifact.blobs) this.blobs.set(d, b);
      this.put(repo, m);
      this.#addReferrer(repo, subject.digest, m);
    },
  };
}

/** An image manifest whose annotations carry `labels` (read as the candidate's labels). */
export function imageWith(seed: string, labels: Record<string, string> = {}): Manifest {
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociEmpty, digest: digestOf(Buffer.from('{}')), size: 2 },
      layers: [],
      annotations: { seed, ...labels },
    }),
  );
  return parseManifest(bytes, digestOf(bytes), MediaTypes.ociManifest);
}

/** An image whose labels are in its config blob (stored in `mem`), as `docker build` writes them. */
export function imageWithConfig(mem: MemoryRegistry, seed: string, labels: Record<string, string>): Manifest {
  const config = Buffer.from(JSON.stringify({ config: { Labels: { seed, ...labels } } }));
  mem.putBlob(config);
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociConfig, digest: digestOf(config), size: config.byteLength },
      layers: [],
    }),
  );
  return parseManifest(bytes, digestOf(bytes), MediaTypes.ociManifest);
}
