/**
 * Blob operations (distribution-spec "Pulling blobs", "Pushing blobs", "Mounting a blob from
 * another repository"): https://github.com/opencontainers/distribution-spec/blob/main/spec.md
 * Downloads stream and are verified while they stream; a dropped connection resumes with `Range`.
 * Uploads are a POST then one streamed PUT with `Content-Length`, or chunked PATCHes as a fallback
 * (honouring `OCI-Chunk-Min-Length`).
 */
import { Readable } from 'node:stream';
import {
  ContentVerifier,
  GantryError,
  digestAlgorithm,
  isDigest,
  isGantryError,
  type Digest,
} from '../core/index.js';
import { repositoryScope } from './auth/challenge.js';
import { apiHost, type Repository } from './reference.js';
import { rereadDamaged } from './reread.js';
import { Session } from './session.js';
import { discardBody, readBody } from './transport/read-body.js';
import { bodyError } from './transport/classify.js';
import { RegistryError, isTemporary } from './transport/registry-error.js';

/** Where upload bytes come from: a buffer, or a function that opens a fresh stream each time it is called. */
export type BlobSource = Buffer | (() => Readable | Promise<Readable>);

/** Options for {@link blobUpload}. */
export interface BlobUploadOptions {
  /** Use chunked PATCH uploads instead of one PUT. Default false (chunked is the automatic fallback). */
  readonly chunked?: boolean;
  /** Chunk size for PATCH uploads in bytes (raised to the registry's `OCI-Chunk-Min-Length`). Default 8 MiB. */
  readonly chunkSize?: number;
  /** An upload session already opened (e.g. by a mount attempt that the registry turned into an upload). */
  readonly location?: string;
  /**
   * Start the upload again with a fresh session after a temporary failure (a 429/5xx, a reset),
   * under the transport's retry policy and per-host budget ({@link HttpTransport.mayRetry}), as a
   * manifest PUT is retried. Only for a buffer source (it can be sent again). For callers with no
   * retry of their own, such as promotion records; the copy engine restarts blobs itself.
   * Default false.
   */
  readonly restart?: boolean;
}

/** Options for {@link blobGet}. */
export interface BlobGetOptions {
  /** Expected size in bytes; a different size fails with `REGISTRY_SIZE_MISMATCH`. */
  readonly size?: number;
  /**
   * Resumes in a row that received nothing, after which a dropped download fails. A resume that
   * received bytes resets the count, so a download cut many times still finishes while it makes
   * progress (within its deadline, see `HttpTransport.blobDeadlineMs`). Default 3.
   */
  readonly maxStalls?: number;
  readonly signal?: AbortSignal;
}

/** Result of a mount attempt. */
export type MountResult = { readonly mounted: true } | { readonly mounted: false; readonly location: string };

const DEFAULT_CHUNK = 8 * 1024 * 1024;

const what = (repo: Repository, digest: string): string =>
  `blob ${repo.registry}/${repo.repository}@${digest}`;

/** HEADs a blob; its size when present, `undefined` when not. */
export async function blobHead(
  session: Session,
  repo: Repository,
  digest: Digest,
): Promise<number | undefined> {
  const res = await session.call({
    method: 'HEAD',
    registry: repo.registry,
    path: `${Session.repoPath(repo)}/blobs/${digest}`,
    scopes: [repositoryScope(repo.repository, 'pull')],
    expect: [200, 404],
    what: what(repo, digest),
  });
  await discardBody(res.body);
  if (res.status === 404) return undefined;
  const size = Number(res.headers.get('content-length'));
  return Number.isFinite(size) ? size : 0;
}

/**
 * Streams a blob, verifying its digest (and size when given) as it streams; the stream errors with
 * `REGISTRY_DIGEST_MISMATCH` / `REGISTRY_SIZE_MISMATCH` instead of ending when the bytes are wrong
 * (temporary errors: the bytes may have been damaged on the way). A connection dropped mid-body
 * is resumed with a `Range` request while resumes make progress, within the blob's deadline.
 */
export function blobGet(
  session: Session,
  repo: Repository,
  digest: Digest,
  options: BlobGetOptions = {},
): Readable {
  return new BlobDownload(session, repo, digest, options);
}

/**
 * The stream {@link blobGet} returns: the response body's chunks, passed on as they arrive (paused
 * while the consumer is full), verified on the way. A plain `Readable` rather than an async
 * generator, because every hop costs a promise per chunk, and a layer is thousands of chunks.
 */
class BlobDownload extends Readable {
  readonly #session: Session;
  readonly #repo: Repository;
  readonly #digest: Digest;
  readonly #options: BlobGetOptions;
  readonly #verifier: ContentVerifier;
  #stalls = 0;
  #body: Readable | undefined;
  #started = false;
  /** When the whole download (resumes included) must be done, in `Date.now()` ms. */
  #deadline = 0;

