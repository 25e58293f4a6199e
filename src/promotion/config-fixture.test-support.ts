/**
 * The configuration promotion unit tests share: registries named after their environment, a
 * `dev → prod` pipeline with version and git-sha tags immutable and `latest`/`prod` floating, and
 * two applications (`web`, `api`) under the `team` prefix.
 */
import type { ApplicationConfig, Config, EnvironmentConfig, RegistryConfig } from '../config/index.js';
import type { Repository } from '../core/index.js';

/** A registry at `<name>.example.com`. */
export const registry = (name: string): RegistryConfig => ({
  name,
  host: `${name}.example.com`,
  scheme: 'https',
  tlsVerify: true,
});

/** An environment with the defaults of a normalised configuration, overridden by `over`. */
export const environment = (over: Partial<EnvironmentConfig> & { name: string }): EnvironmentConfig => ({
  registry: registry(over.name),
  prefix: 'team',
  mode: 'copy',
  from: [],
  immutable: [],
  floating: [],
  gates: [],
  auto: false,
  allowOverride: false,
  protected: false,
  ...over,
});

/** The entry environment. */
export const dev = environment({ name: 'dev' });
/** Promoted from dev; versions and git shas immutable, `latest` and `prod` floating. */
export const prod = environment({
  name: 'prod',
  from: ['dev'],
  immutable: [/^\d+\.\d+\.\d+$/, /^[0-9a-f]{40}$/],
  floating: ['latest', 'prod'],
});
/** The applications. */
export const apps: readonly ApplicationConfig[] = [
  { name: 'web', repository: 'web' },
  { name: 'api', repository: 'api' },
];

/** A configuration of `environments` (default dev and prod) and {@link apps}. */
export function configOf(environments: readonly EnvironmentConfig[] = [dev, prod]): Config {
  return {
    file: '/etc/gantry.yaml',
    registries: new Map(environments.map((e) => [e.name, e.registry])),
    environments: new Map(environments.map((e) => [e.name, e])),
    applications: new Map(apps.map((a) => [a.name, a])),
    approvers: new Map(),
  };
}

/** The repository of `app` in `env`. */
export const repo = (env: EnvironmentConfig, app: string): Repository => ({
  registry: env.registry.host,
  repository: `team/${app}`,
});

/** A full git commit. */
export const REV = 'abcdef0123456789abcdef0123456789abcdef01';
