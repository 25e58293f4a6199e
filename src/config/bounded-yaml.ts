/**
 * Reading YAML files with bounded work: the file's size is capped before it is parsed, and alias
 * expansion ("billion laughs") is stopped by the YAML library and reported at the alias that
 * caused it, as a configuration problem rather than an internal error.
 */
import { open } from 'node:fs/promises';
import { isAlias, isScalar, visit, type Document, type LineCounter } from 'yaml';
import { GantryError } from '../core/index.js';

/** Largest `gantry.yaml` or release file read: 1 MiB (a large pipeline's file is a few KiB). */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/** Alias expansions allowed while converting a document (the yaml library's own default). */
const MAX_ALIAS_COUNT = 100;

/** `n` bytes in a short human form (`1 MiB`). */
function formatBytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`;
}

/** Why `text` is too large to parse, or `undefined`. */
export function sizeProblem(text: string): string | undefined {
  const bytes = Buffer.byteLength(text, 'utf8');
  return bytes > MAX_CONFIG_FILE_BYTES
    ? `the file is larger than ${formatBytes(MAX_CONFIG_FILE_BYTES)} (${bytes} bytes); refusing to read it`
    : undefined;
}

/**
 * Reads a text file, at most {@link MAX_CONFIG_FILE_BYTES}. A missing or unreadable file is
 * `CONFIG_NOT_FOUND`; a larger one is `CONFIG_INVALID` (nothing beyond the cap is read).
 */
export async function readBoundedFile(file: string, what: string): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new GantryError(
      'CONFIG_NOT_FOUND',
      code === 'ENOENT' ? `${what} ${file} not found` : `cannot read ${what} ${file} (${code ?? 'error'})`,
      { details: { file } },
    );
  }
  try {
    const limit = MAX_CONFIG_FILE_BYTES + 1;
    const buffer = Buffer.alloc(limit);
    let length = 0;
    while (length < limit) {
      const { bytesRead } = await handle.read(buffer, length, limit - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_CONFIG_FILE_BYTES) {
      throw new GantryError(
        'CONFIG_INVALID',
        `${file}: the file is larger than ${formatBytes(MAX_CONFIG_FILE_BYTES)}; refusing to read it`,
        { details: { file } },
      );
    }
    return buffer.subarray(0, length).toString('utf8');
  } catch (err) {
    if (err instanceof GantryError) throw err;
    const code = (err as { code?: string }).code;
    throw new GantryError('CONFIG_NOT_FOUND', `cannot read ${what} ${file} (${code ?? 'error'})`, {
      details: { file },
    });
  } finally {
    await handle.close();
  }
}

/** The result of converting a document: its data, or a problem at a position. */
export type ToJsResult =
  | { readonly ok: true; readonly data: unknown }
  | { readonly ok: false; readonly line: number; readonly column: number; readonly message: string };

/** Converts a parsed document to plain data, stopping alias bombs with a positioned problem. */
export function documentToJs(doc: Document, lines: LineCounter): ToJsResult {
  try {
    return { ok: true, data: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown };
  } catch (err) {
    const aliases = err instanceof ReferenceError && /alias/i.test(err.message);
    if (!aliases) {
      const why = err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
      return { ok: false, line: 0, column: 0, message: `cannot read the document: ${why}` };
    }
    let offset: number | undefined;
    visit(doc, (_key, node) => {
      if (isAlias(node)) {
        offset = node.range?.[0];
        return visit.BREAK;
      }
      return undefined;
    });
    const pos = offset === undefined ? { line: 0, col: 0 } : lines.linePos(offset);
    return {
      ok: false,
      line: pos.line,
      column: pos.col,
      message: `aliases expand to more than ${MAX_ALIAS_COUNT} nodes (a "billion laughs" document); refusing to expand them`,
    };
  }
}

/**
 * The offset of the first key that repeats an earlier scalar key of its mapping, or `undefined`.
 * Linear: the yaml library's own `uniqueKeys` check compares every key with every other one, so
 * a 1 MiB file of 30,000 keys took half a minute to refuse. Parse with `uniqueKeys: false`, then
 * call this.
 */
export function firstDuplicateKey(doc: Document): number | undefined {
  let offset: number | undefined;
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        if (seen.has(pair.key.value)) {
          offset = pair.key.range?.[0] ?? 0;
          return visit.BREAK;
        }
        seen.add(pair.key.value);
      }
      return undefined;
    },
  });
  return offset;
}

/** The message of a repeated key (the yaml library's own wording). */
export const DUPLICATE_KEY_MESSAGE = 'Map keys must be unique';

/**
 * The one-line message of a YAML parse error. The library reports a document nested deeper than
 * the stack allows as `RESOURCE_EXHAUSTION` with the engine's own "Maximum call stack size
 * exceeded"; that is said plainly instead.
 */
export function yamlErrorMessage(error: { readonly code: string; readonly message: string }): string {
  if (error.code === 'RESOURCE_EXHAUSTION')
    return 'the document nests too deeply (or is too complex) to read; refusing it';
  return error.message.split('\n')[0] ?? 'invalid YAML';
}