  constructor(session: Session, repo: Repository, digest: Digest, options: BlobGetOptions) {
    super({ highWaterMark: 256 * 1024 });
    this.#session = session;
    this.#repo = repo;
    this.#digest = digest;
    this.#options = options;
    this.#verifier = new ContentVerifier(
      { digest, ...(options.size !== undefined && { size: options.size }) },
      { what: what(repo, digest), details: { temporary: true } },
    );
  }

  override _read(): void {
    if (!this.#started) {
      this.#started = true;
      this.#deadline = Date.now() + this.#session.transport.blobDeadlineMs(this.#options.size ?? 0);
      void this.#request();
    } else {
      this.#body?.resume();
    }
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#drop();
    callback(err);
  }

  async #request(): Promise<void> {
    const { repo, digest } = { repo: this.#repo, digest: this.#digest };
    const offset = this.#verifier.received;
    let res;
    try {
      res = await this.#session.call({
        method: 'GET',
        registry: repo.registry,
        path: `${Session.repoPath(repo)}/blobs/${digest}`,
        scopes: [repositoryScope(repo.repository, 'pull')],
        headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
        expect: [200, 206],
        what: what(repo, digest),
        deadlineMs: Math.max(1, this.#deadline - Date.now()),
        ...(this.#options.signal !== undefined && { signal: this.#options.signal }),
      });
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    if (this.destroyed) {
      // The consumer gave up while the request was in flight (the transport keeps the late
      // abort error of this unread body from going anywhere).
      res.body.destroy();
      return;
    }
    let skip = 0;
    if (offset > 0 && res.status === 206) {
      const start = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1];
      if (start !== undefined && Number(start) !== offset) {
        res.body.destroy();
        this.destroy(
          new RegistryError(
            'REGISTRY_PROTOCOL',
            `${what(repo, digest)}: asked for bytes from ${offset}, got from ${start}`,
            {
              temporary: true,
            },
          ),
        );
        return;
      }
    } else if (offset > 0) {
      // A server that ignores Range sends everything again: skip what was already received.
      skip = offset;
    }
    const body = res.body;
    this.#body = body;
    body.on('data', (raw: Buffer) => {
      let chunk = raw;
      if (skip > 0) {
        const drop = Math.min(skip, chunk.byteLength);
        skip -= drop;
        chunk = chunk.subarray(drop);
        if (chunk.byteLength === 0) return;
      }
      try {
        this.#verifier.update(chunk);
      } catch (err) {
        this.destroy(err as Error);
        return;
      }
      if (!this.push(chunk)) body.pause();
    });
    body.once('end', () => this.#finish());
    body.once('error', (raw: Error) => {
      this.#drop();
      if (this.destroyed) return;
      const err = bodyError(raw, what(repo, digest));
      const progressed = this.#verifier.received > offset;
      this.#stalls = progressed ? 0 : this.#stalls + 1;
      const late = Date.now() >= this.#deadline;
      if (!isTemporary(err) || late || this.#stalls > (this.#options.maxStalls ?? 3)) {
        this.destroy(err);
        return;
      }
      this.#session.logger.warn(
        { digest, received: this.#verifier.received, stalls: this.#stalls },
        'blob download interrupted, resuming with Range',
      );
      void this.#request();
    });
  }

  /** Lets go of the current response body (its late events no longer matter). */
  #drop(): void {
    const body = this.#body;
    this.#body = undefined;
    if (!body) return;
    body.removeAllListeners('data');
    body.removeAllListeners('end');
    body.on('error', () => undefined);
    body.destroy();
  }

  #finish(): void {
    this.#body = undefined;
    if (this.destroyed) return;
    try {
      this.#verifier.finish();
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    this.push(null);
  }
}

/**
 * Reads a small blob whole (at most `size` bytes, which it must have), verified against its
 * digest: one buffer instead of a stream, for blobs that fit comfortably in memory.
 */
export async function blobBytes(
  session: Session,
  repo: Repository,
  digest: Digest,
  size: number,
): Promise<Buffer> {
  return rereadDamaged(async (body) => {
    const res = await session.call({
      method: 'GET',
      registry: repo.registry,
      path: `${Session.repoPath(repo)}/blobs/${digest}`,
      scopes: [repositoryScope(repo.repository, 'pull')],
      expect: [200],
      what: what(repo, digest),
      deadlineMs: session.transport.blobDeadlineMs(size),
    });
    return body(async () => {
      // One byte more than the descriptor allows is read, so an oversized blob fails as it would streamed.
      const bytes = await readBody(res.body, size + 1, { truncate: true, what: what(repo, digest) });
      const verifier = new ContentVerifier(
        { digest, size },
        { what: what(repo, digest), details: { temporary: true } },
      );
      verifier.update(bytes);
      verifier.finish();
      return bytes;
    });
  });
}

