/**
 * Making untrusted text safe to print. Registries, token servers and OCI layouts are not trusted
 * to send text a terminal should interpret: an error message or a tag name may carry escape
 * sequences (OSC 8 links, screen clears), a carriage return that overwrites the line with a fake
 * "Copied OK", or bidirectional overrides that reorder what is shown.
 */

/** C0 controls, DEL, C1 controls, and the Unicode bidirectional and line/paragraph separators. */
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = Object.freeze({
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\u001b': '\\e',
});

/**
 * Returns `text` with every control character replaced by a visible escape (`\n`, `\r`, `\t`,
 * `\e`, `\xHH` or `\uHHHH`), so that printing it can move no cursor, clear no screen, start no
 * hyperlink and reorder nothing. Printable text, including non-ASCII letters, is unchanged.
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL_RE, (c) => {
    const named = NAMED[c];
    if (named !== undefined) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** True when `text` holds a character {@link escapeControl} would replace. */
export function hasControl(text: string): boolean {
  CONTROL_RE.lastIndex = 0;
  const found = CONTROL_RE.test(text);
  CONTROL_RE.lastIndex = 0;
  return found;
}
