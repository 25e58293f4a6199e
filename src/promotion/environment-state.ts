/**
 * What an environment holds now: the digest behind its first floating tag (or its environment
 * tag), with the version, revision and who promoted it from the newest attestation. Only a
 * registry that answered "unknown" makes a cell absent: any other failure is an error (for the
 * status matrix, a cell marked unknown with that error).
 */
import { GantryError, toGantryError, type Digest, type Repository } from '../core/index.js';
import {
  repositoryOf,
  type ApplicationConfig,
  type Config,
  type EnvironmentConfig,
} from '../config/index.js';
import { entriesOf, type HistoryEntry } from './history.js';
import type { RegistryPort } from './ports.js';
import { hasPromotionRecord } from './promotion-record.js';
import { resolveIfPresent } from './resolve-if-present.js';
import { compareVersions, isVersionTag } from './tag-kinds.js';

/** One cell of the environment × application matrix. */
export interface EnvironmentState {
  readonly environment: string;
  readonly application: string;
  readonly repository: string;
  /**
   * `present`: the environment holds `digest`; `absent`: the registry said the tag (or
   * repository) is unknown; `unknown`: the registry could not be read (see `error`).
   */
  readonly state: 'present' | 'absent' | 'unknown';
  /** The tag that says what the environment runs (first floating tag, or the environment tag). */
  readonly tag?: string;
  /**
   * Where `tag` comes from: `current` (the environment's floating or environment tag) or, in an
   * entry environment without one, `newest-version` (its newest version tag: the newest candidate).
   */
  readonly source?: 'current' | 'newest-version';
  readonly digest?: Digest;
  readonly version?: string;
  readonly revision?: string;
  readonly promotedAt?: string;
  readonly promotedBy?: string;
  /**
   * True when `digest` carries a promotion record for this environment. Entry environments
   * receive images from CI and have none.
   */
  readonly recorded?: boolean;
  /** Why the cell is unknown (only with `state: 'unknown'`). */
  readonly error?: { readonly code: string; readonly message: string };
}

/** The tag that names what `env` currently runs. */
export function currentTag(env: EnvironmentConfig): string | undefined {
  return env.mode === 'tag' ? env.tag : env.floating[0];
}

/** Options of {@link stateOf}. */
export interface StateOptions {
  /** In an entry environment without a floating tag, show its newest version tag. Default false. */
  readonly newestInEntry?: boolean;
}

/** The state of `app` in `env`; throws when the registry cannot be read. */
export async function stateOf(
  registry: RegistryPort,
  env: EnvironmentConfig,
  app: ApplicationConfig,
  options: StateOptions = {},
): Promise<EnvironmentState> {
  const repo = repositoryOf(env, app);
  const base = {
    environment: env.name,
    application: app.name,
    repository: `${repo.registry}/${repo.repository}`,
  };
  try {
    let tag = currentTag(env);
    let source: 'current' | 'newest-version' = 'current';
    let digest: Digest | undefined;
    if (tag) digest = await resolveIfPresent(registry, repo, tag);
    else if (options.newestInEntry && env.from.length === 0) {
      const newest = await newestVersion(registry, env, repo);
      if (newest) [tag, digest, source] = [newest.tag, newest.digest, 'newest-version'];
    }
    if (!tag) return { ...base, state: 'absent' };
    if (!digest) return { ...base, state: 'absent', tag, source };
    const latest: HistoryEntry | undefined = (await entriesOf(registry, repo, digest, env.name, app.name))[0];
    const version = latest?.version ?? (source === 'newest-version' ? tag : undefined);
    return {
      ...base,
      state: 'present',
      tag,
      source,
      digest,
      ...(version !== undefined && { version }),
      ...(latest?.revision !== undefined && { revision: latest.revision }),
      ...(latest && { promotedAt: latest.time, promotedBy: latest.actor }),
      ...(env.from.length > 0 && { recorded: latest !== undefined }),
    };
  } catch (err) {
    const e = toGantryError(err);
    throw new GantryError(e.code, `${env.name} (${repo.registry}): ${app.name}: ${e.message}`, {
      cause: err,
      details: { ...e.details, environment: env.name, registry: repo.registry },
    });
  }
}