/**
 * Tries to mount a blob from another repository of the same registry. When the registry answers
 * with an upload session instead (the blob is not there, or mounting is not allowed), returns it.
 */
export async function blobMount(
  session: Session,
  repo: Repository,
  digest: Digest,
  from: Repository,
): Promise<MountResult> {
  const query = new URLSearchParams({ mount: digest, from: from.repository });
  const res = await session.call({
    method: 'POST',
    registry: repo.registry,
    path: `${Session.repoPath(repo)}/blobs/uploads/?${query.toString()}`,
    scopes: [repositoryScope(repo.repository, 'pull', 'push'), repositoryScope(from.repository, 'pull')],
    headers: { 'content-length': '0' },
    expect: [201, 202],
    what: `mount ${what(repo, digest)} from ${from.repository}`,
  });
  await discardBody(res.body);
  if (res.status === 201) return { mounted: true };
  return { mounted: false, location: requireLocation(res.headers.get('location'), repo, digest) };
}

/**
 * Uploads a blob of known digest and size. Returns after the registry acknowledged it. An upload
 * that fails is cancelled (`DELETE` of its session, best effort), so no half-written upload is
 * left for the registry's purge to find days later.
 */
export async function blobUpload(
  session: Session,
  repo: Repository,
  digest: Digest,
  size: number,
  source: BlobSource,
  options: BlobUploadOptions = {},
): Promise<void> {
  if (!options.restart || !Buffer.isBuffer(source)) {
    await uploadOnce(session, repo, digest, size, source, options);
    return;
  }
  const host = apiHost(repo.registry);
  for (let attempt = 1; ; attempt++) {
    try {
      // Only the first attempt may use a session the caller opened; later ones open their own.
      const once = attempt === 1 ? options : { ...options, location: undefined };
      await uploadOnce(session, repo, digest, size, source, once);
      return;
    } catch (err) {
      if (!isTemporary(err) || !(await session.transport.mayRetry(host, attempt, session.signal))) throw err;
      session.logger.warn({ digest, attempt }, 'blob upload failed, starting it again');
    }
  }
}

async function uploadOnce(
  session: Session,
  repo: Repository,
  digest: Digest,
  size: number,
  source: BlobSource,
  options: BlobUploadOptions,
): Promise<void> {
  let { location, minChunk } =
    options.location !== undefined
      ? { location: options.location, minChunk: 0 }
      : await startUpload(session, repo, digest);
  try {
    if (!options.chunked) {
      try {
        await putMonolithic(session, repo, digest, size, source, location);
        return;
      } catch (err) {
        // Registries that refuse a single streamed PUT (413, 400/405/416 on an unexpected body) get chunks instead.
        const status = isGantryError(err) ? err.details.status : undefined;
        const replayable = Buffer.isBuffer(source) || typeof source === 'function';
        if (!replayable || typeof status !== 'number' || ![400, 405, 413, 416].includes(status)) throw err;
        session.logger.warn({ digest, status }, 'monolithic upload refused, retrying in chunks');
      }
      await cancelUpload(session, repo, location);
      ({ location, minChunk } = await startUpload(session, repo, digest));
    }
    const chunk = Math.max(options.chunkSize ?? DEFAULT_CHUNK, minChunk);
    await putChunked(session, repo, digest, size, source, location, chunk);
  } catch (err) {
    await cancelUpload(session, repo, location);
    throw err;
  }
}

/** DELETEs an upload session; failures are ignored (the registry purges stale uploads itself). */
async function cancelUpload(session: Session, repo: Repository, location: string): Promise<void> {
  try {
    const origin = session.transport.origin(apiHost(repo.registry));
    const res = await session.call({
      method: 'DELETE',
      registry: repo.registry,
      path: new URL(location, origin).toString(),
      scopes: [repositoryScope(repo.repository, 'pull', 'push')],
      expect: [200, 202, 204, 404],
      retry: false,
      what: `cancel upload to ${repo.registry}/${repo.repository}`,
    });
    await discardBody(res.body);
  } catch {
    // best effort
  }
}

