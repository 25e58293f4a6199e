/** The normalised, frozen configuration every other layer works with. */
import type { RetentionConfig, SyncConfig } from './lifecycle.js';
import type { GateConfig } from './gates-schema.js';

/** Where a registry's credentials come from. */
export type CredentialSource =
  | { readonly kind: 'helper'; readonly helper: string }
  | { readonly kind: 'env'; readonly env: string }
  | { readonly kind: 'env-pair'; readonly usernameEnv: string; readonly passwordEnv: string }
  | { readonly kind: 'docker-config'; readonly path: string };

/** A registry endpoint. */
export interface RegistryConfig {
  readonly name: string;
  /** Host with port, as used in references (`registry.example.com:5000`). */
  readonly host: string;
  readonly scheme: 'https' | 'http';
  readonly tlsVerify: boolean;
  /** Path of an extra CA bundle. */
  readonly caFile?: string;
  readonly credentials?: CredentialSource;
  /** Promotions writing into this registry at once across server replicas (`gantry serve`). Default: 4 there. */
  readonly concurrency?: number;
}

/** A stage of the pipeline. */
export interface EnvironmentConfig {
  readonly name: string;
  readonly registry: RegistryConfig;
  /** Repository prefix ('' for none). */
  readonly prefix: string;
  readonly mode: 'copy' | 'tag';
  /** The environment tag moved by promotions in `tag` mode. */
  readonly tag?: string;
  /** Environments this one may be promoted from. */
  readonly from: readonly string[];
  /** Tags that never move to another digest. */
  readonly immutable: readonly RegExp[];
  /** Tags moved to the promoted digest at the end of a promotion. */
  readonly floating: readonly string[];
  /** Gates checked before anything is copied, in order. */
  readonly gates: readonly GateConfig[];
  readonly auto: boolean;
  /** `promote --override --reason` may pass failing gates. */
  readonly allowOverride: boolean;
  /** `gantry serve` polls this environment's repositories this often (ms); absent: never. */
  readonly poll?: number;
  /** `gantry gc` refuses it (explicit, or by default a last stage: no environment promotes from it). */
  readonly protected: boolean;
  /** What `gantry gc` may delete here. */
  readonly retention?: RetentionConfig;
}

/** Inbound registry notifications. */
export interface EventsConfig {
  /** Environment variable holding the HMAC secret of `X-Gantry-Signature`. */
  readonly secretEnv?: string;
}

/** A tracked application. */
export interface ApplicationConfig {
  readonly name: string;
  /** Repository path under each environment's prefix. */
  readonly repository: string;
}

/** Attestation signing settings. */
export interface AttestationConfig {
  readonly keyFile?: string;
  readonly keyEnv?: string;
  /** Public keys (PEM files) whose signed promotion records count (`publicKey`, then `trustedKeys`). */
  readonly publicKeyFiles?: readonly string[];
}

/** Someone whose signed approvals count. */
export interface ApproverConfig {
  readonly name: string;
  readonly groups: readonly string[];
  /** Path of the public key PEM. */
  readonly keyFile: string;
}

/** An outbound webhook endpoint (`webhooks:`); its secret stays in the environment. */
export interface WebhookConfig {
  readonly name: string;
  readonly url: string;
  /** Event filters: types, `prefix.*`, `*`, `failures`. */
  readonly events: readonly string[];
  /** The environment variable holding the signing secret. */
  readonly secretEnv: string;
  readonly timeoutMs: number;
  /** Attempts before a delivery is dead. */
  readonly attempts: number;
  /** Delay before the first retry (doubled after each further failure, up to `maxBackoffMs`). */
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
}

/** Where the keys of a configuration were written, for problems found after it loaded. */
export interface ConfigSource {
  /** 1-based line and column of the value at `path` (or its nearest written parent). */
  position(path: readonly (string | number)[]): { line: number; column: number } | undefined;
}

/** The validated configuration. */
export interface Config {
  /** The file it was read from. */
  readonly file: string;
  readonly registries: ReadonlyMap<string, RegistryConfig>;
  /** Environments in file order. */
  readonly environments: ReadonlyMap<string, EnvironmentConfig>;
  readonly applications: ReadonlyMap<string, ApplicationConfig>;
  readonly attestation?: AttestationConfig;
  /** Inbound registry notifications (`events:`). */
  readonly events?: EventsConfig;
  readonly approvers: ReadonlyMap<string, ApproverConfig>;
  /**
   * Teams and the applications each one owns (`teams:`); an API token limited to teams sees only
   * their applications. Empty when the file has none; absent for a configuration built in code.
   */
  readonly teams?: ReadonlyMap<string, readonly string[]>;
  /** Outbound webhook endpoints by name; absent for a configuration built in code. */
  readonly webhooks?: ReadonlyMap<string, WebhookConfig>;
  /** `gantry sync` jobs by name; absent for a configuration built in code. */
  readonly sync?: ReadonlyMap<string, SyncConfig>;
  /** Positions of keys in {@link file}; absent for a configuration built in code. */
  readonly source?: ConfigSource;
}

/** The repository of `app` in `env`. */
export function repositoryOf(
  env: EnvironmentConfig,
  app: ApplicationConfig,
): { registry: string; repository: string } {
  return {
    registry: env.registry.host,
    repository: env.prefix ? `${env.prefix.replace(/\/+$/, '')}/${app.repository}` : app.repository,
  };
}
