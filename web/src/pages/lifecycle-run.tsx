/**
 * One gc or sync run (`/lifecycle/runs/:id`): its state, who or what started it, its totals, what
 * it kept and why, its error, and its items (the first {@link ITEM_CAP} shown, the rest on
 * request: a report can hold thousands). Read again every few seconds while it is under way.
 */
import { Fragment } from 'preact';
import { useSignal } from '@preact/signals';
import { api } from '../api';
import type { LifecycleItem, LifecycleRun } from '../api-types';
import { actorName } from '../approval-form';
import { bytes, ErrorNote, useLoad } from '../components';
import { errorLine, RunStateBadge, UNDER_WAY, usePolling, UtcTime } from '../lifecycle-parts';
import { ReviewTableWrap } from '../review-fields';

/** Items rendered before "Show all". */
export const ITEM_CAP = 500;

/** What each reason to keep means (docs/lifecycle.md). */
const KEPT_BECAUSE: Record<string, string> = {
  promoted: "another environment holds the digest, or another environment's tag points at it",
  'rollback-window': 'it carries a promotion or rollback record, or a floating tag of this environment',
  'immutable-tag': "one of its tags matches the environment's immutable tags",
  deployed: 'a deployment report says it runs somewhere',
  newest: 'among the newest of its application (retention.keep)',
  'too-young': 'younger than retention.olderThan, or of unknown age',
  'index-child': 'a kept index references it',
  referrer: 'a referrer of something kept (signature, SBOM, attestation, record), or the subject of one',
  unchanged: 'the mirror already holds it',
};

