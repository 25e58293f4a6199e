/**
 * Release files: several applications promoted together (documented in docs/release-file.md).
 *
 *   name: 2026.11.1            # optional, recorded for people
 *   applications:
 *     web: 1.4.2               # a version tag…
 *     api: sha256:…            # …or a digest in the source environment
 *
 * Like gantry.yaml, a release file is at most 1 MiB and its aliases cannot expand without bound.
 */
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { GantryError } from '../core/index.js';
import {
  DUPLICATE_KEY_MESSAGE,
  documentToJs,
  firstDuplicateKey,
  readBoundedFile,
  yamlErrorMessage,
} from './bounded-yaml.js';
import { formatPath } from './problems.js';

const releaseSchema = z.strictObject({
  name: z.string().optional(),
  applications: z
    .record(z.string(), z.string().min(1))
    .refine((a) => Object.keys(a).length > 0, 'lists no applications'),
});

/** A parsed release file. */
export interface ReleaseFile {
  readonly file: string;
  readonly name?: string;
  readonly applications: readonly { readonly app: string; readonly reference: string }[];
}

/** Reads a release file; throws `CONFIG_INVALID` naming file, line and key, or `CONFIG_NOT_FOUND`. */
export async function loadReleaseFile(file: string): Promise<ReleaseFile> {
  const text = await readBoundedFile(file, 'release file');
  const lines = new LineCounter();
  // Repeated keys are found by firstDuplicateKey (linear), not by the library (quadratic).
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false });
  const first = doc.errors[0];
  if (first) {
    const pos = lines.linePos(first.pos[0]);
    throw new GantryError('CONFIG_INVALID', `${file}:${pos.line}:${pos.col}: ${yamlErrorMessage(first)}`);
  }
  const duplicate = firstDuplicateKey(doc);
  if (duplicate !== undefined) {
    const pos = lines.linePos(duplicate);
    throw new GantryError('CONFIG_INVALID', `${file}:${pos.line}:${pos.col}: ${DUPLICATE_KEY_MESSAGE}`);
  }
  const converted = documentToJs(doc, lines);
  if (!converted.ok) {
    const where = converted.line > 0 ? `:${converted.line}:${converted.column}` : '';
    throw new GantryError('CONFIG_INVALID', `${file}${where}: ${converted.message}`);
  }
  const parsed = releaseSchema.safeParse(converted.data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const node = issue
      ? (doc.getIn(issue.path as (string | number)[], true) as { range?: [number] } | undefined)
      : undefined;
    const pos = node?.range ? lines.linePos(node.range[0]) : undefined;
    throw new GantryError(
      'CONFIG_INVALID',
      // Keys come from the file; GantryError escapes their control characters (one line).
      `${file}${pos ? `:${pos.line}:${pos.col}` : ''}: ${issue ? `${formatPath(issue.path)}: ${issue.message}` : 'invalid release file'}`,
    );
  }
  return {
    file,
    ...(parsed.data.name !== undefined && { name: parsed.data.name }),
    applications: Object.entries(parsed.data.applications).map(([app, reference]) => ({ app, reference })),
  };
}
