/**
 * Reading a tag where only the registry's explicit "unknown" means absent. Every other failure
 * (a 503, a 403, a reset connection) is not knowledge that the tag does not exist, so it is
 * rethrown: an immutable tag must never be treated as free because reading it failed.
 */
import { isGantryError, type Digest, type Repository } from '../core/index.js';
import type { RegistryPort } from './ports.js';

/** The errors by which a registry says "there is no such manifest / repository". */
export function isUnknown(err: unknown): boolean {
  return isGantryError(err, 'REGISTRY_MANIFEST_UNKNOWN', 'REGISTRY_NAME_UNKNOWN', 'REGISTRY_NOT_FOUND');
}

/** The digest `reference` resolves to in `repo`; `undefined` only when the registry said it is unknown. */
export async function resolveIfPresent(
  registry: RegistryPort,
  repo: Repository,
  reference: string,
): Promise<Digest | undefined> {
  try {
    return await registry.resolve(repo, reference);
  } catch (err) {
    if (isUnknown(err)) return undefined;
    throw err;
  }
}
