/**
 * `oci:PATH[:TAG]` references to an OCI image layout directory, as skopeo / containers-image write
 * them (https://github.com/containers/image/blob/main/docs/containers-transports.5.md): the text
 * after `oci:` is split at its FIRST `:`, so the path itself cannot contain one (Windows drive
 * letters are not supported). The optional part after it names an `index.json` entry through its
 * `org.opencontainers.image.ref.name` annotation; Gantry accepts a Docker tag there, nothing else.
 */
import { GantryError, escapeControl } from '../core/index.js';
import { isValidTag } from '../registry/index.js';

/** The transport prefix of layout references. */
export const OCI_LAYOUT_PREFIX = 'oci:';

/** A parsed `oci:PATH[:TAG]` reference. */
export interface OciLayoutReference {
  /** The layout directory, as given (relative paths are relative to the working directory). */
  readonly path: string;
  /** The `org.opencontainers.image.ref.name` to read or write; absent when none was given. */
  readonly tag?: string;
}

/** True when `text` uses the `oci:` transport (it may still be malformed: parse it to find out). */
export function isOciLayoutReference(text: string): boolean {
  return text.startsWith(OCI_LAYOUT_PREFIX);
}

/**
 * True when `tag` follows the Docker tag grammar (letters, digits, `_`, `.`, `-`; at most 128, not
 * starting with `.` or `-`): the same check as registry tags ({@link isValidTag}), so a layout's
 * `org.opencontainers.image.ref.name` such as `../../prod/web/manifests/latest` is never a tag.
 */
export function isOciLayoutTag(tag: string): boolean {
  return isValidTag(tag);
}

/**
 * Parses `oci:PATH` or `oci:PATH:TAG`. Throws `USAGE_INVALID` when the prefix is missing, the path
 * is empty, or the tag is empty or not a valid Docker tag.
 */
export function parseOciLayoutReference(text: string): OciLayoutReference {
  const fail = (why: string): never => {
    throw new GantryError('USAGE_INVALID', `invalid OCI layout reference "${shorten(text)}": ${why}`);
  };
  if (!isOciLayoutReference(text)) fail(`expected ${OCI_LAYOUT_PREFIX}PATH[:TAG]`);
  const rest = text.slice(OCI_LAYOUT_PREFIX.length);
  const colon = rest.indexOf(':');
  const path = colon === -1 ? rest : rest.slice(0, colon);
  if (path.length === 0) fail(`empty path (expected ${OCI_LAYOUT_PREFIX}PATH[:TAG])`);
  if (colon === -1) return Object.freeze({ path });
  const tag = rest.slice(colon + 1);
  if (tag.length === 0) fail('empty tag after ":"');
  if (!isOciLayoutTag(tag)) {
    fail(
      `invalid tag "${shorten(tag)}" (letters, digits, "_", "." and "-", at most 128; paths cannot contain ":")`,
    );
  }
  return Object.freeze({ path, tag });
}

/** Formats a layout reference back to `oci:PATH[:TAG]`. */
export function formatOciLayoutReference(ref: OciLayoutReference): string {
  return `${OCI_LAYOUT_PREFIX}${ref.path}${ref.tag !== undefined ? `:${ref.tag}` : ''}`;
}

function shorten(s: string): string {
  const e = escapeControl(s);
  return e.length > 100 ? `${e.slice(0, 97)}...` : e;
}
