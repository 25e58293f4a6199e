/**
 * The environments as the graph their `from:` lists form: one column per depth (an environment
 * with no source first, then what is promoted from it, …), an arrow between columns, and each
 * box saying where it is promoted from, so fan-in and fan-out read as text too.
 */
import type { PipelineEnvironment } from './api-types';

/** Depth of each environment: 0 without sources, else one past its deepest source. */
export function depths(envs: readonly PipelineEnvironment[]): Map<string, number> {
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
export function columns(envs: readonly PipelineEnvironment[]): PipelineEnvironment[][] {
  const d = depths(envs);
  const out: PipelineEnvironment[][] = [];
  for (const e of envs) {
    const i = d.get(e.name) ?? 0;
    while (out.length <= i) out.push([]);
    out[i]?.push(e);
  }
  return out.filter((c) => c.length > 0);
}

/** Environments promoted from `env`. */
export function nextOf(envs: readonly PipelineEnvironment[], env: string): string[] {
  return envs.filter((e) => e.from.includes(env)).map((e) => e.name);
}

/** The pipeline graph. */
export function PipelineGraph({ environments }: { environments: readonly PipelineEnvironment[] }) {
  const cols = columns(environments);
  return (
    <ol class="pipeline-graph" aria-label="Environments in promotion order">
      {cols.map((col, i) => (
        <li key={i} class="stage">
          {i > 0 && (
            <span class="arrow" aria-hidden="true">
              →
            </span>
          )}
          <ul class="stage-envs">
            {col.map((e) => (
              <li key={e.name} class="env-box" data-env={e.name}>
                <h3>{e.name}</h3>
                <dl class="facts">
                  <dt>Registry</dt>
                  <dd>
                    <code>{e.registry}</code>
                  </dd>
                  <dt>From</dt>
                  <dd>
                    {e.from.length > 0 ? e.from.join(', ') : <span class="muted">nowhere (builds)</span>}
                  </dd>
                  <dt>Gates</dt>
                  <dd>{e.gates.length > 0 ? e.gates.join(', ') : <span class="muted">none</span>}</dd>
                </dl>
                <p class="env-flags">
                  {e.mode === 'tag' && <span class="badge off">tag mode</span>}
                  {e.auto && <span class="badge run">auto</span>}
                  {e.protected && <span class="badge wait">protected</span>}
                  {e.allowOverride && <span class="badge off">overrides allowed</span>}
                </p>
              </li>
            ))}
          </ul>
        </li>
      ))}
    </ol>
  );
}
