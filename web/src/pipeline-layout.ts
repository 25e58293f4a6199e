/**
 * How the environments' `from:` lists lay out as a graph: a column per depth (an environment
 * without sources first, then what is promoted from it, …). Pure; no imports, so the server-side
 * tests can check it too.
 */

/** An environment as far as the graph needs it. */
export interface GraphNode {
  readonly name: string;
  /** The environments it is promoted from. */
  readonly from: readonly string[];
}

/** Depth of each environment: 0 without sources, else one past its deepest source. */
export function depths(envs: readonly GraphNode[]): Map<string, number> {
  const byName = new Map(envs.map((e) => [e.name, e]));
  const depth = new Map<string, number>();
  const visit = (name: string, seen: Set<string>): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    const env = byName.get(name);
    // A cycle or an unknown source (the config forbids both) stops at depth 0.
    if (!env || seen.has(name)) return 0;
    seen.add(name);
    const d = env.from.length === 0 ? 0 : 1 + Math.max(...env.from.map((f) => visit(f, seen)));
    depth.set(name, d);
    return d;
  };
  for (const e of envs) visit(e.name, new Set());
  return depth;
}

/** The environments grouped into columns by depth, in file order within a column. */
export function columns<T extends GraphNode>(envs: readonly T[]): T[][] {
  const d = depths(envs);
  const out: T[][] = [];
  for (const e of envs) {
    const i = d.get(e.name) ?? 0;
    while (out.length <= i) out.push([]);
    out[i]?.push(e);
  }
  return out.filter((c) => c.length > 0);
}

/** Environments promoted from `env`. */
export function nextOf(envs: readonly GraphNode[], env: string): string[] {
  return envs.filter((e) => e.from.includes(env)).map((e) => e.name);
}
