/** File-system failures of an OCI image layout as `LOCAL_IO` errors naming the path. */
import { GantryError, isGantryError, writeFileAtomic as writeAtomic } from '../core/index.js';

/** The errno code of a file-system error (`ENOENT`, …); `undefined` for anything else. */
export function errno(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && !isGantryError(err) ? code : undefined;
}

/** A file system failure as a GantryError (`LOCAL_IO`, naming the path and errno). */
export function ioError(err: unknown, action: string, file: string): GantryError {
  if (isGantryError(err)) return err;
  const code = errno(err) ?? 'unknown';
  const why = err instanceof Error ? err.message : String(err);
  return new GantryError('LOCAL_IO', `cannot ${action} ${file}: ${why}`, {
    cause: err,
    details: { path: file, errno: code },
  });
}

/** Writes a file atomically, as a `LOCAL_IO` error when it cannot. */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  try {
    await writeAtomic(file, content);
  } catch (err) {
    throw ioError(err, 'write', file);
  }
}
