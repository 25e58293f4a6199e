/**
 * Team scoping: a token with `teams` sees only the applications `teams:` in gantry.yaml gives
 * those teams; a token without teams sees every application. A team the configuration does not
 * list owns nothing (fail closed, e.g. after a reload removed it).
 */
import type { Config } from '../config/index.js';
import { GantryError } from '../core/index.js';
import type { TokenInfo } from '../store/index.js';

/** The applications `token` may see, or `undefined` for all of them. */
export function visibleApplications(config: Config, token: TokenInfo): ReadonlySet<string> | undefined {
  if (token.teams.length === 0) return undefined;
  return new Set(token.teams.flatMap((t) => config.teams?.get(t) ?? []));
}

/** Throws `API_FORBIDDEN` unless `token` may see `app`. */
export function assertVisible(config: Config, token: TokenInfo, app: string): void {
  const visible = visibleApplications(config, token);
  if (visible && !visible.has(app))
    throw new GantryError('API_FORBIDDEN', `application "${app}" belongs to none of this token's teams`);
}