/**
 * What `env` runs of `app`, for deploy tooling (`ref`, `pin`): only a proven state. An
 * environment without a floating tag defines nothing to run (`CONFIG_INVALID`); a digest without
 * a promotion record for `env` is refused (`PROMOTION_UNRECORDED`) unless `allowUnrecorded`.
 * Entry environments receive images from CI and need no record.
 */
export async function deployableState(
  registry: RegistryPort,
  config: Config,
  env: EnvironmentConfig,
  app: ApplicationConfig,
  options: { readonly allowUnrecorded?: boolean } = {},
): Promise<EnvironmentState> {
  if (!currentTag(env)) {
    throw new GantryError(
      'CONFIG_INVALID',
      `${config.file}: environments.${env.name}.tags.floating: ${env.name} has no floating tag, so what it runs is not defined; configure one (e.g. floating: [${env.name}]), or ask for a version or digest directly`,
      { details: { environment: env.name } },
    );
  }
  const state = await stateOf(registry, env, app);
  if (
    state.digest !== undefined &&
    env.from.length > 0 &&
    !options.allowUnrecorded &&
    !(await hasPromotionRecord(registry, repositoryOf(env, app), state.digest, env.name, app.name))
  ) {
    throw new GantryError(
      'PROMOTION_UNRECORDED',
      `${app.name} in ${env.name} is ${state.digest} (tag ${state.tag ?? '?'}), which has no promotion record for ${env.name}: a promotion or release did not complete, or the tag was moved outside Gantry. Re-run the promotion to complete it, or accept unrecorded digests to take the registry as it is`,
      { details: { environment: env.name, application: app.name, digest: state.digest } },
    );
  }
  return state;
}

/** The newest version tag of an entry environment's repository (and its digest). */
async function newestVersion(
  registry: RegistryPort,
  env: EnvironmentConfig,
  repo: Repository,
): Promise<{ tag: string; digest: Digest } | undefined> {
  const versions = (await registry.tags(repo))
    .filter((t) => isVersionTag(env, t))
    .sort((a, b) => compareVersions(b, a) ?? (a < b ? 1 : a > b ? -1 : 0));
  for (const tag of versions) {
    const digest = await resolveIfPresent(registry, repo, tag);
    if (digest) return { tag, digest };
  }
  return undefined;
}

/**
 * The full matrix, environments in configuration order. A cell whose registry cannot be read is
 * `unknown`, with the error; the others are still filled in.
 */
export async function statusMatrix(registry: RegistryPort, config: Config): Promise<EnvironmentState[]> {
  const cells: Promise<EnvironmentState>[] = [];
  for (const env of config.environments.values()) {
    for (const app of config.applications.values()) {
      const repo = repositoryOf(env, app);
      cells.push(
        stateOf(registry, env, app, { newestInEntry: true }).catch((err: unknown) => {
          const e = toGantryError(err);
          return {
            environment: env.name,
            application: app.name,
            repository: `${repo.registry}/${repo.repository}`,
            state: 'unknown' as const,
            error: { code: e.code, message: e.message },
          };
        }),
      );
    }
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

/** Compares two environments application by application; throws when a registry cannot be read. */
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
        // Both absent is the same too: neither environment runs the application.
        same: l.digest === r.digest,
        left: l,
        right: r,
      };
    }),
  );
}

/** What a status matrix could not read: the first error of each environment, and one summary. */
export interface UnreadableEnvironments {
  /** The first error per environment whose registry could not be read, in matrix order. */
  readonly each: ReadonlyMap<string, { readonly code: string; readonly message: string }>;
  /** One error naming every such environment, with the first error's code. */
  readonly error: { readonly code: string; readonly message: string; readonly environments: string[] };
}

/** The cells of `cells` that are `unknown`, by environment; `undefined` when every cell was read. */
export function unreadableEnvironments(
  cells: readonly EnvironmentState[],
): UnreadableEnvironments | undefined {
  const each = new Map<string, { code: string; message: string }>();
  for (const c of cells)
    if (c.state === 'unknown' && c.error && !each.has(c.environment)) each.set(c.environment, c.error);
  const first = [...each.values()][0];
  if (!first) return undefined;
  const environments = [...each.keys()];
  return {
    each,
    error: {
      code: first.code,
      message: `cannot read ${environments.join(', ')}: ${first.message}`,
      environments,
    },
  };
}
