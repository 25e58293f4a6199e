/**
 * Replacing a file atomically: readers see the old or the new content, never a torn write. Used for
 * auth files, OCI layout indexes and pinned manifests.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Options for {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Mode of the written file. Default: the mode of the file replaced, else 0o666 less the umask. */
  readonly mode?: number;
  /** Create missing directories with this mode. Default: do not create directories. */
  readonly dirMode?: number;
}

/**
 * Writes `content` to `path` through a flushed temporary file in the same directory, renamed over
 * the target. A symbolic link is followed and kept (its target is replaced). The temporary file
 * never outlives a failure; the file system error is rethrown.
 */
export async function writeFileAtomic(
  path: string,
  content: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const target = await resolveTarget(path);
  const dir = dirname(target);
  if (options.dirMode !== undefined) await mkdir(dir, { recursive: true, mode: options.dirMode });
  const mode =
    options.mode ??
    (await stat(target).then(
      (s) => s.mode & 0o7777,
      () => undefined,
    ));
  const temp = join(dir, `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode ?? 0o666);
  try {
    try {
      if (mode !== undefined) await handle.chmod(mode);
      await handle.writeFile(content);
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
