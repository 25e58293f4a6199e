/**
 * Replacing a secrets file atomically: readers see the old or the new content, never a torn
 * write, and the file is never readable by others, not even briefly.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, realpath, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Mode of a created config directory (owner only). */
export const CONFIG_DIR_MODE = 0o700;

/** Mode of a written config file (owner read / write). */
export const CONFIG_FILE_MODE = 0o600;

/**
 * Writes `content` to `path` through a temporary file in the same directory, flushed and then
 * renamed over the target. When `path` is a symbolic link its target is replaced, keeping the
 * link. Missing directories are created with {@link CONFIG_DIR_MODE}; the file always ends up with
 * {@link CONFIG_FILE_MODE}. Rejects with the file system error; the temporary file is removed.
 */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const target = await resolveTarget(path);
  const dir = dirname(target);
  await mkdir(dir, { recursive: true, mode: CONFIG_DIR_MODE });
  const temp = join(dir, `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', CONFIG_FILE_MODE);
  try {
    try {
      await handle.chmod(CONFIG_FILE_MODE);
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

async function resolveTarget(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return path;
    throw err;
  }
}
