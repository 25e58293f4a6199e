/** Locating `gantry.yaml`: `--config`, then `$GANTRY_CONFIG`, then the working directory. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GantryError } from '../core/index.js';

/** Candidate names in the working directory, in order. */
export const CONFIG_NAMES: readonly string[] = Object.freeze(['gantry.yaml', 'gantry.yml']);

/** Resolves the configuration file to use; throws `CONFIG_NOT_FOUND` with where it looked. */
export function findConfigFile(flag: string | undefined, cwd: string = process.cwd()): string {
  if (flag) return resolve(cwd, flag);
  const env = process.env.GANTRY_CONFIG;
  if (env) return resolve(cwd, env);
  for (const name of CONFIG_NAMES) {
    const p = join(cwd, name);
    if (existsSync(p)) return p;
  }
  throw new GantryError(
    'CONFIG_NOT_FOUND',
    `no gantry.yaml in ${cwd}: pass --config FILE or set GANTRY_CONFIG`,
    { details: { cwd } },
  );
}
