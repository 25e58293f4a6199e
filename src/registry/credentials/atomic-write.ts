/**
 * Replacing a secrets file atomically: readers see the old or the new content, never a torn
 * write, and the file is never readable by others, not even briefly.
 */
import { writeFileAtomic as writeAtomic } from '../../core/index.js';

/** Mode of a created config directory (owner only). */
export const CONFIG_DIR_MODE = 0o700;

/** Mode of a written config file (owner read / write). */
export const CONFIG_FILE_MODE = 0o600;

/**
 * Writes a config file atomically with {@link CONFIG_FILE_MODE}, creating missing directories with
 * {@link CONFIG_DIR_MODE}, so secrets are never readable by others, not even briefly.
 */
export function writeFileAtomic(path: string, content: string): Promise<void> {
  return writeAtomic(path, content, { mode: CONFIG_FILE_MODE, dirMode: CONFIG_DIR_MODE });
}
