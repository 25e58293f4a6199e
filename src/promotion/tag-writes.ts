/**
 * Writing a promotion's tags so that a failure can be undone (docs/promotion.md): first the moves
 * of tags that existed before (restorable: their previous digest is known), then new immutable
 * tags, then new floating tags. On a failure every tag written, and the one that failed, is
 * undone, newest first: a moved tag is put back, a new tag is deleted where the registry allows
 * it (OCI 1.1 tag deletion). A tag that cannot be undone is reported; its digest carries no
 * promotion record (attestations come only after every tag), so `ref` and `pin` refuse it, and
 * a re-run completes the promotion.
 */
import { GantryError, type Digest, type ErrorCode, type Manifest, type Repository } from '../core/index.js';
import type { RegistryPort } from './ports.js';
import { resolveIfPresent } from './resolve-if-present.js';

/** One tag to write, and what it pointed at before (absent: a new tag). */
export interface TagWrite {
  readonly repo: Repository;
  readonly tag: string;
  /** The candidate's manifest, which the tag will point at. */
  readonly manifest: Manifest;
  readonly immutable: boolean;
  readonly previous?: Digest;
}

/** What undoing the writes achieved. */
export interface Undone {
  restored: number;
  removed: number;
  readonly incomplete: string[];
}

/** Where a write goes in the undoable order: moves, then new immutable tags, then new floating tags. */
export const rank = (w: { readonly previous?: Digest; readonly immutable: boolean }): number =>
  w.previous !== undefined ? 0 : w.immutable ? 1 : 2;
const where = (w: TagWrite): string => `${w.repo.registry}/${w.repo.repository}:${w.tag}`;
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Writes `writes` in undoable order. On a failure, undoes them and throws the failure's code
 * with what was restored, removed, and left (`details.restored`, `removed`, `incomplete`).
 */
export async function writeTags(
  registry: RegistryPort,
  writes: readonly TagWrite[],
  what: string,
): Promise<void> {
  const ordered = [...writes].sort((a, b) => rank(a) - rank(b));
  const attempted: TagWrite[] = [];
  try {
    for (const w of ordered) {
      attempted.push(w);
      await registry.tag(w.repo, w.tag, w.manifest);
    }
  } catch (err) {
    throw tagWriteFailure(what, err, attempted, await undoWrites(registry, attempted));
  }
}

/**
 * The error of a failed tag write, after {@link undoWrites} undid `attempted` (the writes made
 * and the one that failed): the failure's code, with what was restored, removed, and left.
 * `stage` names what failed (default `writing tags`; `attaching records` once every tag was written).
 */
export function tagWriteFailure(
  what: string,
  err: unknown,
  attempted: readonly unknown[],
  undo: Undone,
  stage = 'writing tags',
): GantryError {
  const parts = [
    attempted.length === 1 && stage === 'writing tags' ? 'no tag had been written' : undefined,
    undo.restored > 0 ? `${plural(undo.restored, 'moved tag')} restored` : undefined,
    undo.removed > 0 ? `${plural(undo.removed, 'new tag')} removed` : undefined,
    undo.incomplete.length > 0
      ? `could not undo ${undo.incomplete.join(', ')}: the digest there has no promotion record, so ref and pin refuse it; re-run to complete the promotion`
      : undefined,
  ].filter((x): x is string => x !== undefined);
  return new GantryError(
    codeOf(err),
    `${what} failed while ${stage} (${err instanceof Error ? err.message : String(err)}); ${parts.join('; ')}`,
    { cause: err, details: { ...undo } },
  );
}

/**
 * Undoes tag writes, newest first: a tag that points at the candidate goes back where it was (a
 * moved tag) or is deleted (a new tag). A tag that does not point at the candidate was not
 * written (the write that failed) and is left alone.
 */
export async function undoWrites(registry: RegistryPort, writes: readonly TagWrite[]): Promise<Undone> {
  const out: Undone = { restored: 0, removed: 0, incomplete: [] };
  for (const w of [...writes].reverse()) {
    try {
      if ((await resolveIfPresent(registry, w.repo, w.tag)) !== w.manifest.digest) continue;
      if (w.previous !== undefined) {
        await registry.tag(w.repo, w.tag, await registry.manifest(w.repo, w.previous));
        out.restored++;
        continue;
      }
      await registry.deleteTag(w.repo, w.tag).catch(() => false);
      if ((await resolveIfPresent(registry, w.repo, w.tag)) === undefined) out.removed++;
      else out.incomplete.push(`${where(w)} (a new tag; the registry does not delete tags)`);
    } catch {
      out.incomplete.push(where(w));
    }
  }
  return out;
}

function codeOf(err: unknown): ErrorCode {
  return err instanceof GantryError ? err.code : 'INTERNAL';
}
