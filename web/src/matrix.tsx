/**
 * The applications × environments matrix of `GET /api/v1/status`: per cell the version, digest,
 * when and by whom it was promoted, the deployed targets with their drift, and a link to the
 * candidate page for promoting it into each next environment. On a phone each application's
 * row stacks into one line per environment.
 */
import type { DeployedTarget, PipelineEnvironment, StatusCell } from './api-types';
import { actorName } from './approval-form';
import { Age, ShortDigest } from './components';
import { nextOf } from './pipeline-graph';

const DRIFT_TEXT: Record<NonNullable<DeployedTarget['drift']>, string> = {
  unpromoted: 'unpromoted',
  behind: 'behind',
};

function Targets({ targets }: { targets: readonly DeployedTarget[] | undefined }) {
  if (!targets || targets.length === 0) return null;
  return (
    <ul class="targets" aria-label="Deployed targets">
      {targets.map((t) => (
        <li key={t.target}>
          <span>{t.target}</span> <ShortDigest digest={t.digest} />{' '}
          {t.drift ? (
            <span
              class={`badge ${t.drift === 'unpromoted' ? 'bad' : 'wait'}`}
              title={
                t.drift === 'unpromoted'
                  ? 'runs a digest never promoted to this environment'
                  : 'runs an older digest than the environment holds'
              }
            >
              drift: {DRIFT_TEXT[t.drift]}
            </span>
          ) : (
            <span class="badge ok">in sync</span>
          )}
        </li>
      ))}
    </ul>
  );
}

function Cell({ cell, app, next }: { cell: StatusCell | undefined; app: string; next: readonly string[] }) {
  if (!cell) return <span class="muted">—</span>;
  if (cell.state === 'unknown')
    return (
      <div class="cell">
        <span class="badge bad">unknown</span>
        <p class="cell-error">
          {cell.error ? `${cell.error.code}: ${cell.error.message}` : 'cannot be read'}
        </p>
      </div>
    );
  if (cell.state === 'absent' || !cell.digest)
    return (
      <div class="cell">
        <span class="muted">not promoted</span>
      </div>
    );
  const digest = cell.digest;
  return (
    <div class="cell">
      <strong class="version">{cell.version ?? cell.tag ?? 'no version'}</strong>{' '}
      <ShortDigest digest={digest} />
      {cell.promotedAt && (
        <div class="muted">
          <Age time={cell.promotedAt} />
          {cell.promotedBy && <> by {actorName(cell.promotedBy)}</>}
        </div>
      )}
      <Targets targets={cell.targets} />
      {next.map((n) => (
        <a
          key={n}
          class="promote-link"
          href={`/apps/${encodeURIComponent(app)}/candidates/${encodeURIComponent(digest)}?env=${encodeURIComponent(n)}`}
        >
          Promote to {n}
          <span class="sr-only">
            {' '}
            ({app} {cell.version ?? digest.slice(0, 19)} from {cell.environment})
          </span>
          <span aria-hidden="true"> →</span>
        </a>
      ))}
    </div>
  );
}

/** The matrix: a row per application, a column per environment (in pipeline order). */
export function StatusMatrix({
  environments,
  applications,
  cells,
}: {
  environments: readonly PipelineEnvironment[];
  applications: readonly string[];
  cells: readonly StatusCell[];
}) {
  const byKey = new Map(cells.map((c) => [`${c.application}\u0000${c.environment}`, c]));
  return (
    <div class="table-wrap matrix" tabIndex={0} role="region" aria-label="Applications by environment">
      {/* On a phone each application's row stacks into labelled lines (review-stack). */}
      <table class="review-stack">
        <thead>
          <tr>
            <th scope="col">Application</th>
            {environments.map((e) => (
              <th key={e.name} scope="col">
                {e.name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {applications.map((app) => (
            <tr key={app} data-app={app}>
              <th scope="row">{app}</th>
              {environments.map((e) => (
                <td key={e.name} data-env={e.name} data-label={e.name}>
                  <Cell
                    cell={byKey.get(`${app}\u0000${e.name}`)}
                    app={app}
                    next={nextOf(environments, e.name)}
                  />
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
