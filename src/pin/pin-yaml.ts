/**
 * Pinning image references in YAML (and, through the same parser, JSON) by editing the text of
 * the values concerned and nothing else. The `yaml` package supplies the documents with the
 * source range of every node; comments, key order, quoting and blank lines stay as they were.
 *
 * Recognised shapes:
 * - `image:` strings of `containers`, `initContainers`, `ephemeralContainers` (Kubernetes: Pods,
 *   Deployments, CronJobs, … at any depth) and `containerDefinitions` (ECS task definitions);
 * - kustomization `images:` entries: `digest:` is set for entries whose `newName` (or `name`)
 *   is an application's repository, `newTag` is kept;
 * - Helm values maps with `repository` (after an optional `registry` prefix, as in Bitnami
 *   charts) and `tag` or `digest`: a sibling `digest:` is set, `tag` is kept.
 */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  parse,
  parseAllDocuments,
  type Document,
  type Pair,
  type Scalar,
  type YAMLMap,
} from 'yaml';
import { parseReference, parseRepository, type Repository } from '../registry/index.js';
import { composeReference, decide, type PinDecision } from './decide.js';
import { invalidFile } from './invalid-file.js';
import type { PinChange, PinLocation, PinResult, PinTargets, PinUnpinned } from './model.js';
import { applyEdits, lineBreakOf, lineStart, positionOf, type TextEdit } from './text-edits.js';

/** Lists whose items carry an `image:` reference. */
const CONTAINER_LISTS: ReadonlySet<string> = new Set([
  'containers',
  'initContainers',
  'ephemeralContainers',
  'containerDefinitions',
]);

/** What a node is, as far as pinning cares. */
type Role =
  'none' | 'container-list' | 'container' | 'kustomization' | 'kustomize-images' | 'kustomize-image';

type Segment = string | number;

interface Context {
  readonly text: string;
  readonly targets: PinTargets;
  /** JSON: only strings are replaced, no keys are added. */
  readonly json: boolean;
  readonly lineBreak: string;
  readonly edits: TextEdit[];
  readonly changes: PinChange[];
  readonly unpinned: PinUnpinned[];
  /** Offsets of scalars already handled (an anchored image used through aliases). */
  readonly done: Set<number>;
  /** Applications (or repositories) with a reference pinned to their digest after this run. */
  readonly pinned: Set<string>;
  references: number;
}

/** Options of {@link pinYaml}. */
export interface PinYamlOptions {
  /** The file name used in error messages. */
  readonly name: string;
  /** Targets with normalised keys. */
  readonly targets: PinTargets;
  /** The text is JSON (already validated): replace strings only. Default false. */
  readonly json?: boolean;
}

/**
 * Pins every recognised reference of a (multi-document) YAML text. Throws `PIN_FILE_INVALID`
 * naming `file:line:column` when the text is not YAML.
 */
export function pinYaml(text: string, options: PinYamlOptions): PinResult {
  const json = options.json ?? false;
  const docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: !json });
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) throw invalidFile(options.name, text, error.pos[0], error.message.split('\n')[0] ?? '');
  }
  const ctx: Context = {
    text,
    targets: options.targets,
    json,
    lineBreak: lineBreakOf(text),
    edits: [],
    changes: [],
    unpinned: [],
    done: new Set(),
    pinned: new Set(),
    references: 0,
  };
  for (const doc of docs)
    walk(ctx, doc, doc.contents, [], isKustomization(doc.contents) ? 'kustomization' : 'none');
  return {
    text: ctx.edits.length > 0 ? applyEdits(text, ctx.edits) : text,
    references: ctx.references,
    changes: ctx.changes,
    unpinned: ctx.unpinned,
    pinned: [...ctx.pinned],
  };
}

function walk(ctx: Context, doc: Document, node: unknown, path: readonly Segment[], role: Role): void {
  if (isMap(node)) {
    if (!ctx.json) pinImageMap(ctx, node, path, role);
    for (const pair of node.items) {
      const key = keyText(pair);
      if (key === undefined) continue;
      const at = [...path, key];
      if (role === 'container' && key === 'image') pinImageString(ctx, doc, pair.value, at);
      else if (role === 'kustomization' && key === 'images')
        walk(ctx, doc, pair.value, at, 'kustomize-images');
      else walk(ctx, doc, pair.value, at, CONTAINER_LISTS.has(key) ? 'container-list' : 'none');
    }
  } else if (isSeq(node)) {
    const itemRole: Role =
      role === 'container-list' ? 'container' : role === 'kustomize-images' ? 'kustomize-image' : 'none';
    node.items.forEach((item, i) => walk(ctx, doc, item, [...path, i], itemRole));
  }
}