/** Totals in reading order: the counts of the kind first, bytes last. */
function ordered(kind: LifecycleRun['kind'], totals: Record<string, number>): [string, number][] {
  const first = kind === 'gc' ? ['planned', 'deleted'] : ['copied', 'tagged', 'skipped'];
  const rank = (k: string) => (k === 'bytes' ? 99 : first.includes(k) ? first.indexOf(k) : 50);
  return Object.entries(totals).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

export function LifecycleRunPage({ id }: { id: string }) {
  const run = useLoad(
    () => api<LifecycleRun>('GET', `/api/v1/lifecycle/runs/${encodeURIComponent(id)}`),
    [id],
  );
  const r = run.data.value;
  usePolling(r !== undefined && UNDER_WAY.includes(r.state), () => run.reload());
  const all = useSignal(false);
  if (!r)
    return (
      <section>
        <h1>Lifecycle run {id}</h1>
        {run.error.value ? (
          <ErrorNote error={run.error.value} />
        ) : (
          <p class="muted" role="status">
            Loading the run…
          </p>
        )}
        <p>
          <a href="/lifecycle">All lifecycle runs</a>
        </p>
      </section>
    );
  const report = r.report ?? undefined;
  const totals = ordered(r.kind, report?.totals ?? r.totals ?? {});
  const kept = Object.entries(report?.kept ?? {}).filter(([, n]) => n > 0);
  const items = report?.items ?? [];
  const shown = all.value ? items : items.slice(0, ITEM_CAP);
  const error = r.error ?? report?.error;
  return (
    <section>
      <h1>
        {r.kind === 'gc' ? `gc of ${r.name}` : `sync job ${r.name}`}
        {r.dryRun && ' (dry run)'}
      </h1>
      <p class="state-line" aria-live="polite">
        State: <RunStateBadge state={r.state} />
        {r.dryRun && <span class="badge off">dry run: nothing {r.kind === 'gc' ? 'deleted' : 'copied'}</span>}
      </p>
      {error && (
        <p class="error" role="alert">
          {errorLine(error)}
        </p>
      )}
      <dl class="facts">
        <dt>Run</dt>
        <dd>
          <code>{r.id}</code>
        </dd>
        <dt>Trigger</dt>
        <dd>
          {r.trigger === 'schedule' ? (
            <>
              schedule, slot <UtcTime time={r.scheduledFor} />
            </>
          ) : (
            <>
              API, by <span title={r.requestedBy}>{actorName(r.requestedBy)}</span>
            </>
          )}
        </dd>
        <dt>Queued</dt>
        <dd>
          <UtcTime time={r.createdAt} seconds />
        </dd>
        <dt>Started</dt>
        <dd>
          <UtcTime time={r.startedAt} seconds />
        </dd>
        <dt>Finished</dt>
        <dd>
          <UtcTime time={r.finishedAt} seconds />
        </dd>
      </dl>

      <h2>Totals</h2>
      {totals.length === 0 ? (
        <p class="muted">{UNDER_WAY.includes(r.state) ? 'Not finished yet.' : 'No totals.'}</p>
      ) : (
        <dl class="facts lifecycle-totals">
          {totals.map(([k, v]) => (
            <Fragment key={k}>
              <dt>{k}</dt>
              <dd>{k === 'bytes' ? bytes(v) : v}</dd>
            </Fragment>
          ))}
        </dl>
      )}

      <h2>{r.kind === 'gc' ? 'Kept, and why' : 'Skipped, and why'}</h2>
      {kept.length === 0 ? (
        <p class="muted">{report ? 'Nothing was left alone.' : 'No report yet.'}</p>
      ) : (
        <ReviewTableWrap label="Kept by reason">
          <table>
            <thead>
              <tr>
                <th scope="col">Reason</th>
                <th scope="col">Count</th>
                <th scope="col">Meaning</th>
              </tr>
            </thead>
            <tbody>
              {kept.map(([reason, n]) => (
                <tr key={reason}>
                  <th scope="row">
                    <code>{reason}</code>
                  </th>
                  <td>{n}</td>
                  <td class="muted">{KEPT_BECAUSE[reason] ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ReviewTableWrap>
      )}

      <h2>Items ({items.length})</h2>
      {items.length === 0 ? (
        <p class="muted">
          {report
            ? `Nothing to ${r.kind === 'gc' ? 'delete' : 'copy or tag'}.`
            : UNDER_WAY.includes(r.state)
              ? 'Not finished yet.'
              : 'No report.'}
        </p>
      ) : (
        <Items items={shown} dryRun={r.dryRun} />
      )}
      {items.length > shown.length && (
        <p class="muted">
          Showing the first {shown.length} of {items.length} items.{' '}
          <button type="button" class="link" onClick={() => (all.value = true)}>
            Show all {items.length}
          </button>
        </p>
      )}
      <p>
        <a href="/lifecycle">All lifecycle runs</a>
      </p>
    </section>
  );
}

function Items({ items, dryRun }: { items: readonly LifecycleItem[]; dryRun: boolean }) {
  return (
    <ReviewTableWrap label="Items of this run">
      <table class="review-stack">
        <caption class="visually-hidden">What the run did{dryRun ? ' (would do)' : ''}, in order</caption>
        <thead>
          <tr>
            <th scope="col">Action</th>
            <th scope="col">Repository@digest</th>
            <th scope="col">Tags</th>
            <th scope="col">Size</th>
            <th scope="col">Reason</th>
          </tr>
        </thead>
        <tbody>
          {items.map((item, i) => (
            <tr key={i}>
              <td data-label="Action">
                {item.action}
                {!item.done && <span class="muted"> ({dryRun ? 'planned' : 'not done'})</span>}
              </td>
              <td data-label="Image" class="review-wrap">
                <code>
                  {item.repository}@{item.digest}
                </code>
              </td>
              <td data-label="Tags">
                {item.tags && item.tags.length > 0 ? (
                  item.tags.map((t, n) => (
                    <Fragment key={t}>
                      {n > 0 && ', '}
                      <span class="lifecycle-nowrap">{t}</span>
                    </Fragment>
                  ))
                ) : (
                  <span class="muted">—</span>
                )}
              </td>
              <td data-label="Size" class="lifecycle-nowrap">
                {bytes(item.bytes)}
              </td>
              <td data-label="Reason" class="review-wrap">
                {item.reason ?? <span class="muted">—</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </ReviewTableWrap>
  );
}
