/**
 * One promotion (`/promotions/:id`), live: its state and copy progress, from → to, who asked,
 * each application with its gates, the decisions so far, why it waits or ended; approve or
 * reject it while it awaits approval, cancel it while it has not ended.
 */
import { useSignal } from '@preact/signals';
import { api } from '../api';
import { ENDED, type Promotion, type PromotionApplication, type RecordedGate } from '../api-types';
import { ApprovalForm, actorName } from '../approval-form';
import { session } from '../auth';
import { Age, Dialog, ErrorNote, ShortDigest, StateBadge, useLoad } from '../components';
import { CopyProgress } from '../copy-progress';
import { summary } from '../in-flight';
import { clock, progress, promotions, remember, RUNNING } from '../live';

const GATE_TONE: Record<RecordedGate['status'], string> = {
  pass: 'ok',
  fail: 'bad',
  pending: 'wait',
  overridden: 'off',
};

/** The newer of the view read and the live one (the live one on a tie: it came later). */
function newest(read: Promotion | undefined, live: Promotion | undefined): Promotion | undefined {
  if (!read) return live;
  if (!live) return read;
  return Date.parse(read.updatedAt) > Date.parse(live.updatedAt) ? read : live;
}

function Gates({ gates }: { gates: readonly RecordedGate[] }) {
  if (gates.length === 0) return <span class="muted">none</span>;
  return (
    <ul class="reasons">
      {gates.map((g) => (
        <li key={g.gate}>
          <span class={`badge ${GATE_TONE[g.status]}`}>
            {g.gate}: {g.status}
          </span>
          {g.reasons.length > 0 && <span class="muted"> {g.reasons.join('; ')}</span>}
        </li>
      ))}
    </ul>
  );
}

function Applications({ p }: { p: Promotion }) {
  if (p.applications.length === 0) return <p class="muted">Not planned yet.</p>;
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label="Applications of this promotion">
      <table>
        <thead>
          <tr>
            <th scope="col">Application</th>
            <th scope="col">Version</th>
            <th scope="col">Digest</th>
            <th scope="col">Status</th>
            <th scope="col">Gates</th>
          </tr>
        </thead>
        <tbody>
          {p.applications.map((a: PromotionApplication) => (
            <tr key={a.application}>
              <th scope="row">
                <a
                  href={`/apps/${encodeURIComponent(a.application)}/candidates/${encodeURIComponent(a.digest)}?env=${encodeURIComponent(p.environment)}`}
                >
                  {a.application}
                </a>
              </th>
              <td>{a.version ?? <span class="muted">—</span>}</td>
              <td>
                <ShortDigest digest={a.digest} />
              </td>
              <td>
                {a.status}
                {a.copy?.bytes !== undefined && (
                  <span class="muted"> ({a.copy.blobs ?? 0} blobs copied)</span>
                )}
              </td>
              <td>
                <Gates gates={a.gates} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Cancel({ p }: { p: Promotion }) {
  const open = useSignal(false);
  const error = useSignal<unknown>(undefined);
  const busy = useSignal(false);
  const reason = useSignal('');
  const cancel = async () => {
    busy.value = true;
    error.value = undefined;
    try {
      const text = reason.value.trim();
      remember(
        await api<Promotion>(
          'POST',
          `/api/v1/promotions/${encodeURIComponent(p.id)}/cancel`,
          text ? { reason: text } : {},
        ),
      );
      open.value = false;
    } catch (e) {
      error.value = e;
    } finally {
      busy.value = false;
    }
  };
  return (
    <>
      <button type="button" onClick={() => (open.value = true)}>
        Cancel promotion…
      </button>
      <Dialog open={open.value} title="Cancel this promotion?" onClose={() => (open.value = false)}>
        <p>
          It stops before its tags are written{RUNNING.includes(p.state) && ', at the next step of its copy'}.
        </p>
        <div class="field">
          <label for="cancel-reason">Reason (optional)</label>
          <input
            id="cancel-reason"
            value={reason.value}
            maxLength={2000}
            onInput={(e) => (reason.value = e.currentTarget.value)}
          />
        </div>
        <ErrorNote error={error.value} />
        <div class="actions">
          <button type="button" class="danger" disabled={busy.value} onClick={() => void cancel()}>
            Cancel promotion
          </button>
          <button type="button" onClick={() => (open.value = false)}>
            Keep it
          </button>
        </div>
      </Dialog>
    </>
  );
}

/** The page of promotion `id`. */
export function PromotionPage({ id }: { id: string }) {
  const read = useLoad(() => api<Promotion>('GET', `/api/v1/promotions/${encodeURIComponent(id)}`), [id]);
  const s = session.value;
  void clock.value; // re-render as time passes: the ages stay current
  const p = newest(read.data.value, promotions.value.get(id));
  if (!p)
    return (
      <section>
        <h1>Promotion {id}</h1>
        {read.error.value ? <ErrorNote error={read.error.value} /> : <p>Loading…</p>}
      </section>
    );
  const ended = ENDED.includes(p.state);
  return (
    <section>
      <h1>
        {summary(p)} → {p.environment}
      </h1>
      <p class="state-line" aria-live="polite">
        State: <StateBadge state={p.state} />
        {p.cancelRequested && !ended && <span class="badge off">cancel requested</span>}
      </p>
      {RUNNING.includes(p.state) && (
        <CopyProgress progress={progress.value.get(p.id)} label={`Copy progress of ${summary(p)}`} />
      )}
      {p.error && (
        <p class="error" role="alert">
          {p.error.code}: {p.error.message}
        </p>
      )}
      {p.reason && (
        <p class="reason">
          {p.state === 'rejected' ? 'Rejected' : p.state === 'cancelled' ? 'Cancelled' : 'Reason'}: {p.reason}
        </p>
      )}
      <dl class="facts">
        <dt>Promotion</dt>
        <dd>
          <code>{p.id}</code> ({p.kind})
        </dd>
        <dt>From → to</dt>
        <dd>
          {p.from} → {p.environment}
        </dd>
        <dt>Requested by</dt>
        <dd>
          <span title={p.requestedBy}>{actorName(p.requestedBy)}</span>, <Age time={p.requestedAt} />
        </dd>
        <dt>Last change</dt>
        <dd>
          <Age time={p.updatedAt} />
        </dd>
      </dl>
      {p.waiting && p.waiting.length > 0 && (
        <>
          <h2>Waiting for</h2>
          <ul class="reasons">
            {p.waiting.map((w, i) => (
              <li key={i}>
                {w.gate} ({w.application}): {w.reason}
              </li>
            ))}
          </ul>
        </>
      )}
      {p.state === 'awaiting-approval' && s && (
        <>
          <h2>Decide</h2>
          <ApprovalForm promotion={p} session={s} />
        </>
      )}
      <h2>Applications</h2>
      <Applications p={p} />
      <h2>Decisions</h2>
      {p.decisions.length === 0 ? (
        <p class="muted">No approval or rejection yet.</p>
      ) : (
        <ul class="decisions">
          {p.decisions.map((d, i) => (
            <li key={i}>
              <span class={`badge ${d.decision === 'approved' ? 'ok' : 'bad'}`}>{d.decision}</span> by{' '}
              {d.approver}, <Age time={d.time} />
              {d.comment && <q class="comment">{d.comment}</q>}
            </li>
          ))}
        </ul>
      )}
      {s?.may.promote && !ended && !p.cancelRequested && (
        <div class="actions cancel">
          <Cancel p={p} />
        </div>
      )}
    </section>
  );
}