async function startUpload(
  session: Session,
  repo: Repository,
  digest: Digest,
): Promise<{ location: string; minChunk: number }> {
  const res = await session.call({
    method: 'POST',
    registry: repo.registry,
    path: `${Session.repoPath(repo)}/blobs/uploads/`,
    scopes: [repositoryScope(repo.repository, 'pull', 'push')],
    headers: { 'content-length': '0' },
    expect: [202],
    what: `start upload of ${what(repo, digest)}`,
  });
  await discardBody(res.body);
  const minChunk = Number(res.headers.get('oci-chunk-min-length') ?? 0);
  return {
    location: requireLocation(res.headers.get('location'), repo, digest),
    minChunk: Number.isFinite(minChunk) ? minChunk : 0,
  };
}

function requireLocation(location: string | undefined, repo: Repository, digest: string): string {
  if (!location) {
    throw new GantryError('REGISTRY_PROTOCOL', `registry sent no upload Location for ${what(repo, digest)}`);
  }
  return location;
}

function withDigest(location: string, origin: string, digest: Digest): string {
  const url = new URL(location, origin);
  url.searchParams.set('digest', digest);
  return url.toString();
}

async function open(source: BlobSource): Promise<Buffer | Readable> {
  return Buffer.isBuffer(source) ? source : await source();
}

async function putMonolithic(
  session: Session,
  repo: Repository,
  digest: Digest,
  size: number,
  source: BlobSource,
  location: string,
): Promise<void> {
  const origin = session.transport.origin(apiHost(repo.registry));
  const res = await session.call({
    method: 'PUT',
    registry: repo.registry,
    path: withDigest(location, origin, digest),
    scopes: [repositoryScope(repo.repository, 'pull', 'push')],
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
    body: await open(source),
    // An upload session that failed is not retried in place (the registry may have dropped it):
    // the caller starts the blob again with a fresh session.
    retry: false,
    expect: [201, 204],
    what: `upload ${what(repo, digest)}`,
  });
  await discardBody(res.body);
  checkStoredDigest(res.headers.get('docker-content-digest'), repo, digest);
}

async function putChunked(
  session: Session,
  repo: Repository,
  digest: Digest,
  size: number,
  source: BlobSource,
  firstLocation: string,
  chunkSize: number,
): Promise<void> {
  const origin = session.transport.origin(apiHost(repo.registry));
  let location = new URL(firstLocation, origin).toString();
  let offset = 0;
  const input = await open(source);
  const chunks = Buffer.isBuffer(input) ? sliceBuffer(input, chunkSize) : rechunk(input, chunkSize);
  for await (const chunk of chunks) {
    const res = await session.call({
      method: 'PATCH',
      registry: repo.registry,
      path: location,
      scopes: [repositoryScope(repo.repository, 'pull', 'push')],
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(chunk.byteLength),
        'content-range': `${offset}-${offset + chunk.byteLength - 1}`,
      },
      body: chunk,
      expect: [202],
      what: `upload chunk at ${offset} of ${what(repo, digest)}`,
    });
    await discardBody(res.body);
    offset += chunk.byteLength;
    location = new URL(requireLocation(res.headers.get('location'), repo, digest), origin).toString();
  }
  if (offset !== size) {
    throw new GantryError(
      'REGISTRY_SIZE_MISMATCH',
      `${what(repo, digest)}: source has ${offset} bytes, expected ${size}`,
    );
  }
  const res = await session.call({
    method: 'PUT',
    registry: repo.registry,
    path: withDigest(location, origin, digest),
    scopes: [repositoryScope(repo.repository, 'pull', 'push')],
    headers: { 'content-length': '0' },
    expect: [201, 204],
    what: `finish upload of ${what(repo, digest)}`,
  });
  await discardBody(res.body);
  checkStoredDigest(res.headers.get('docker-content-digest'), repo, digest);
}

function checkStoredDigest(header: string | undefined, repo: Repository, digest: Digest): void {
  if (
    header &&
    isDigest(header) &&
    digestAlgorithm(header) === digestAlgorithm(digest) &&
    header !== digest
  ) {
    throw new GantryError('REGISTRY_DIGEST_MISMATCH', `registry stored ${what(repo, digest)} as ${header}`, {
      details: { expected: digest, actual: header },
    });
  }
}

function* sliceBuffer(buf: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < buf.byteLength; i += size) yield buf.subarray(i, Math.min(i + size, buf.byteLength));
}

async function* rechunk(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let held = 0;
  for await (const raw of stream as AsyncIterable<Buffer>) {
    let chunk = raw;
    while (held + chunk.byteLength >= size) {
      const take = size - held;
      parts.push(chunk.subarray(0, take));
      yield Buffer.concat(parts);
      parts = [];
      held = 0;
      chunk = chunk.subarray(take);
    }
    if (chunk.byteLength > 0) {
      parts.push(chunk);
      held += chunk.byteLength;
    }
  }
  if (held > 0) yield Buffer.concat(parts);
}
