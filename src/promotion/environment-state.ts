/**
 * What an environment holds now: the digest behind its first floating tag (or its environment
 * tag), with the version, revision and who promoted it from the newest attestation.
 */
import type { Digest } from '../core/index.js';
import {
  repositoryOf,
  type ApplicationConfig,
  type Config,
  type EnvironmentConfig,
} from '../config/index.js';
import { entriesOf, type HistoryEntry } from './history.js';
import type { RegistryPort } from './ports.js';

/** One cell of the environment × application matrix. */
export interface EnvironmentState {
  readonly environment: string;
  readonly application: string;
  readonly repository: string;
  /** The tag that says what the environment runs (first floating tag, or the environment tag). */
  readonly tag?: string;
  readonly digest?: Digest;
  readonly version?: string;
  readonly revision?: string;
  readonly promotedAt?: string;
  readonly promotedBy?: string;
}

/** The tag that names what `env` currently runs. */
export function currentTag(env: EnvironmentConfig): string | undefined {
  return env.mode === 'tag' ? env.tag : env.floating[0];
}

/** The state of `app` in `env`. */
export async function stateOf(
  registry: RegistryPort,
  env: EnvironmentConfig,
  app: ApplicationConfig,
): Promise<EnvironmentState> {
  const repo = repositoryOf(env, app);
  const base = {
    environment: env.name,
    application: app.name,
    repository: `${repo.registry}/${repo.repository}`,
  };
  const tag = currentTag(env);
  if (!tag) return base;
  const digest = await registry.resolve(repo, tag).catch(() => undefined);
  if (!digest) return { ...base, tag };
  const latest: HistoryEntry | undefined = (
    await entriesOf(registry, repo, digest, env.name, app.name).catch(() => [])
  )[0];
  return {
    ...base,
    tag,
    digest,
    ...(latest?.version !== undefined && { version: latest.version }),
    ...(latest?.revision !== undefined && { revision: latest.revision }),
    ...(latest && { promotedAt: latest.time, promotedBy: latest.actor }),
  };
}

/** The full matrix, environments in configuration order. */
export async function statusMatrix(registry: RegistryPort, config: Config): Promise<EnvironmentState[]> {
  const cells: Promise<EnvironmentState>[] = [];
  for (const env of config.environments.values()) {
    for (const app of config.applications.values()) cells.push(stateOf(registry, env, app));
  }
  return Promise.all(cells);
}

/** One application compared between two environments. */
export interface DiffRow {
  readonly application: string;
  readonly same: boolean;
  readonly left: EnvironmentState;
  readonly right: EnvironmentState;
}

/** Compares two environments application by application. */
export async function diffEnvironments(
  registry: RegistryPort,
  config: Config,
  left: EnvironmentConfig,
  right: EnvironmentConfig,
): Promise<DiffRow[]> {
  return Promise.all(
    [...config.applications.values()].map(async (app) => {
      const [l, r] = await Promise.all([stateOf(registry, left, app), stateOf(registry, right, app)]);
      return {
        application: app.name,
        same: l.digest !== undefined && l.digest === r.digest,
        left: l,
        right: r,
      };
    }),
  );
}
