/** Shared pieces of the copy suites. */
import { RegistryTarget } from '../../src/copy/index.js';
import type { RegistryClient } from '../../src/registry/index.js';
import type { RegistryProcess } from '../helpers/index.js';

/** A registry target for `repository` on a test registry (or a proxy in front of it). */
export function target(
  client: RegistryClient,
  registry: Pick<RegistryProcess, 'host'>,
  repository: string,
): RegistryTarget {
  return new RegistryTarget(client, { registry: registry.host, repository });
}
