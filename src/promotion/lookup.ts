/** Names in a promotion request resolved against the configuration (`PROMOTION_UNKNOWN` when absent). */
import { GantryError } from '../core/index.js';
import type { ApplicationConfig, Config, EnvironmentConfig } from '../config/index.js';

/** The application named `name`, or `PROMOTION_UNKNOWN`. */
export function applicationOf(config: Config, name: string): ApplicationConfig {
  const app = config.applications.get(name);
  if (!app) {
    throw new GantryError(
      'PROMOTION_UNKNOWN',
      `unknown application "${name}" (configured: ${[...config.applications.keys()].join(', ')})`,
    );
  }
  return app;
}

/** The environment named `name`, or `PROMOTION_UNKNOWN`. */
export function environmentOf(config: Config, name: string): EnvironmentConfig {
  const env = config.environments.get(name);
  if (!env) {
    throw new GantryError(
      'PROMOTION_UNKNOWN',
      `unknown environment "${name}" (configured: ${[...config.environments.keys()].join(', ')})`,
    );
  }
  return env;
}

/**
 * The source environment of a promotion into `to`: `from` when the pipeline allows it, else the
 * only one configured. With several and none named: `USAGE_INVALID` with `details.missing: 'from'`
 * (the CLI names its flag).
 */
export function sourceOf(config: Config, to: EnvironmentConfig, from?: string): EnvironmentConfig {
  if (to.from.length === 0) {
    throw new GantryError(
      'PROMOTION_NOT_ALLOWED',
      `${to.name} is an entry environment: images arrive there from CI, not by promotion`,
    );
  }
  if (from === undefined) {
    if (to.from.length > 1)
      throw new GantryError(
        'USAGE_INVALID',
        `${to.name} can be promoted from ${to.from.join(' or ')}: name the source environment`,
        { details: { missing: 'from', environment: to.name, choices: to.from } },
      );
    return environmentOf(config, to.from[0] as string);
  }
  const env = environmentOf(config, from);
  if (!to.from.includes(env.name)) {
    throw new GantryError(
      'PROMOTION_NOT_ALLOWED',
      `${to.name} may only be promoted from ${to.from.join(', ')}, not from ${env.name}`,
    );
  }
  return env;
}
