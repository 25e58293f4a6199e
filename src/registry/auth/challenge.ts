/**
 * Parsing `WWW-Authenticate` challenges (RFC 9110 §11.6.1) as registries send them:
 * `Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull"`.
 * https://distribution.github.io/distribution/spec/auth/token/
 */

/** One authentication challenge. Parameter names are lowercased. */
export interface Challenge {
  /** Lowercased scheme: `bearer`, `basic`, … */
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Parses every challenge in one or more `WWW-Authenticate` header values. */
export function parseChallenges(values: readonly string[]): Challenge[] {
  const out: Challenge[] = [];
  for (const value of values) {
    let i = 0;
    let current: { scheme: string; params: Record<string, string> } | undefined;
    const s = value;
    while (i < s.length) {
      while (i < s.length && (s[i] === ' ' || s[i] === ',' || s[i] === '\t')) i++;
      const start = i;
      while (i < s.length && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(s[i] ?? '')) i++;
      const token = s.slice(start, i);
      if (!token) {
        i++;
        continue;
      }
      let j = i;
      while (j < s.length && s[j] === ' ') j++;
      if (s[j] === '=' && current) {
        // auth-param: name=value or name="quoted value"
        i = j + 1;
        while (i < s.length && s[i] === ' ') i++;
        let v = '';
        if (s[i] === '"') {
          i++;
          while (i < s.length && s[i] !== '"') {
            if (s[i] === '\\' && i + 1 < s.length) i++;
            v += s[i];
            i++;
          }
          i++;
        } else {
          const vs = i;
          while (i < s.length && s[i] !== ',') i++;
          v = s.slice(vs, i).trim();
        }
        current.params[token.toLowerCase()] = v;
      } else {
        current = { scheme: token.toLowerCase(), params: {} };
        out.push(current);
      }
    }
  }
  return out;
}

/** Merges scope strings (`repository:NAME:ACTIONS`), uniting the actions per resource. Sorted. */
export function mergeScopes(...lists: readonly (readonly string[])[]): string[] {
  const byResource = new Map<string, Set<string>>();
  for (const scope of lists.flat()) {
    for (const one of scope.split(' ')) {
      if (!one) continue;
      const idx = one.lastIndexOf(':');
      if (idx <= 0) continue;
      const resource = one.slice(0, idx);
      const actions = byResource.get(resource) ?? new Set<string>();
      for (const a of one.slice(idx + 1).split(',')) if (a) actions.add(a);
      byResource.set(resource, actions);
    }
  }
  return [...byResource.entries()]
    .map(([resource, actions]) => `${resource}:${[...actions].sort().join(',')}`)
    .sort();
}

/** The scope string for a repository and actions. */
export function repositoryScope(repository: string, ...actions: string[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}
