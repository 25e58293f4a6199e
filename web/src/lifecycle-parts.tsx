/**
 * Pieces of the lifecycle pages (gc and sync runs): a run's state badge, times in UTC with how
 * far away they are, a run's totals in one line, polling while a run is under way, and the
 * admin's "Run now" dialog (a dry run unless the admin chooses otherwise and, for gc, confirms
 * the deletions).
 */
import { useEffect, useRef } from 'preact/hooks';
import { useSignal } from '@preact/signals';
import { api } from './api';
import type { LifecycleKind, LifecycleRun, LifecycleState } from './api-types';
import { bytes, Dialog, ErrorNote, span } from './components';

const STATE_TONE: Record<LifecycleState, string> = {
  queued: 'wait',
  running: 'run',
  succeeded: 'ok',
  failed: 'bad',
};

/** States in which a run is not over yet (the pages poll while one is). */
export const UNDER_WAY: readonly LifecycleState[] = ['queued', 'running'];

/** How often the pages read again while a run is queued or running. */
export const POLL_MS = 2000;

/** A run's state as a badge (the text carries the meaning, not the colour alone). */
export function RunStateBadge({ state }: { state: LifecycleState }) {
  return <span class={`badge ${STATE_TONE[state]}`}>{state}</span>;
}

/** `in 42 s`, `in 5 min`, `in 3 h`, `in 12 d` (`now` for a time already come). */
export function until(ms: number): string {
  return Math.round(ms / 1000) <= 0 ? 'now' : `in ${span(ms)}`;
}

/** `2026-12-03 03:00 UTC` (to the minute; the exact ISO time in its title). */
export function UtcTime({ time, seconds = false }: { time: string | null | undefined; seconds?: boolean }) {
  if (!time) return <span class="muted">—</span>;
  const t = Date.parse(time);
  if (Number.isNaN(t)) return <span>{time}</span>;
  const iso = new Date(t).toISOString();
  return (
    <time dateTime={iso} title={iso}>
      {iso.slice(0, seconds ? 19 : 16).replace('T', ' ')} UTC
    </time>
  );
}

/** A run's totals in one line: `5 planned · 0 deleted · 12.3 kB` or `2 copied · 2 tagged · 0 skipped · 1.2 MB`. */
export function totalsLine(kind: LifecycleKind, totals: Record<string, number> | null | undefined): string {
  if (!totals) return '—';
  const order = kind === 'gc' ? ['planned', 'deleted'] : ['copied', 'tagged', 'skipped'];
  const parts = order.filter((k) => totals[k] !== undefined).map((k) => `${totals[k]} ${k}`);
  for (const [k, v] of Object.entries(totals))
    if (!order.includes(k) && k !== 'bytes') parts.push(`${v} ${k}`);
  if (totals.bytes !== undefined) parts.push(bytes(totals.bytes));
  return parts.join(' · ');
}

/** The first line of an error, as `CODE: message`. */
export function errorLine(error: { code: string; message: string } | null | undefined): string {
  if (!error) return '';
  return `${error.code}: ${error.message.split('\n')[0] ?? ''}`;
}

/** Calls `reload` every {@link POLL_MS} while `active`; stops when it is not, or the page is left. */
export function usePolling(active: boolean, reload: () => Promise<void>): void {
  const latest = useRef(reload);
  latest.current = reload;
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => void latest.current(), POLL_MS);
    return () => clearInterval(timer);
  }, [active]);
}

/** What gc or sync does, in words. */
function what(kind: LifecycleKind, name: string): string {
  return kind === 'gc' ? `gc of ${name}` : `sync job ${name}`;
}

/**
 * Starts a gc or sync run (`POST /api/v1/lifecycle/runs`, admin). A dry run is the default; a
 * real gc deletes, so it needs a confirmation ticked before its button works.
 */
export function RunNowDialog({
  kind,
  name,
  onClose,
  onStarted,
}: {
  kind: LifecycleKind;
  name: string;
  onClose: () => void;
  onStarted: (run: LifecycleRun) => void;
}) {
  const dryRun = useSignal(true);
  const confirmed = useSignal(false);
  const busy = useSignal(false);
  const error = useSignal<unknown>(undefined);
  const deletes = kind === 'gc' && !dryRun.value;
  const submit = async (e: Event) => {
    e.preventDefault();
    if (deletes && !confirmed.value) return;
    busy.value = true;
    error.value = undefined;
    try {
      onStarted(
        await api<LifecycleRun>('POST', '/api/v1/lifecycle/runs', { kind, name, dryRun: dryRun.value }),
      );
    } catch (err) {
      error.value = err;
    } finally {
      busy.value = false;
    }
  };
  const real =
    kind === 'gc'
      ? `Real run: delete the manifests gc selects from ${name}`
      : `Real run: copy and tag into the mirrors`;
  return (
    <Dialog open title={`Run ${what(kind, name)} now`} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <fieldset class="review-choices">
          <legend>How</legend>
          <label class="review-choice">
            <input
              type="radio"
              name="lifecycle-mode"
              value="dry"
              checked={dryRun.value}
              onChange={() => {
                dryRun.value = true;
                confirmed.value = false;
              }}
            />
            <span>Dry run: plan only, nothing is {kind === 'gc' ? 'deleted' : 'copied'}</span>
          </label>
          <label class="review-choice">
            <input
              type="radio"
              name="lifecycle-mode"
              value="real"
              checked={!dryRun.value}
              onChange={() => (dryRun.value = false)}
            />
            <span>{real}</span>
          </label>
        </fieldset>
        {deletes && (
          <>
            <p class="review-warning">
              <strong>This deletes images from {name}&apos;s registry.</strong> Deleted manifests cannot be
              brought back by Gantry; run a dry run first to see what would go.
            </p>
            <label class="review-choice">
              <input
                type="checkbox"
                name="confirm-delete"
                checked={confirmed.value}
                onChange={(ev) => (confirmed.value = ev.currentTarget.checked)}
              />
              <span>I understand that this deletes manifests from {name}</span>
            </label>
          </>
        )}
        <ErrorNote error={error.value} />
        <div class="actions">
          <button
            type="submit"
            class={deletes ? 'danger' : 'primary'}
            disabled={busy.value || (deletes && !confirmed.value)}
          >
            {busy.value ? 'Starting…' : dryRun.value ? 'Start dry run' : deletes ? 'Delete now' : 'Run now'}
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
