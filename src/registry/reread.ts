/**
 * Reading a body again when it arrives damaged, for the reads that hold a whole body in memory
 * (manifests, small blobs): see {@link rereadDamaged}.
 */
import { GantryError } from '../core/index.js';
import { isTemporary } from './transport/registry-error.js';

/**
 * Reads of one manifest (or small blob read whole), counting the first: a body that arrived
 * damaged — its bytes do not hash to the digest asked for or announced (a flipped byte in
 * transit), or it was cut off — is read again, as a copied blob is. The request's own failures
 * are not: the transport retried them.
 */
const READS = 3;

/**
 * Runs `read` again (at most {@link READS} times in all) while its body comes back
 * damaged: `read` wraps the reading of the body in `body(…)`; failures outside it are final.
 */
export async function rereadDamaged<T>(
  read: (body: (f: () => Promise<T>) => Promise<T>) => Promise<T>,
): Promise<T> {
  for (let n = 1; ; n++) {
    let damaged = false;
    const body = (f: () => Promise<T>): Promise<T> =>
      f().catch((err: unknown) => {
        damaged = isTemporary(err) || (err instanceof GantryError && err.code === 'REGISTRY_DIGEST_MISMATCH');
        throw err;
      });
    try {
      return await read(body);
    } catch (err) {
      if (!damaged || n >= READS) throw err;
    }
  }
}
