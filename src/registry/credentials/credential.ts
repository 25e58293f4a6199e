/**
 * What a registry login is made of, the provider port the auth layer asks for it, and the small
 * providers the CLI composes: `--creds`, fixed maps and chains.
 */
import { GantryError } from '../../core/index.js';
import { AuthKeyIndex } from './auth-key.js';

/** Credentials for one registry. Every field is optional; an object without any is "no credentials". */
export interface Credential {
  /** User name for Basic auth or the OAuth2 password grant. */
  readonly username?: string;
  /** Password (or personal access token) going with `username`. */
  readonly password?: string;
  /** OAuth2 refresh token (the config file's `identitytoken`, a helper's `<token>` secret). */
  readonly identityToken?: string;
  /** Bearer token sent to the registry as is (the config file's `registrytoken`). */
  readonly registryToken?: string;
}

/** A source of credentials, asked once per registry host. */
export interface CredentialProvider {
  /**
   * Credentials for `host` (a registry host such as `registry.example.com:5000` or `docker.io`),
   * or `undefined` when this source has none. `repository` (a path without the host such as
   * `team/app`) lets sources with repository-scoped entries pick the most specific one.
   * Rejects with a `GantryError` when the source exists but is broken.
   */
  get(host: string, repository?: string): Promise<Credential | undefined>;
}

/** True when `credential` carries nothing usable (no user name, password or token). */
export function isEmptyCredential(credential: Credential | undefined): boolean {
  return (
    credential === undefined ||
    (!credential.username && !credential.password && !credential.identityToken && !credential.registryToken)
  );
}

/**
 * Parses the `--creds USERNAME:PASSWORD` flag (skopeo's syntax). Splits at the first colon, so
 * the password may contain colons. Unlike skopeo a missing password is an error since Gantry
 * never prompts. Throws `CREDENTIALS_INVALID`; the message never repeats the value.
 */
export function parseCredsFlag(value: string): Credential {
  const colon = value.indexOf(':');
  const reason =
    value === ''
      ? 'the value is empty'
      : colon === -1
        ? 'the password is missing'
        : colon === 0
          ? 'the username is empty'
          : colon === value.length - 1
            ? 'the password is empty'
            : undefined;
  if (reason !== undefined) {
    throw new GantryError('CREDENTIALS_INVALID', `credentials must be USER:PASSWORD (${reason})`);
  }
  return Object.freeze({ username: value.slice(0, colon), password: value.slice(colon + 1) });
}

/**
 * A provider answering from a fixed map. Keys are registry hosts in any spelling accepted in
 * docker config files (`docker.io`, `https://index.docker.io/v1/`, `host:5000`), optionally
 * followed by a repository path (`quay.io/team`) that only applies to that repository prefix.
 * Entries without any field are ignored.
 */
export function staticCredentials(
  entries: Readonly<Record<string, Credential>> | ReadonlyMap<string, Credential>,
): CredentialProvider {
  const pairs: (readonly [string, Credential])[] = isMap(entries) ? [...entries] : Object.entries(entries);
  const index = new AuthKeyIndex(
    pairs
      .filter(([, credential]) => !isEmptyCredential(credential))
      .map(([key, credential]) => [key, Object.freeze({ ...credential })] as const),
  );
  return Object.freeze({
    get(host: string, repository?: string): Promise<Credential | undefined> {
      for (const credential of index.candidates(host, repository)) return Promise.resolve(credential);
      return Promise.resolve(undefined);
    },
  });
}

/**
 * A provider asking `providers` in order; the first non-empty answer wins. Errors are not
 * swallowed: a broken source (say a failing credential helper) fails the lookup instead of
 * silently falling back to another login.
 */
export function chainCredentials(...providers: readonly CredentialProvider[]): CredentialProvider {
  const list = Object.freeze([...providers]);
  return Object.freeze({
    async get(host: string, repository?: string): Promise<Credential | undefined> {
      for (const provider of list) {
        const credential = await provider.get(host, repository);
        if (!isEmptyCredential(credential)) return credential;
      }
      return undefined;
    },
  });
}

function isMap(
  value: Readonly<Record<string, Credential>> | ReadonlyMap<string, Credential>,
): value is ReadonlyMap<string, Credential> {
  return value instanceof Map;
}
