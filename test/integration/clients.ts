/** Builds Gantry registry clients pointed at test registries. */
import {
  RegistryClient,
  staticCredentials,
  type Credential,
  type RetryOptions,
} from '../../src/registry/index.js';
import type { RegistryProcess } from '../helpers/index.js';

/** A client for a test registry: plain HTTP, or HTTPS trusting the test CA. */
export function clientFor(
  registry: Pick<RegistryProcess, 'host' | 'tls' | 'caPem'>,
  options: { credential?: Credential; retry?: RetryOptions } = {},
): RegistryClient {
  return new RegistryClient({
    hostSettings: () =>
      registry.tls ? { ...(registry.caPem !== undefined && { ca: registry.caPem }) } : { scheme: 'http' },
    ...(options.credential && { credentials: staticCredentials({ [registry.host]: options.credential }) }),
    retry: { baseDelayMs: 10, maxDelayMs: 50, ...options.retry },
  });
}

/** Reads a stream fully. */
export async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}
