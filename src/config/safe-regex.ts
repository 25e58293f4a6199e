/**
 * Patterns in gantry.yaml (tag policies, label and annotation gates) run against text that comes
 * from registries. JavaScript's backtracking engine takes exponential time on a repeated group
 * that can match the same text in more than one way, e.g. `^(a+)+$` or `^(a|a)*$`, so such
 * patterns are refused when the configuration loads (a star-height check in the manner of
 * substack's safe-regex), not discovered as a hang at promotion time.
 *
 * Refused:
 * - a repeated group (`*`, `+`, `{n,}`, `{n,m}` with m > n) containing another repetition;
 * - a repeated group containing an alternation (`(a|ab)+`);
 * - back-references (`\1`, `\k<name>`), which tag patterns never need.
 */

/** Longest pattern accepted: tags are at most 128 characters, so longer patterns are mistakes. */
export const MAX_PATTERN_LENGTH = 1024;

/**
 * Compiles a pattern from gantry.yaml, or says in one line why it cannot be used: too long, may
 * take exponential time, or invalid. V8 parses at `new RegExp` but compiles at the first match,
 * where "Regular expression too large" is thrown, so the pattern is run once here.
 */
export function compileSafeRegex(pattern: string): RegExp | { problem: string } {
  if (pattern.length > MAX_PATTERN_LENGTH)
    return {
      problem: `regex is ${pattern.length} characters long; at most ${MAX_PATTERN_LENGTH} are accepted`,
    };
  const unsafe = unsafeRegexReason(pattern);
  if (unsafe)
    return { problem: `regex may take exponential time (${unsafe}); write it without nested repetition` };
  try {
    const re = new RegExp(pattern);
    re.test('');
    return re;
  } catch (err) {
    return { problem: `invalid regex: ${(err as Error).message}` };
  }
}

/** Why `pattern` may take exponential time, or `undefined` when it is safe to run. */
export function unsafeRegexReason(pattern: string): string | undefined {
  interface Group {
    repeats: boolean;
    alternation: boolean;
  }
  const stack: Group[] = [{ repeats: false, alternation: false }];
  let i = 0;
  const top = (): Group => stack[stack.length - 1] as Group;
  while (i < pattern.length) {
    const c = pattern[i] as string;
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9]/.test(next) || (next === 'k' && pattern[i + 2] === '<')) return 'back-references';
      i = afterQuantifier(pattern, i + 2, top());
      continue;
    }
    if (c === '[') {
      i = endOfClass(pattern, i + 1);
      i = afterQuantifier(pattern, i, top());
      continue;
    }
    if (c === '(') {
      stack.push({ repeats: false, alternation: false });
      i += 1;
      if (pattern[i] === '?') {
        // (?:…), (?=…), (?!…), (?<=…), (?<!…), (?<name>…)
        if (pattern[i + 1] === '<' && pattern[i + 2] !== '=' && pattern[i + 2] !== '!') {
          const end = pattern.indexOf('>', i);
          i = end < 0 ? pattern.length : end + 1;
        } else i += pattern[i + 1] === '<' ? 3 : 2;
      }
      continue;
    }
    if (c === ')') {
      const inner = stack.length > 1 ? (stack.pop() as Group) : { repeats: false, alternation: false };
      const start = i + 1;
      const repeated = isRepeating(pattern, start);
      if (repeated && inner.repeats) return 'a repeated group contains another repetition';
      if (repeated && inner.alternation) return 'a repeated group contains an alternation';
      if (inner.repeats) top().repeats = true;
      i = afterQuantifier(pattern, start, top());
      continue;
    }
    if (c === '|') {
      top().alternation = true;
      i += 1;
      continue;
    }
    i = afterQuantifier(pattern, i + 1, top());
  }
  return undefined;
}

/** Skips a quantifier at `i` (if any), noting a repetition in `group`; returns the next index. */
function afterQuantifier(pattern: string, i: number, group: { repeats: boolean }): number {
  const q = quantifierAt(pattern, i);
  if (!q) return i;
  if (q.repeats) group.repeats = true;
  return pattern[q.end] === '?' ? q.end + 1 : q.end;
}

function isRepeating(pattern: string, i: number): boolean {
  return quantifierAt(pattern, i)?.repeats ?? false;
}

function quantifierAt(pattern: string, i: number): { end: number; repeats: boolean } | undefined {
  const c = pattern[i];
  if (c === '*' || c === '+') return { end: i + 1, repeats: true };
  if (c === '?') return { end: i + 1, repeats: false };
  if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
    if (!m) return undefined;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    return { end: i + m[0].length, repeats: max > Math.max(min, 1) };
  }
  return undefined;
}

function endOfClass(pattern: string, i: number): number {
  let j = i;
  if (pattern[j] === '^') j++;
  if (pattern[j] === ']') j++;
  while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
  return j + 1;
}
