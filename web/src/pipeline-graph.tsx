/**
 * The environments as the graph their `from:` lists form: one column per depth (an environment
 * with no source first, then what is promoted from it, …), an arrow between columns, and each
 * box saying where it is promoted from, so fan-in and fan-out read as text too.
 */
import type { PipelineEnvironment } from './api-types';
import { columns } from './pipeline-layout';

export { columns, depths, nextOf } from './pipeline-layout';

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
