/**
 * Credentials from a docker `config.json` or podman / skopeo `auth.json`, including the
 * credential helpers it names.
 */
import { GantryError } from '../../core/index.js';
import { AuthKeyIndex, normalizeRegistryHost, serverUrlForHost } from './auth-key.js';
import type { Credential, CredentialProvider } from './credential.js';
import { assertHelperName, helperGet, type CredentialHelperRunner } from './credential-helper.js';
import {
  authsOf,
  credHelpersOf,
  credsStoreOf,
  decodeAuthEntry,
  readDockerConfig,
} from './docker-config-file.js';
import { DEFAULT_HELPER_ENV, DEFAULT_HELPER_TIMEOUT_MS, spawnHelperRunner } from './helper-process.js';

/** Options of {@link DockerConfigCredentials}. */
export interface DockerConfigCredentialsOptions {
  /**
   * Path of the config file. Required, no default: the CLI resolves it from `--authfile`,
   * `$REGISTRY_AUTH_FILE`, `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
   */
  readonly path: string;
  /**
   * The complete environment of credential helpers; its `PATH` is where
   * `docker-credential-<name>` is looked up. Default: {@link DEFAULT_HELPER_ENV} (a fixed system
   * `PATH` only). Ignored when `runHelper` is given.
   */
  readonly helperEnv?: Readonly<Record<string, string>>;
  /**
   * Runs credential helpers. Default: {@link spawnHelperRunner} with `helperEnv` and `timeoutMs`,
   * which spawns `docker-credential-<name> get` and writes the server URL on its stdin.
   */
  readonly runHelper?: CredentialHelperRunner;
  /** Milliseconds a helper may run. Default: {@link DEFAULT_HELPER_TIMEOUT_MS}. Ignored with `runHelper`. */
  readonly timeoutMs?: number;
}

interface LoadedConfig {
  readonly auths: AuthKeyIndex<readonly [key: string, entry: unknown]>;
  readonly credHelpers: AuthKeyIndex<string>;
  readonly credsStore: string | undefined;
}

/**
 * A {@link CredentialProvider} reading a docker / podman auth file.
 *
 * The file is read lazily, once per instance (create a new instance to see later changes). A
 * missing file means no credentials; a malformed one fails with `AUTH_CONFIG_INVALID`.
 * Lookup for a host:
 * 1. `credHelpers[host]`: when set, that helper alone answers (as in docker and podman);
 * 2. `auths`: keys in any spelling (`https://index.docker.io/v1/`, `http://host:5000`,
 *    `host:5000/v2/`), and with a repository, podman's `host/namespace` keys by longest prefix;
 *    entries without credentials (`{}`, written by docker next to a helper) are skipped;
 * 3. `credsStore`: the default helper.
 *
 * Helpers are asked with docker's server URL (`https://index.docker.io/v1/` for Docker Hub, the
 * bare host otherwise). A helper without credentials for it yields `undefined`; a missing or
 * failing helper fails with `AUTH_HELPER_FAILED`.
 */
export class DockerConfigCredentials implements CredentialProvider {
  readonly #options: Readonly<{ path: string; runHelper: CredentialHelperRunner }>;
  #loaded: Promise<LoadedConfig> | undefined;
  readonly #pending = new Map<string, Promise<Credential | undefined>>();

  /** Creates the provider; nothing is read until the first {@link DockerConfigCredentials.get}. */
  constructor(options: DockerConfigCredentialsOptions) {
    if (options.path === '') throw new GantryError('AUTH_CONFIG_INVALID', 'auth file path is empty');
    this.#options = Object.freeze({
      path: options.path,
      runHelper:
        options.runHelper ??
        spawnHelperRunner({
          env: options.helperEnv ?? DEFAULT_HELPER_ENV,
          timeoutMs: options.timeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS,
        }),
    });
  }

  /** The config file this provider reads. */
  get path(): string {
    return this.#options.path;
  }

  /** Credentials for `host` (optionally narrowed to `repository`, e.g. `team/app`), see the class doc. */
  async get(host: string, repository?: string): Promise<Credential | undefined> {
    const normalized = normalizeRegistryHost(host);
    if (normalized === '') return undefined;
    const config = await this.#load();
    for (const helper of config.credHelpers.candidates(normalized))
      return this.#fromHelper(helper, normalized);
    for (const [key, entry] of config.auths.candidates(normalized, repository)) {
      const credential = decodeAuthEntry(entry, key, this.#options.path);
      if (credential !== undefined) return credential;
    }
    if (config.credsStore !== undefined) return this.#fromHelper(config.credsStore, normalized);
    return undefined;
  }

  #load(): Promise<LoadedConfig> {
    this.#loaded ??= (async () => {
      const path = this.#options.path;
      const raw = (await readDockerConfig(path)) ?? {};
      return {
        auths: new AuthKeyIndex(
          Object.entries(authsOf(raw, path)).map(([key, entry]) => [key, [key, entry]] as const),
        ),
        credHelpers: new AuthKeyIndex(Object.entries(credHelpersOf(raw, path))),
        credsStore: credsStoreOf(raw, path),
      };
    })();
    return this.#loaded;
  }

  /** Asks `helper`, sharing one process between concurrent lookups of the same host. */
  #fromHelper(helper: string, host: string): Promise<Credential | undefined> {
    assertHelperName(helper, this.#options.path);
    const serverUrl = serverUrlForHost(host);
    const key = `${helper}\n${serverUrl}`;
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      pending = helperGet(this.#options.runHelper, helper, serverUrl).finally(() =>
        this.#pending.delete(key),
      );
      this.#pending.set(key, pending);
    }
    return pending;
  }
}
