/**
 * The one place content is checked against its descriptor: size first (as bytes arrive, so an
 * oversized stream stops early), digest at the end. Every reader and writer of content uses it —
 * registry downloads, small-blob reads, OCI layout reads and writes — in the manner of regclient's
 * `types/blob/reader.go` and oras-go's `content.NewVerifyReader`.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { Digester, digestAlgorithm, type Digest } from './digest.js';
import { GantryError, type ErrorDetails } from './errors.js';

/** What content must be. */
export interface ExpectedContent {
  readonly digest: Digest;
  /** Exact size in bytes; when absent only the digest is checked. */
  readonly size?: number;
}

/** Options for {@link ContentVerifier}. */
export interface VerifierOptions {
  /** Names the content in messages, e.g. `blob host/repo@sha256:…`. */
  readonly what: string;
  /** Extra details for the errors (e.g. `side`, `temporary`). Default none. */
  readonly details?: ErrorDetails;
  /** Wording of the size in messages, e.g. `index.json says`. Default `expected`. */
  readonly sizeSource?: string;
}

/**
 * Incremental verification: {@link update} with each chunk (throws `REGISTRY_SIZE_MISMATCH` as soon
 * as there are more bytes than expected), then {@link finish} (throws `REGISTRY_SIZE_MISMATCH` or
 * `REGISTRY_DIGEST_MISMATCH`).
 */
export class ContentVerifier {
  readonly expected: ExpectedContent;
  readonly #options: VerifierOptions;
  readonly #digester: Digester;

  constructor(expected: ExpectedContent, options: VerifierOptions) {
    this.expected = expected;
    this.#options = options;
    this.#digester = new Digester(digestAlgorithm(expected.digest));
  }

  /** Bytes seen so far. */
  get received(): number {
    return this.#digester.size;
  }

  /** Feeds a chunk; throws when the content is now larger than expected. */
  update(chunk: Uint8Array): void {
    this.#digester.update(chunk);
    const size = this.expected.size;
    if (size !== undefined && this.#digester.size > size) {
      throw this.#error('REGISTRY_SIZE_MISMATCH', `is larger than its declared ${size} bytes`, {
        expected: size,
      });
    }
  }

  /** Checks size and digest once all bytes were fed (call once). */
  finish(size = this.expected.size): void {
    const received = this.#digester.size;
    if (size !== undefined && received !== size) {
      const source = this.#options.sizeSource ?? 'expected';
      throw this.#error('REGISTRY_SIZE_MISMATCH', `has ${received} bytes, ${source} ${size}`, {
        expected: size,
        actual: received,
      });
    }
    const actual = this.#digester.digest();
    if (actual !== this.expected.digest) {
      throw this.#error('REGISTRY_DIGEST_MISMATCH', `content hashes to ${actual}`, {
        expected: this.expected.digest,
        actual,
      });
    }
  }

  #error(code: 'REGISTRY_SIZE_MISMATCH' | 'REGISTRY_DIGEST_MISMATCH', text: string, facts: ErrorDetails) {
    return new GantryError(code, `${this.#options.what} ${text}`, {
      details: { digest: this.expected.digest, ...facts, ...this.#options.details },
    });
  }
}

/** Verifies a whole buffer against its digest (and size when given); throws as {@link ContentVerifier}. */
export function verifyBytes(bytes: Uint8Array, expected: ExpectedContent, options: VerifierOptions): void {
  // The size alone is checked at the end, so the message says how many bytes there were.
  const verifier = new ContentVerifier({ digest: expected.digest }, options);
  verifier.update(bytes);
  verifier.finish(expected.size);
}

/**
 * A pass-through stream that verifies what flows through it: it errors instead of ending when
 * the content is wrong, so nothing downstream ever sees the end of bad content.
 */
export function verifyingStream(expected: ExpectedContent, options: VerifierOptions): Transform {
  const verifier = new ContentVerifier(expected, options);
  return new Transform({
    highWaterMark: 256 * 1024,
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      try {
        verifier.update(chunk);
      } catch (err) {
        callback(err as Error);
        return;
      }
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      try {
        verifier.finish();
      } catch (err) {
        callback(err as Error);
        return;
      }
      callback();
    },
  });
}
