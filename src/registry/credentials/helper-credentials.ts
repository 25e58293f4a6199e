/** A {@link CredentialProvider} that asks one named `docker-credential-<helper>` for every host. */
import type { Credential, CredentialProvider } from './credential.js';
import { helperGet } from './credential-helper.js';
import { serverUrlForHost } from './auth-key.js';
import { DEFAULT_HELPER_ENV, DEFAULT_HELPER_TIMEOUT_MS, spawnHelperRunner } from './helper-process.js';

/** Options of {@link helperCredentials}. */
export interface HelperCredentialsOptions {
  /** Environment of the helper process. Default {@link DEFAULT_HELPER_ENV}. */
  readonly env?: Readonly<Record<string, string>>;
  /** Milliseconds the helper may run. Default {@link DEFAULT_HELPER_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
}

/** Credentials from `docker-credential-<helper> get`, as configured per registry in gantry.yaml. */
export function helperCredentials(
  helper: string,
  options: HelperCredentialsOptions = {},
): CredentialProvider {
  const run = spawnHelperRunner({
    env: options.env ?? DEFAULT_HELPER_ENV,
    timeoutMs: options.timeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS,
  });
  const cache = new Map<string, Promise<Credential | undefined>>();
  return Object.freeze({
    get(host: string): Promise<Credential | undefined> {
      let p = cache.get(host);
      if (!p) {
        p = helperGet(run, helper, serverUrlForHost(host));
        cache.set(host, p);
      }
      return p;
    },
  });
}
