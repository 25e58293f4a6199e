/** Public surface of the configuration layer. */
export type {
  Config,
  EnvironmentConfig,
  RegistryConfig,
  ApplicationConfig,
  CredentialSource,
  AttestationConfig,
  EventsConfig,
  ConfigSource,
  WebhookConfig,
} from './config.js';
export { configError, atConfigKey } from './config-error.js';
export { MAX_CONFIG_FILE_BYTES } from './bounded-yaml.js';
export { repositoryOf } from './config.js';
export { parseConfig, loadConfig, loadConfigOrThrow, type LoadResult } from './load.js';
export { findConfigFile, CONFIG_NAMES } from './find.js';
export { formatProblem, type ConfigProblem } from './problems.js';
export { configJsonSchema } from './schema.js';
export { loadReleaseFile, type ReleaseFile } from './release.js';
export * from './gates-schema.js';
export { parseDuration, formatDuration } from './duration.js';
export { cronProblem, nextCronTime, type RetentionConfig, type SyncConfig } from './lifecycle.js';
export {
  webhookMatches,
  webhookTargets,
  decodeSecret,
  WEBHOOK_EVENT_TYPES,
  FAILURE_EVENT_TYPES,
  type WebhookTarget,
} from './webhooks.js';
