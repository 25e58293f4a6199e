/**
 * The blob store of an OCI image layout (`blobs/<alg>/<hex>`): reads verified against their
 * descriptor (one {@link ContentVerifier} for streams, files and manifests), writes through a
 * temporary file that is renamed into place once size and digest are right, so no partial blob is
 * ever visible.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  ContentVerifier,
  GantryError,
  digestAlgorithm,
  digestHex,
  isGantryError,
  parseDigest,
  toGantryError,
  verifyBytes,
  type Digest,
} from '../core/index.js';
import type { Descriptor } from '../registry/index.js';
import { errno, ioError } from './oci-layout-io.js';

/** Manifests over this size are refused, as from a registry. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** The `blobs/` directory of one layout. */
export class LayoutBlobStore {
  readonly #root: string;
  readonly #name: string;

  /** `root` is the layout directory; `name` (`oci:PATH`) names it in messages. */
  constructor(root: string, name: string) {
    this.#root = root;
    this.#name = name;
  }

  /** `blobs/<alg>/<hex>` of a digest. */
  path(digest: Digest): string {
    return join(this.#root, 'blobs', digestAlgorithm(digest), digestHex(digest));
  }

  /** A blob file's size, `undefined` when it does not exist (or is not a file). */
  async size(digest: Digest): Promise<number | undefined> {
    const file = this.path(digest);
    try {
      const s = await stat(file);
      return s.isFile() ? s.size : undefined;
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return undefined;
      throw ioError(err, 'stat', file);
    }
  }

  /**
   * Streams a blob, verified while it streams: the stream errors with `REGISTRY_SIZE_MISMATCH` /
   * `REGISTRY_DIGEST_MISMATCH` instead of ending when the file is wrong, and with
   * `REGISTRY_BLOB_UNKNOWN` when it is missing.
   */
  read(descriptor: Descriptor): Readable {
    const digest = parseDigest(descriptor.digest);
    const file = this.path(digest);
    const what = `blob ${this.#name}@${digest}`;
    async function* generate(): AsyncGenerator<Buffer> {
      const verifier = new ContentVerifier({ digest, size: descriptor.size }, { what });
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
          verifier.update(chunk);
          yield chunk;
        }
      } catch (err) {
        throw isGantryError(err) ? err : ioError(err, 'read', file);
      } finally {
        await handle.close().catch(() => undefined);
      }
      verifier.finish();
    }
    return Readable.from(generate(), { objectMode: false });
  }

  /**
   * Reads a manifest blob (at most 4 MiB), verified against its digest and, when given, the size
   * `index.json` records; `undefined` when the file does not exist.
   */
  async readManifest(digest: Digest, expectedSize?: number): Promise<Buffer | undefined> {
    const file = this.path(digest);
    const what = `manifest ${this.#name}@${digest}`;
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
    verifyBytes(
      bytes,
      { digest, ...(expectedSize !== undefined && { size: expectedSize }) },
      { what, sizeSource: 'index.json says' },
    );
    return bytes;
  }

  /** Streams `source` to the blob's file through a temporary file, verifying size and digest. */
  async write(digest: Digest, size: number, source: Readable): Promise<void> {
    const algorithm = digestAlgorithm(digest);
    const dir = join(this.#root, 'blobs', algorithm);
    const final = join(dir, digestHex(digest));
    const temp = join(dir, `.tmp-${digestHex(digest).slice(0, 12)}-${randomBytes(6).toString('hex')}`);
    const verifier = new ContentVerifier({ digest, size }, { what: `blob ${this.#name}@${digest}` });
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
          verifier.update(chunk);
          for (let offset = 0; offset < chunk.byteLength;) {
            const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
            offset += bytesWritten;
          }
        }
        verifier.finish();
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
