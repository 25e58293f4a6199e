/**
 * What kind of tag a name is, for a given environment: a version (matches the environment's
 * version patterns), a revision (looks like a git commit) or neither (a branch such as `main`,
 * a floating tag). Tags Gantry derives from a candidate's reference, labels or other tags are
 * created in a later environment only when they are of the kind they are used as. Also: the
 * check of a candidate reference given on the command line, and version ordering.
 */
import { GantryError, isValidTag } from '../core/index.js';
import type { EnvironmentConfig } from '../config/index.js';

/** A full sha256 digest (the only algorithm a candidate reference may use). */
export const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;
/** A git commit, abbreviated (7) or full (40 hex digits). */
export const REVISION_PATTERN = /^[0-9a-f]{7,40}$/;
/**
 * A version when the environment configures no version pattern of its own: digits first
 * (`1`, `1.4.2`, `v2.0.0-rc.1`, `2024.06.1`), never a branch name or a commit.
 */
export const DEFAULT_VERSION_PATTERN = /^v?\d+(?:\.\d+)*(?:[-.][0-9A-Za-z][0-9A-Za-z.-]*)?$/;

/** A sample commit: immutable patterns that accept it are revision patterns, not version patterns. */
const SAMPLE_REVISION = '0123456789abcdef0123456789abcdef01234567';

/**
 * Refuses a candidate reference that is neither a tag nor a full sha256 digest, before anything
 * is asked of a registry: `REFERENCE_INVALID` or `DIGEST_INVALID` (exit 2). A reference is put into
 * a request path, so `../x/manifests/1.0`, `1.0#x` or `1.0?x` must never reach one.
 */
export function assertCandidateReference(reference: string): void {
  if (/^sha(256|384|512):/.test(reference)) {
    if (!DIGEST_PATTERN.test(reference))
      throw new GantryError(
        'DIGEST_INVALID',
        `"${printable(reference)}" is not a digest: use sha256: followed by 64 lowercase hex digits`,
      );
    return;
  }
  if (!isValidTag(reference))
    throw new GantryError(
      'REFERENCE_INVALID',
      reference === ''
        ? 'the version is empty: give a tag such as 1.4.2, or a digest'
        : `"${printable(reference)}" is not a tag (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-') or a sha256 digest`,
    );
}

/** The environment's version patterns: its immutable patterns that are not revision patterns. */
function versionPatterns(env: EnvironmentConfig): readonly RegExp[] {
  const own = env.immutable.filter((re) => !re.test(SAMPLE_REVISION));
  return own.length > 0 ? own : [DEFAULT_VERSION_PATTERN];
}

/** True when `tag` is a version in `env` (never one of its floating tags or its environment tag). */
export function isVersionTag(env: EnvironmentConfig, tag: string): boolean {
  if (!isValidTag(tag) || env.floating.includes(tag) || tag === env.tag) return false;
  return versionPatterns(env).some((re) => re.test(tag));
}

/**
 * The environment's revision patterns: its immutable patterns that accept a git commit; when it
 * has none, {@link REVISION_PATTERN}.
 */
function revisionPatterns(env: EnvironmentConfig): readonly RegExp[] {
  const own = env.immutable.filter((re) => re.test(SAMPLE_REVISION));
  return own.length > 0 ? own : [REVISION_PATTERN];
}

/** True when `tag` is a revision (a git commit) in `env`. */
export function isRevisionTag(env: EnvironmentConfig, tag: string): boolean {
  if (!isValidTag(tag) || env.floating.includes(tag) || tag === env.tag) return false;
  return revisionPatterns(env).some((re) => re.test(tag));
}

/**
 * Orders two versions: negative when `a` is older. Numeric parts compare as numbers, a
 * pre-release (`1.0.0-rc.1`) is older than its release. `undefined` when either is not a
 * dotted number.
 */
export function compareVersions(a: string, b: string): number | undefined {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (!pa || !pb) return undefined;
  for (let i = 0; i < Math.max(pa.numbers.length, pb.numbers.length); i++) {
    const d = (pa.numbers[i] ?? 0) - (pb.numbers[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (pa.pre === pb.pre) return 0;
  if (pa.pre === undefined) return 1;
  if (pb.pre === undefined) return -1;
  return pa.pre < pb.pre ? -1 : 1;
}

function parseVersion(v: string): { numbers: number[]; pre?: string } | undefined {
  const m = /^v?(\d+(?:\.\d+)*)(?:-([0-9A-Za-z.-]+))?$/.exec(v);
  if (!m) return undefined;
  return {
    numbers: (m[1] as string).split('.').map(Number),
    ...(m[2] !== undefined && { pre: m[2] }),
  };
}

/** Control characters and overlong input never reach the terminal verbatim. */
function printable(s: string): string {
  const clean = JSON.stringify(s).slice(1, -1);
  return clean.length > 80 ? `${clean.slice(0, 77)}...` : clean;
}
