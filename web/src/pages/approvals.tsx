/**
 * The approvals queue (`/approvals`): every promotion awaiting approval, live, oldest request
 * first, with what it would move where, who asked, why it waits, and approve / reject. A caller
 * who may not decide sees the buttons disabled and why.
 */
import { Fragment } from 'preact';
import { ApprovalForm, actorName } from '../approval-form';
import { session } from '../auth';
import { Age, ShortDigest } from '../components';
import { summary } from '../in-flight';
import { clock, pendingApprovals } from '../live';

/** The approvals queue. */
export function ApprovalsPage() {
  const s = session.value;
  const queue = pendingApprovals.value;
  void clock.value; // re-render as time passes: the ages stay current
  return (
    <section>
      <h1>Approvals</h1>
      <p class="muted" aria-live="polite">
        {queue.length === 0
          ? 'Nothing awaits an approval.'
          : `${queue.length} promotion${queue.length === 1 ? '' : 's'} awaiting approval.`}
      </p>
      <ul class="approval-queue">
        {queue.map((p) => (
          <li key={p.id} class="card approval" data-id={p.id}>
            <h2>
              <a href={`/promotions/${encodeURIComponent(p.id)}`}>
                {summary(p)} → {p.environment}
              </a>
            </h2>
            <dl class="facts">
              <dt>From → to</dt>
              <dd>
                {p.from} → {p.environment}
              </dd>
              {p.applications.map((a) => (
                <Fragment key={a.application}>
                  <dt>{a.application}</dt>
                  <dd>
                    {a.version ?? 'no version'} <ShortDigest digest={a.digest} />{' '}
                    <a
                      href={`/apps/${encodeURIComponent(a.application)}/candidates/${encodeURIComponent(a.digest)}?env=${encodeURIComponent(p.environment)}`}
                    >
                      candidate
                      <span class="sr-only">
                        {' '}
                        ({a.application} {a.version ?? a.digest} for {p.environment})
                      </span>
                    </a>
                  </dd>
                </Fragment>
              ))}
              <dt>Requested by</dt>
              <dd>
                <span title={p.requestedBy}>{actorName(p.requestedBy)}</span>, <Age time={p.requestedAt} />
              </dd>
              {p.waiting && p.waiting.length > 0 && (
                <>
                  <dt>Waiting for</dt>
                  <dd>
                    <ul class="reasons">
                      {p.waiting.map((w, i) => (
                        <li key={i}>
                          {w.gate} ({w.application}): {w.reason}
                        </li>
                      ))}
                    </ul>
                  </dd>
                </>
              )}
            </dl>
            {s && <ApprovalForm promotion={p} session={s} />}
          </li>
        ))}
      </ul>
    </section>
  );
}
