/**
 * Where the store is, from `--data-dir`, `--database-url` and `GANTRY_DATABASE_URL`, for
 * `gantry serve` and `gantry ledger`: a flag wins over the variable, and both flags at once are a
 * usage error.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GantryError } from '../../core/index.js';
import type { StoreOptions } from '../../store/index.js';

/** The options every store-using command accepts. */
export interface StoreCommandOptions {
  readonly dataDir?: string;
  readonly databaseUrl?: string;
}

/** The default embedded data dir. */
export const DEFAULT_DATA_DIR = './gantry-data';

/**
 * The store to open. `template` is used by a first start on a new data dir; `mustExist` refuses a
 * data dir that holds no store (commands that only read must not create an empty one).
 */
export function storeOptions(
  options: StoreCommandOptions,
  extra: { template?: string; mustExist?: boolean } = {},
): StoreOptions {
  // Flags win over the environment: an explicit --data-dir ignores GANTRY_DATABASE_URL.
  const url =
    options.databaseUrl ?? (options.dataDir === undefined ? process.env.GANTRY_DATABASE_URL : undefined);
  if (options.databaseUrl !== undefined && options.dataDir !== undefined)
    throw new GantryError(
      'USAGE_INVALID',
      '--data-dir and --database-url exclude each other: choose one store',
    );
  if (url !== undefined && url !== '') {
    if (!/^postgres(?:ql)?:\/\//.test(url))
      throw new GantryError('USAGE_INVALID', 'the database URL must start with postgres:// or postgresql://');
    return { databaseUrl: url };
  }
  const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  if (extra.mustExist && !existsSync(join(dataDir, 'pgdata')))
    throw new GantryError('STORE_DATA_DIR', `no store in ${dataDir}: pass --data-dir or --database-url`, {
      details: { path: dataDir },
    });
  return { dataDir, ...(extra.template !== undefined && { template: extra.template }) };
}
