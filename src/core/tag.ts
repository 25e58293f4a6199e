/**
 * The tag grammar of the distribution spec ("Pulling manifests"): `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
 * One definition for every boundary that takes a tag: registry tag lists, OCI layouts, the command
 * line, `gantry.yaml` and promotion references.
 */
const TAG_RE = /^[\w][\w.-]{0,127}$/;

/**
 * True when `tag` is a valid tag. Such a tag can never be a dot segment, hold a `/`, `%` or
 * control character, so it cannot change the structure of a request path.
 */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}
