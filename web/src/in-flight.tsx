/**
 * What is moving now, live from the event stream: promotions pending or copying (with a progress
 * bar), those waiting (with why), and those that failed in the last day. Each links to its page.
 */
import type { Promotion, PromotionState } from './api-types';
import { actorName } from './approval-form';
import { Age, StateBadge } from './components';
import { CopyProgress } from './copy-progress';
import { progress, promotions, RUNNING } from './live';

const PENDING: readonly PromotionState[] = ['requested', 'gated', 'approved', 'copying', 'verifying'];
const DAY = 86_400_000;

/** `web 1.1.0, api 1.0.0` (or the short digest where there is no version). */
export function summary(p: Promotion): string {
  if (p.applications.length === 0) return `promotion ${p.id}`;
  return p.applications
    .map((a) => `${a.application} ${a.version ?? a.digest.replace(/^(\w+:.{12}).*$/, '$1')}`)
    .join(', ');
}

function Item({ p }: { p: Promotion }) {
  const live = progress.value.get(p.id);
  return (
    <li class="flight" data-id={p.id} data-state={p.state}>
      <div class="flight-head">
        <a href={`/promotions/${encodeURIComponent(p.id)}`}>
          {summary(p)} → {p.environment}
        </a>{' '}
        <StateBadge state={p.state} />
      </div>
      <div class="muted">
        {p.from} → {p.environment} · by {actorName(p.requestedBy)} · <Age time={p.updatedAt} />
      </div>
      {p.waiting && p.waiting.length > 0 && (
        <ul class="reasons">
          {p.waiting.map((w, i) => (
            <li key={i}>
              Waiting for {w.gate} ({w.application}): {w.reason}
            </li>
          ))}
        </ul>
      )}
      {p.state === 'failed' && p.error && (
        <p class="cell-error">
          {p.error.code}: {p.error.message}
        </p>
      )}
      {RUNNING.includes(p.state) && <CopyProgress progress={live} label={`Copy progress of ${summary(p)}`} />}
    </li>
  );
}

function Group({ title, items, empty }: { title: string; items: Promotion[]; empty: string }) {
  return (
    <section class="flight-group" aria-label={title}>
      <h3>
        {title} <span class="muted">({items.length})</span>
      </h3>
      {items.length === 0 ? (
        <p class="muted">{empty}</p>
      ) : (
        <ul class="flights">
          {items.map((p) => (
            <Item key={p.id} p={p} />
          ))}
        </ul>
      )}
    </section>
  );
}

/** The in-flight section of the pipeline page. */
export function InFlight() {
  const all = [...promotions.value.values()].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  const now = Date.now();
  const pending = all.filter((p) => PENDING.includes(p.state));
  const waiting = all.filter((p) => p.state === 'awaiting-approval');
  const failed = all.filter((p) => p.state === 'failed' && now - Date.parse(p.updatedAt) < DAY).slice(0, 10);
  return (
    <div class="in-flight">
      <Group title="In flight" items={pending} empty="Nothing is being promoted." />
      <Group title="Waiting" items={waiting} empty="Nothing waits for an approval." />
      <Group title="Failed in the last day" items={failed} empty="No promotion failed." />
    </div>
  );
}
