/**
 * Lifecycle (`/lifecycle?kind=`): the gc and sync schedules of gantry.yaml with their next time and
 * last run, and the recent runs, newest first, filtered by kind. Admins start a run now (a dry run
 * unless they choose otherwise). The page reads again every few seconds while a run is queued or
 * running, and stops when it is left.
 */
import { useSignal } from '@preact/signals';
import { api, withQuery } from '../api';
import type { LifecycleJob, LifecycleKind, LifecycleRun, LifecycleSchedule } from '../api-types';
import { session } from '../auth';
import { Age, ErrorNote, useLoad } from '../components';
import {
  errorLine,
  RunNowDialog,
  RunStateBadge,
  totalsLine,
  UNDER_WAY,
  until,
  usePolling,
  UtcTime,
} from '../lifecycle-parts';
import { clock } from '../live';
import { navigate } from '../router';
import { ReviewSelect, ReviewTableWrap } from '../review-fields';

const KINDS: readonly { value: LifecycleKind; label: string }[] = [
  { value: 'gc', label: 'gc (retention)' },
  { value: 'sync', label: 'sync (mirrors)' },
];

/** `gc` or `sync` from the address, else every kind. */
function kindOf(value: string | null): LifecycleKind | undefined {
  return value === 'gc' || value === 'sync' ? value : undefined;
}

/** The run's page. */
export function runHref(id: string): string {
  return `/lifecycle/runs/${encodeURIComponent(id)}`;
}

export function LifecyclePage({ query }: { query: URLSearchParams }) {
  // gc and sync cover every application: the API refuses them to a token limited to teams.
  if ((session.value?.token.teams.length ?? 0) > 0)
    return (
      <section>
        <h1>Lifecycle</h1>
        <p class="error" role="alert">
          Gc and sync runs cover every application: a token limited to teams cannot read them.
        </p>
      </section>
    );
  return <Lifecycle query={query} />;
}