/** A kustomization: a root `images:` list, and no `kind` or apiVersion saying otherwise. */
function isKustomization(root: unknown): boolean {
  if (!isMap(root) || !isSeq(pairOf(root, 'images')?.value)) return false;
  const kind = scalarText(pairOf(root, 'kind')?.value);
  const api = scalarText(pairOf(root, 'apiVersion')?.value);
  if (kind === undefined) return api === undefined || api.startsWith('kustomize.config.k8s.io/');
  return kind === 'Kustomization' || kind === 'Component';
}

/** An `image:` string: `host/prefix/app:1.4.2` → `host/prefix/app:1.4.2@sha256:…`. */
function pinImageString(ctx: Context, doc: Document, value: unknown, path: readonly Segment[]): void {
  const node = isAlias(value) ? value.resolve(doc) : value;
  if (!isScalar(node) || typeof node.value !== 'string' || !node.range) return;
  if (ctx.done.has(node.range[0])) return;
  const written = node.value;
  let ref;
  try {
    ref = parseReference(written, { defaultTag: null });
  } catch {
    return; // not an image reference (a template placeholder, say): not ours to judge
  }
  const d = decide(ctx.targets, ref, ref.tag, ref.digest);
  if (d.kind === 'other') return;
  ctx.done.add(node.range[0]);
  ctx.references++;
  const where = locate(ctx, node.range[0], path, d);
  if (d.kind === 'unpinned') ctx.unpinned.push({ ...where, reference: written });
  else ctx.pinned.add(d.target.application ?? d.key);
  if (d.kind !== 'repin') return;
  // Keep the name as written (host spelling, docker:// prefix); only tag and digest change.
  let name = written.includes('@') ? written.slice(0, written.indexOf('@')) : written;
  if (ref.tag !== undefined) name = name.slice(0, name.length - ref.tag.length - 1);
  const to = composeReference(name, d.tag, d.digest);
  replaceScalar(ctx, node, to);
  ctx.changes.push({ ...where, from: written, to });
}

/** The parts of an image written as a map (kustomize `images:` entry, Helm values `image:`). */
interface ImageMap {
  /** `registry/repository` or `newName`, as written. */
  readonly name: string;
  /** The pair whose key locates the image in reports. */
  readonly namePair: Pair;
  readonly tagPair: Pair | undefined;
  readonly digestPair: Pair | undefined;
}

function pinImageMap(ctx: Context, map: YAMLMap, path: readonly Segment[], role: Role): void {
  const image = role === 'kustomize-image' ? kustomizeImage(map) : undefined;
  const m = image ?? helmImage(map);
  if (!m) return;
  let repo: Repository;
  try {
    repo = parseRepository(m.name);
  } catch {
    return;
  }
  const tag = scalarText(m.tagPair?.value) || undefined;
  const digest = scalarText(m.digestPair?.value) || undefined;
  const d = decide(ctx.targets, repo, tag, digest);
  if (d.kind === 'other') return;
  ctx.references++;
  const key = m.namePair.key as Scalar;
  const where = locate(ctx, key.range?.[0] ?? 0, path, d);
  const from = composeReference(m.name, tag, digest);
  if (d.kind === 'unpinned' || (m.digestPair && !isScalar(m.digestPair.value))) {
    ctx.unpinned.push({ ...where, reference: from });
    return;
  }
  ctx.pinned.add(d.target.application ?? d.key);
  if (d.kind === 'pinned') return;
  if (m.digestPair && isScalar(m.digestPair.value)) replaceScalar(ctx, m.digestPair.value, d.digest);
  else insertPair(ctx, map, m.tagPair ?? m.namePair, 'digest', d.digest);
  if (d.tag !== tag && d.tag !== undefined && m.tagPair && isScalar(m.tagPair.value))
    replaceScalar(ctx, m.tagPair.value, d.tag);
  ctx.changes.push({ ...where, from, to: composeReference(m.name, d.tag, d.digest) });
}

/** kustomize: `{name, newName?, newTag?, digest?}`; the image is `newName`, else `name`. */
function kustomizeImage(map: YAMLMap): ImageMap | undefined {
  const namePair = pairOf(map, 'newName') ?? pairOf(map, 'name');
  const name = scalarText(namePair?.value);
  if (!namePair || !name || pairOf(map, 'repository')) return undefined;
  return { name, namePair, tagPair: pairOf(map, 'newTag'), digestPair: pairOf(map, 'digest') };
}

