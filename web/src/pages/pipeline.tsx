/**
 * The pipeline (`/`): the environments as a graph, the applications × environments matrix
 * (re-read whenever the server says the status changed), and what is in flight, live.
 */
import { api } from '../api';
import type { Pipeline, Status } from '../api-types';
import { Age, ErrorNote, useLoad } from '../components';
import { InFlight } from '../in-flight';
import { clock, statusVersion } from '../live';
import { StatusMatrix } from '../matrix';
import { columns, PipelineGraph } from '../pipeline-graph';

/** The pipeline page. */
export function PipelinePage() {
  const pipeline = useLoad(() => api<Pipeline>('GET', '/api/v1/pipeline'), []);
  const version = statusVersion.value;
  void clock.value; // re-render as time passes: the ages stay current
  const status = useLoad(() => api<Status>('GET', '/api/v1/status'), [version]);
  const p = pipeline.data.value;
  const s = status.data.value;
  const ordered = p ? columns(p.environments).flat() : [];
  const apps = p ? p.applications : [];
  return (
    <section>
      <h1>Pipeline</h1>
      <h2>Environments</h2>
      <ErrorNote error={pipeline.error.value} />
      {p ? <PipelineGraph environments={p.environments} /> : !pipeline.error.value && <p>Loading…</p>}
      <h2>Applications by environment</h2>
      <ErrorNote error={status.error.value} />
      {s?.error && (
        <p class="error" role="status">
          {s.error.code}: {s.error.message}
        </p>
      )}
      {p && s ? (
        <>
          <StatusMatrix environments={ordered} applications={apps} cells={s.cells} />
          <p class="muted">
            Registries read <Age time={s.asOf} />.
          </p>
        </>
      ) : (
        !status.error.value && <p>Loading…</p>
      )}
      <h2>Activity</h2>
      <InFlight />
    </section>
  );
}