function Lifecycle({ query }: { query: URLSearchParams }) {
  const kind = kindOf(query.get('kind'));
  const admin = session.value?.may.admin === true;
  // Every job a run can be asked for; the scheduled ones are the schedules.
  const jobs = useLoad(() => api<{ jobs: LifecycleJob[] }>('GET', '/api/v1/lifecycle/jobs'), []);
  const runs = useLoad(
    () => api<{ runs: LifecycleRun[] }>('GET', withQuery('/api/v1/lifecycle/runs', { kind, limit: 50 })),
    [kind],
  );
  const starting = useSignal<{ kind: LifecycleKind; name: string } | undefined>(undefined);
  const started = useSignal<LifecycleRun | undefined>(undefined);
  const reload = async () => {
    await Promise.all([jobs.reload(), runs.reload()]);
  };
  const allJobs = jobs.data.value?.jobs ?? [];
  const allSchedules = allJobs.filter((j): j is LifecycleSchedule & LifecycleJob => j.schedule !== null);
  const shown = allSchedules.filter((s) => !kind || s.kind === kind);
  const list = runs.data.value?.runs ?? [];
  const underWay =
    list.some((r) => UNDER_WAY.includes(r.state)) ||
    allSchedules.some((s) => s.lastRun && UNDER_WAY.includes(s.lastRun.state)) ||
    // The run just started, until the list (when its filter lets it in) shows it.
    (started.value !== undefined &&
      (!kind || started.value.kind === kind) &&
      !list.some((r) => r.id === started.value?.id));
  usePolling(underWay, reload);
  const now = clock.value;

  // What an admin may start besides the schedules: gc of any environment that is not protected,
  // and every sync job, scheduled or not.
  const gcNames = allJobs.filter((j) => j.kind === 'gc' && !j.protected).map((j) => j.name);
  const syncNames = allJobs.filter((j) => j.kind === 'sync').map((j) => j.name);

  return (
    <section>
      <h1>Lifecycle</h1>
      <p class="muted">
        Garbage collection (gc: what an environment no longer needs, never what promotion or rollback relies
        on) and sync (mirrors such as golden base images) run by <code>gantry serve</code>. Times are UTC.
      </p>
      <div class="filters">
        <ReviewSelect
          id="lifecycle-kind"
          label="Kind"
          value={kind ?? ''}
          options={KINDS}
          empty="any"
          onChange={(v) => navigate(withQuery('/lifecycle', { kind: v }), true)}
        />
      </div>

      <h2 id="schedules-heading">Schedules</h2>
      <ErrorNote error={jobs.error.value} />
      {jobs.data.value && shown.length === 0 && (
        <p class="muted">
          No {kind ?? 'gc or sync'} schedule in gantry.yaml (<code>retention.schedule</code>,{' '}
          <code>sync.&lt;name&gt;.schedule</code>).
        </p>
      )}
      {shown.length > 0 && (
        <ReviewTableWrap label="Schedules">
          <table class="review-stack">
            <caption class="visually-hidden">Lifecycle schedules with their next and last run</caption>
            <thead>
              <tr>
                <th scope="col">Kind</th>
                <th scope="col">Name</th>
                <th scope="col">Schedule</th>
                <th scope="col">Next run</th>
                <th scope="col">Last run</th>
                {admin && (
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {shown.map((s) => (
                <tr key={`${s.kind}/${s.name}`}>
                  <td data-label="Kind">{s.kind}</td>
                  <td data-label="Name">{s.name}</td>
                  <td data-label="Schedule">
                    <code>{s.schedule}</code>
                  </td>
                  <td data-label="Next run">
                    {s.nextRunAt ? (
                      <span>
                        <UtcTime time={s.nextRunAt} />{' '}
                        <span class="muted">({until(Date.parse(s.nextRunAt) - now)})</span>
                      </span>
                    ) : (
                      <span class="muted">none</span>
                    )}
                  </td>
                  <td data-label="Last run">
                    {s.lastRun ? (
                      <span>
                        <a href={runHref(s.lastRun.id)}>
                          <RunStateBadge state={s.lastRun.state} />
                          <span class="visually-hidden"> run of {s.name}</span>
                        </a>{' '}
                        <Age time={s.lastRun.finishedAt ?? s.lastRun.createdAt} now={now} />
                        {s.lastRun.dryRun && <span class="muted"> (dry run)</span>}
                      </span>
                    ) : (
                      <span class="muted">never</span>
                    )}
                  </td>
                  {admin && (
                    <td data-label="Actions">
                      <button type="button" onClick={() => (starting.value = { kind: s.kind, name: s.name })}>
                        Run now…
                        <span class="visually-hidden">
                          {' '}
                          ({s.kind} of {s.name})
                        </span>
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </ReviewTableWrap>
      )}

      {admin && (
        <OtherJob
          gc={gcNames}
          sync={syncNames}
          kind={kind}
          onChoose={(k, name) => (starting.value = { kind: k, name })}
        />
      )}
      {started.value && (
        <p role="status">
          Started run <a href={runHref(started.value.id)}>{started.value.id}</a> ({started.value.kind} of{' '}
          {started.value.name}
          {started.value.dryRun ? ', dry run' : ''}): its state is below.
        </p>
      )}

      <h2 id="runs-heading">Recent runs</h2>
      <ErrorNote error={runs.error.value} />
      {runs.data.value && list.length === 0 && <p class="muted">No {kind ?? 'gc or sync'} run yet.</p>}
      {list.length > 0 && (
        <ReviewTableWrap label="Recent runs">
          <table class="review-stack">
            <caption class="visually-hidden">Gc and sync runs, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Kind</th>
                <th scope="col">Name</th>
                <th scope="col">Trigger</th>
                <th scope="col">Dry run</th>
                <th scope="col">State</th>
                <th scope="col">Started</th>
                <th scope="col">Finished</th>
                <th scope="col">Totals</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {list.map((r) => (
                <tr key={r.id}>
                  <td data-label="Run">
                    <a href={runHref(r.id)}>
                      <code>{r.id.slice(0, 12)}</code>
                      <span class="visually-hidden"> ({r.id})</span>
                    </a>
                  </td>
                  <td data-label="Kind">{r.kind}</td>
                  <td data-label="Name">{r.name}</td>
                  <td data-label="Trigger">
                    {r.trigger === 'schedule' ? 'schedule' : <span title={r.requestedBy}>api</span>}
                  </td>
                  <td data-label="Dry run">{r.dryRun ? 'yes' : 'no'}</td>
                  <td data-label="State">
                    <RunStateBadge state={r.state} />
                  </td>
                  <td data-label="Started">
                    <UtcTime time={r.startedAt} />
                  </td>
                  <td data-label="Finished">
                    <UtcTime time={r.finishedAt} />
                  </td>
                  <td data-label="Totals">{totalsLine(r.kind, r.totals)}</td>
                  <td data-label="Error" class="review-wrap">
                    {r.error ? <span class="lifecycle-error">{errorLine(r.error)}</span> : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </ReviewTableWrap>
      )}

      {starting.value && (
        <RunNowDialog
          kind={starting.value.kind}
          name={starting.value.name}
          onClose={() => (starting.value = undefined)}
          onStarted={(run) => {
            starting.value = undefined;
            started.value = run;
            void reload();
          }}
        />
      )}
    </section>
  );
}

/** An admin's choice of any gc or sync job to run now, scheduled or not. */
function OtherJob({
  gc,
  sync,
  kind,
  onChoose,
}: {
  gc: readonly string[];
  sync: readonly string[];
  kind: LifecycleKind | undefined;
  onChoose: (kind: LifecycleKind, name: string) => void;
}) {
  const chosenKind = useSignal<LifecycleKind>(kind ?? 'gc');
  const chosenName = useSignal('');
  const names = chosenKind.value === 'gc' ? gc : sync;
  const name = names.includes(chosenName.value) ? chosenName.value : (names[0] ?? '');
  return (
    <form
      class="filters"
      aria-labelledby="run-other-heading"
      onSubmit={(e) => {
        e.preventDefault();
        if (name) onChoose(chosenKind.value, name);
      }}
    >
      <h3 id="run-other-heading" class="lifecycle-other">
        Run any job now
      </h3>
      <ReviewSelect
        id="run-kind"
        label="Job kind"
        value={chosenKind.value}
        options={KINDS}
        onChange={(v) => (chosenKind.value = v === 'sync' ? 'sync' : 'gc')}
      />
      <ReviewSelect
        id="run-name"
        label={chosenKind.value === 'gc' ? 'Environment' : 'Sync job'}
        value={name}
        options={names}
        onChange={(v) => (chosenName.value = v)}
      />
      <div class="actions">
        <button type="submit" disabled={!name}>
          Run…
        </button>
      </div>
    </form>
  );
}