/** Helm values: `{registry?, repository, tag?, digest?}` with a tag or a digest key. */
function helmImage(map: YAMLMap): ImageMap | undefined {
  const namePair = pairOf(map, 'repository');
  const repository = scalarText(namePair?.value);
  const tagPair = pairOf(map, 'tag');
  const digestPair = pairOf(map, 'digest');
  if (!namePair || !repository || (!tagPair && !digestPair)) return undefined;
  const registry = scalarText(pairOf(map, 'registry')?.value);
  return { name: registry ? `${registry}/${repository}` : repository, namePair, tagPair, digestPair };
}

function locate(
  ctx: Context,
  offset: number,
  path: readonly Segment[],
  d: Exclude<PinDecision, { kind: 'other' }>,
): PinLocation {
  return {
    ...positionOf(ctx.text, offset),
    path: formatPath(path),
    repository: d.key,
    ...(d.target.application !== undefined && { application: d.target.application }),
  };
}

/** Replaces a scalar's text, keeping its quoting style. */
function replaceScalar(ctx: Context, node: Scalar, value: string): void {
  const [start, end] = node.range ?? [0, 0];
  const old = ctx.text.slice(start, end);
  let insert: string;
  if (node.type === 'QUOTE_SINGLE' && !ctx.json) insert = `'${value.replaceAll("'", "''")}'`;
  else if (node.type === 'PLAIN' && !ctx.json) insert = plainSafe(value) ? value : `'${value}'`;
  else insert = JSON.stringify(value);
  // `digest:` with nothing after the colon.
  if (start === end && !/\s/.test(ctx.text[start - 1] ?? ' ')) insert = ` ${insert}`;
  // A block scalar's range ends after its last line break.
  if ((node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') && old.endsWith('\n'))
    insert += ctx.lineBreak;
  ctx.edits.push({ start, end, insert });
}

/** Adds `key: value` after `anchor` in `map`, indented (or quoted) like the anchor. */
function insertPair(ctx: Context, map: YAMLMap, anchor: Pair, key: string, value: string): void {
  const { text } = ctx;
  const anchorKey = anchor.key as Scalar;
  const anchorValue = isScalar(anchor.value) ? anchor.value : undefined;
  const quote = (s: string, node: Scalar | undefined): string =>
    node?.type === 'QUOTE_DOUBLE'
      ? JSON.stringify(s)
      : node?.type === 'QUOTE_SINGLE' || !plainSafe(s)
        ? `'${s}'`
        : s;
  const pair = `${quote(key, anchorKey)}: ${quote(value, anchorValue)}`;
  const keyStart = anchorKey.range?.[0] ?? 0;
  const valueEnd =
    (anchor.value as { range?: readonly number[] } | null)?.range?.[1] ?? anchorKey.range?.[1] ?? keyStart;
  if (map.flow) {
    ctx.edits.push({ start: valueEnd, end: valueEnd, insert: `, ${pair}` });
    return;
  }
  const indent = ' '.repeat(keyStart - lineStart(text, keyStart));
  const next = text[valueEnd - 1] === '\n' ? valueEnd - 1 : text.indexOf('\n', valueEnd);
  if (next < 0)
    ctx.edits.push({ start: text.length, end: text.length, insert: `${ctx.lineBreak}${indent}${pair}` });
  else ctx.edits.push({ start: next + 1, end: next + 1, insert: `${indent}${pair}${ctx.lineBreak}` });
}

/** True when `value` reads back as the same string when written as a plain scalar. */
function plainSafe(value: string): boolean {
  if (value === '' || /[,[\]{}]/.test(value)) return false;
  try {
    return parse(value) === value;
  } catch {
    return false;
  }
}

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((p) => keyText(p) === key);
}

function keyText(pair: Pair): string | undefined {
  return isScalar(pair.key) && (typeof pair.key.value === 'string' || typeof pair.key.value === 'number')
    ? String(pair.key.value)
    : undefined;
}

/** A scalar's string; a plain number (`tag: 1.10`) as written, not as parsed. */
function scalarText(node: unknown): string | undefined {
  if (!isScalar(node) || node.value === null || node.value === undefined) return undefined;
  const value: unknown = node.value;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return node.source ?? String(value);
  return undefined;
}

function formatPath(path: readonly Segment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[\w-]+$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
