/** Reading response bodies into memory with a hard size cap. */
import type { Readable } from 'node:stream';
import { GantryError } from '../../core/index.js';
import { bodyError } from './classify.js';

/** Manifests larger than this are refused (distribution-spec recommends supporting at least 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Error bodies are read up to this size and the rest dropped. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * Reads a stream fully, failing with `REGISTRY_TOO_LARGE` past `limit` bytes
 * (or, when `truncate` is set, silently keeping only the first `limit` bytes).
 */
export async function readBody(
  body: Readable,
  limit: number,
  options: { truncate?: boolean; what?: string } = {},
): Promise<Buffer> {
  try {
    return await readAll(body, limit, options);
  } catch (err) {
    throw bodyError(err, options.what ?? 'response');
  }
}

async function readAll(
  body: Readable,
  limit: number,
  options: { truncate?: boolean; what?: string },
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) {
      body.destroy();
      if (options.truncate) {
        chunks.push(chunk.subarray(0, chunk.byteLength - (size - limit)));
        return Buffer.concat(chunks);
      }
      throw new GantryError(
        'REGISTRY_TOO_LARGE',
        `${options.what ?? 'response'} is larger than the ${limit}-byte limit`,
        { details: { limit } },
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Drains and discards a body so the connection can be reused. */
export async function discardBody(body: Readable): Promise<void> {
  // undici's bodies can dump themselves (and close the connection instead when the rest is
  // large), without an async iterator per response.
  const dump = (body as { dump?: () => Promise<void> }).dump;
  try {
    if (typeof dump === 'function') {
      await dump.call(body);
      return;
    }
    for await (const _ of body as AsyncIterable<Buffer>) {
      // discard
    }
  } catch {
    // the connection is dropped instead; nothing to do
  }
}
