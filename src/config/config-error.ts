/**
 * Problems found after the configuration loaded (a key file that holds a public key, an unset
 * variable) still name the file, line, column and key: `gantry.yaml:12:5: attestation.key: …`.
 */
import { GantryError, isGantryError } from '../core/index.js';
import type { Config } from './config.js';
import { formatPath, formatProblem } from './problems.js';

/** A `CONFIG_INVALID` error about the value at `path` in `config`'s file. */
export function configError(
  config: Config,
  path: readonly (string | number)[],
  message: string,
  cause?: unknown,
): GantryError {
  const pos = config.source?.position(path) ?? { line: 0, column: 0 };
  const problem = { file: config.file, ...pos, path: formatPath(path), message };
  return new GantryError('CONFIG_INVALID', formatProblem(problem), {
    ...(cause !== undefined && { cause }),
    details: { file: config.file, ...(pos.line > 0 && { line: pos.line, column: pos.column }) },
  });
}

/**
 * Runs `fn`, which uses the value configured at `path` (e.g. loads the key file it names); an
 * error it throws about that value becomes a `CONFIG_INVALID` error at the key's position.
 */
export function atConfigKey<T>(config: Config, path: readonly (string | number)[], fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isGantryError(err, 'CONFIG_INVALID') || !isGantryError(err)) throw err;
    throw configError(config, path, err.message.split('\n')[0] ?? err.message, err);
  }
}
