/**
 * Edits as splices of the original text, so everything outside them (comments, indentation, key
 * order, quoting, line endings) stays byte for byte what it was.
 */

/** Replace `text.slice(start, end)` by `insert` (`start === end` inserts). */
export interface TextEdit {
  readonly start: number;
  readonly end: number;
  readonly insert: string;
}

/** Applies non-overlapping edits; throws on overlapping ones (a bug in the caller). */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  let out = '';
  let at = 0;
  for (const e of sorted) {
    if (e.start < at) throw new Error(`overlapping edits at offset ${e.start}`);
    out += text.slice(at, e.start) + e.insert;
    at = e.end;
  }
  return out + text.slice(at);
}

/** The line break the text uses (`\r\n` when its first line ends so). */
export function lineBreakOf(text: string): string {
  const nl = text.indexOf('\n');
  return nl > 0 && text[nl - 1] === '\r' ? '\r\n' : '\n';
}

/** The offset where the line holding `offset` starts. */
export function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** 1-based line and column of an offset. */
export function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return { line, column: offset - lineStart(text, offset) + 1 };
}
