/**
 * Which application in which environment a pushed image belongs to: the registry host (compared
 * the way the registry layer normalises hosts: lowercase, Docker Hub aliases folded, default
 * ports dropped) and the repository path against every environment's repository for every
 * application. `mode: tag` environments share their source's repository and receive images only
 * by promotion, so a push never belongs to them.
 */
import { normalizeRegistryHost } from '../app.js';
import type { Config } from '../config/index.js';
import { repositoryOf } from '../config/index.js';

/** An application in an environment. */
export interface EventTarget {
  readonly environment: string;
  readonly app: string;
}

/** The applications and environments whose repository is `host`/`repository` (usually one, or none). */
export function targetsOf(config: Config, host: string, repository: string): EventTarget[] {
  const wanted = canonicalHost(host);
  const path = repository.replace(/^\/+|\/+$/g, '');
  const out: EventTarget[] = [];
  for (const env of config.environments.values()) {
    if (env.mode === 'tag') continue;
    if (canonicalHost(env.registry.host) !== wanted) continue;
    for (const app of config.applications.values()) {
      if (repositoryOf(env, app).repository === path) out.push({ environment: env.name, app: app.name });
    }
  }
  return out;
}

/** `host` as the registry layer spells it, without a default port (`:443`, `:80`). */
export function canonicalHost(host: string): string {
  return normalizeRegistryHost(host).replace(/:(?:443|80)$/, '');
}
