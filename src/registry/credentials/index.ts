/**
 * Public surface of registry credentials: the provider port, `--creds`, docker / podman auth
 * files with credential helpers, and `gantry login` / `logout` storage.
 */
export type { Credential, CredentialProvider } from './credential.js';
export { chainCredentials, isEmptyCredential, parseCredsFlag, staticCredentials } from './credential.js';
export { DOCKER_HUB_SERVER_URL, normalizeRegistryHost, serverUrlForHost } from './auth-key.js';
export type {
  CredentialHelperAction,
  CredentialHelperRequest,
  CredentialHelperResult,
  CredentialHelperRunner,
} from './credential-helper.js';
export {
  DEFAULT_HELPER_ENV,
  DEFAULT_HELPER_TIMEOUT_MS,
  spawnHelperRunner,
  type HelperProcessOptions,
} from './helper-process.js';
export { DockerConfigCredentials, type DockerConfigCredentialsOptions } from './docker-config.js';
export {
  removeLogin,
  saveLogin,
  type LoginFileOptions,
  type LoginStorage,
  type SaveLoginOptions,
} from './docker-config-writer.js';
export { helperCredentials, type HelperCredentialsOptions } from './helper-credentials.js';
