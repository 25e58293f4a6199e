/**
 * Reading `gantry.yaml`: YAML with positions, schema validation, semantic checks. Every problem
 * names the file, line, column and key, with a suggestion when a key looks misspelt. Returns
 * `{config, problems}`; {@link loadConfigOrThrow} turns problems into one `CONFIG_INVALID` error.
 */
import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { GantryError, escapeControl } from '../core/index.js';
import {
  DUPLICATE_KEY_MESSAGE,
  documentToJs,
  firstDuplicateKey,
  readBoundedFile,
  sizeProblem,
  yamlErrorMessage,
} from './bounded-yaml.js';
import type { Config, ConfigSource } from './config.js';
import { normalizeConfig } from './normalize.js';
import { formatPath, formatProblem, suggest, type ConfigProblem } from './problems.js';
import { configSchema } from './schema.js';

/** Problems listed in an error's details (the message counts the rest): bounded output for hostile files. */
const MAX_PROBLEMS_IN_DETAILS = 50;

/** The outcome of reading a configuration. */
export interface LoadResult {
  readonly config?: Config;
  readonly problems: readonly ConfigProblem[];
}

/** Parses and validates configuration text. `file` is used in messages. */
export function parseConfig(file: string, text: string): LoadResult {
  const tooLarge = sizeProblem(text);
  if (tooLarge) return { problems: [{ file, line: 0, column: 0, path: '', message: tooLarge }] };
  const lines = new LineCounter();
  // Repeated keys are found by firstDuplicateKey (linear), not by the library (quadratic).
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false });
  const at = (offset: number | undefined): { line: number; column: number } => {
    const pos = offset === undefined ? undefined : lines.linePos(offset);
    return pos ? { line: pos.line, column: pos.col } : { line: 0, column: 0 };
  };
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => ({
        file,
        ...at(e.pos[0]),
        path: '',
        message: yamlErrorMessage(e),
      })),
    };
  }
  const duplicate = firstDuplicateKey(doc);
  if (duplicate !== undefined)
    return { problems: [{ file, ...at(duplicate), path: '', message: DUPLICATE_KEY_MESSAGE }] };
  const converted = documentToJs(doc, lines);
  if (!converted.ok) {
    const { line, column, message } = converted;
    return { problems: [{ file, line, column, path: '', message }] };
  }
  const data = converted.data;
  if (data === null || data === undefined) {
    return { problems: [{ file, line: 1, column: 1, path: '', message: 'the file is empty' }] };
  }
  const parsed = configSchema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    const problems: ConfigProblem[] = [];
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        const known = knownKeys(issue.path);
        const offsetOf = keyOffsets(doc, issue.path);
        for (const key of issue.keys) {
          const hint = suggest(key, known);
          problems.push({
            file,
            ...at(offsetOf(key)),
            path: formatPath([...issue.path, key]),
            message: `unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : known.length ? ` (expected one of: ${known.join(', ')})` : ''}`,
          });
        }
      } else {
        problems.push({
          file,
          ...at(valueOffset(doc, issue.path)),
          path: formatPath(issue.path),
          message: describe(issue),
        });
      }
    }
    return { problems: cleanProblems(problems) };
  }
  const { config, problems } = normalizeConfig(file, parsed.data);
  const source: ConfigSource = Object.freeze({
    position: (path: readonly (string | number)[]) => {
      const offset = valueOffset(doc, path);
      return offset === undefined ? undefined : at(offset);
    },
  });
  return {
    ...(config && { config: Object.freeze({ ...config, source }) }),
    problems: cleanProblems(
      problems.map((p) => ({
        file,
        ...at(valueOffset(doc, p.path)),
        path: formatPath(p.path),
        message: p.message,
      })),
    ),
  };
}

/** Reads and validates a configuration file. */
export async function loadConfig(file: string): Promise<LoadResult> {
  return parseConfig(file, await readBoundedFile(file, 'configuration file'));
}

/** Reads a configuration file, failing with `CONFIG_INVALID` (first problem in the message, all in details). */
export async function loadConfigOrThrow(file: string): Promise<Config> {
  const result = await loadConfig(file);
  if (result.config) return result.config;
  const [first, ...rest] = result.problems;
  throw new GantryError(
    'CONFIG_INVALID',
    `${first ? formatProblem(first) : `${file}: invalid`}${rest.length ? ` (and ${rest.length} more problem${rest.length > 1 ? 's' : ''})` : ''}`,
    { details: { file, problems: result.problems.slice(0, MAX_PROBLEMS_IN_DETAILS).map(formatProblem) } },
  );
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') {
    const got = (issue as { input?: unknown }).input;
    return got === undefined
      ? `required (${issue.expected})`
      : `expected ${issue.expected}, got ${typeName(got)}`;
  }
  if (issue.code === 'invalid_value')
    return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return issue.message;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/**
 * Problems sorted by position, with control characters escaped: keys and values come from the
 * file, and a key holding a newline must not make a one-line message two (or forge a log line).
 */
function cleanProblems(list: ConfigProblem[]): ConfigProblem[] {
  return sortProblems(list).map((p) => ({
    ...p,
    path: escapeControl(p.path),
    message: escapeControl(p.message),
  }));
}

/** By position; on one line a misspelt key comes first, since it usually causes the rest. */
function sortProblems(list: ConfigProblem[]): ConfigProblem[] {
  const rank = (p: ConfigProblem): number => (p.message.startsWith('unknown key') ? 0 : 1);
  return list.sort((a, b) => a.line - b.line || rank(a) - rank(b) || a.column - b.column);
}

function nodeAt(doc: Document, path: readonly PropertyKey[]): Node | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as (string | number)[], true) as Node | undefined;
    if (node && typeof node === 'object' && 'range' in node) return node;
  }
  return undefined;
}

function valueOffset(doc: Document, path: readonly PropertyKey[]): number | undefined {
  return nodeAt(doc, path)?.range?.[0];
}

/** Where each key of the mapping at `path` is (one pass: a file of 20,000 unknown keys stays linear). */
function keyOffsets(doc: Document, path: readonly PropertyKey[]): (key: string) => number | undefined {
  const parent = nodeAt(doc, path);
  const offsets = new Map<unknown, number | undefined>();
  if (parent && isMap(parent)) {
    for (const pair of parent.items) {
      if (isScalar(pair.key) && !offsets.has(pair.key.value))
        offsets.set(pair.key.value, pair.key.range?.[0]);
    }
  }
  return (key) => (offsets.has(key) ? offsets.get(key) : parent?.range?.[0]);
}

/** The keys the schema allows at `path`, for suggestions. */
function knownKeys(path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType | undefined = configSchema;
  for (const seg of path) {
    schema = schema && unwrap(schema);
    if (!schema) return [];
    if (schema instanceof z.ZodObject) schema = (schema.shape as Record<string, z.ZodType>)[String(seg)];
    else if (schema instanceof z.ZodRecord) schema = schema.valueType as z.ZodType;
    else if (schema instanceof z.ZodArray) schema = schema.element as z.ZodType;
    else return [];
  }
  const last = schema && unwrap(schema);
  if (last instanceof z.ZodObject) return Object.keys(last.shape);
  if (last instanceof z.ZodUnion) {
    return (last.options as z.ZodType[]).flatMap((o) =>
      unwrap(o) instanceof z.ZodObject ? Object.keys((unwrap(o) as z.ZodObject).shape) : [],
    );
  }
  return [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let i = 0; i < 10; i++) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodNullable)
      s = s.unwrap() as z.ZodType;
    else break;
  }
  return s;
}
