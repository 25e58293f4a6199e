/**
 * Content digests as defined by the OCI image-spec
 * (https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests).
 */
import { createHash, type Hash } from 'node:crypto';
import { GantryError } from './errors.js';

/** A validated `algorithm:encoded` digest string. */
export type Digest = string & { readonly __brand: 'Digest' };

/** Algorithms Gantry can compute, with the length of their lowercase hex encoding. */
const ALGORITHMS: Readonly<Record<string, number>> = Object.freeze({ sha256: 64, sha512: 128 });

const DIGEST_RE = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

/** Parses and validates a digest; throws `DIGEST_INVALID` with a precise reason. */
export function parseDigest(value: string): Digest {
  const m = DIGEST_RE.exec(value);
  if (!m)
    throw new GantryError('DIGEST_INVALID', `invalid digest "${truncate(value)}": expected algorithm:hex`);
  const [, algorithm = '', encoded = ''] = m;
  const length = ALGORITHMS[algorithm];
  if (length === undefined) {
    throw new GantryError(
      'DIGEST_INVALID',
      `unsupported digest algorithm "${algorithm}" (supported: sha256, sha512)`,
    );
  }
  if (encoded.length !== length || !/^[a-f0-9]+$/.test(encoded)) {
    throw new GantryError(
      'DIGEST_INVALID',
      `invalid ${algorithm} digest "${truncate(value)}": expected ${length} lowercase hex characters`,
    );
  }
  return value as Digest;
}

/** True when `value` is a valid, supported digest. */
export function isDigest(value: string): value is Digest {
  try {
    parseDigest(value);
    return true;
  } catch {
    return false;
  }
}

/** The algorithm part of a digest. */
export function digestAlgorithm(digest: Digest): string {
  return digest.slice(0, digest.indexOf(':'));
}

/** The encoded (hex) part of a digest. */
export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

/** Computes the sha256 digest of some bytes. */
export function digestOf(data: Uint8Array | string, algorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}` as Digest;
}

/** An incremental digester for streamed content. */
export class Digester {
  readonly algorithm: string;
  #hash: Hash;
  #size = 0;

  constructor(algorithm = 'sha256') {
    if (ALGORITHMS[algorithm] === undefined) {
      throw new GantryError('DIGEST_INVALID', `unsupported digest algorithm "${algorithm}"`);
    }
    this.algorithm = algorithm;
    this.#hash = createHash(algorithm);
  }

  /** Feeds more bytes. */
  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.#size += chunk.byteLength;
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.#size;
  }

  /** Finishes and returns the digest (call once). */
  digest(): Digest {
    return `${this.algorithm}:${this.#hash.digest('hex')}` as Digest;
  }
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
