/**
 * What changes while the dashboard is open, from ONE subscription to `GET /api/v1/events` held
 * while someone is signed in: the latest view of every promotion seen (seeded from
 * `GET /api/v1/promotions` on each (re)connection, so nothing missed while disconnected stays
 * stale), the latest copy progress of each running promotion, and a counter pages watch to
 * re-read `GET /api/v1/status` when the matrix changed.
 */
import { computed, effect, signal } from '@preact/signals';
import { api, openStream, type StreamEvent } from './api';
import type { Promotion, PromotionState, Progress } from './api-types';
import { session } from './auth';

/** The latest view of each promotion seen, by id. */
export const promotions = signal<ReadonlyMap<string, Promotion>>(new Map());
/**
 * The latest copy progress of each promotion that is copying, by id. A release copies several
 * applications: its progress is their sum (`application` names them all).
 */
export const progress = signal<ReadonlyMap<string, Progress>>(new Map());
/** The latest report of each application of each promotion, behind {@link progress}. */
const perApplication = new Map<string, Map<string, Progress>>();
/** Bumped (debounced, ~300 ms) when the status matrix changed: pages re-read `/api/v1/status`. */
export const statusVersion = signal(0);

/** The time, every 15 s while signed in: pages that show ages read it to stay current. */
export const clock = signal(Date.now());

/** Promotions waiting for an approval, oldest request first. */
export const pendingApprovals = computed(() =>
  [...promotions.value.values()]
    .filter((p) => p.state === 'awaiting-approval')
    .sort((a, b) => a.requestedAt.localeCompare(b.requestedAt)),
);

/** States in which a promotion copies (progress is shown). */
export const RUNNING: readonly PromotionState[] = ['approved', 'copying', 'verifying'];

const ENDED_STATES: readonly PromotionState[] = ['completed', 'rejected', 'failed', 'cancelled'];

/** Records `views` (newer views win; an equal `updatedAt` takes the one given now). */
export function remember(...views: Promotion[]): void {
  if (views.length === 0) return;
  const next = new Map(promotions.value);
  let ended = false;
  let completed = false;
  for (const view of views) {
    const known = next.get(view.id);
    if (known && Date.parse(known.updatedAt) > Date.parse(view.updatedAt)) continue;
    next.set(view.id, view);
    if (ENDED_STATES.includes(view.state)) ended = true;
    if (view.state === 'completed' && known && known.state !== 'completed') completed = true;
  }
  promotions.value = next;
  if (ended) {
    const still = new Map(progress.value);
    for (const id of still.keys()) {
      const p = next.get(id);
      if (p && ENDED_STATES.includes(p.state)) {
        still.delete(id);
        perApplication.delete(id);
      }
    }
    if (still.size !== progress.value.size) progress.value = still;
  }
  // A completed promotion moved tags: the matrix changed even if no status event says so.
  if (completed) statusChanged();
}

let debounce: ReturnType<typeof setTimeout> | undefined;

/** The status matrix changed: bump {@link statusVersion} once things settle (300 ms). */
export function statusChanged(): void {
  if (debounce !== undefined) clearTimeout(debounce);
  debounce = setTimeout(() => {
    debounce = undefined;
    statusVersion.value++;
  }, 300);
}

function isPromotion(data: unknown): data is Promotion {
  const d = data as Partial<Promotion> | null;
  return typeof d === 'object' && d !== null && typeof d.id === 'string' && typeof d.state === 'string';
}

function isProgress(data: unknown): data is Progress {
  const d = data as Partial<Progress> | null;
  return (
    typeof d === 'object' && d !== null && typeof d.id === 'string' && typeof d.bytesTransferred === 'number'
  );
}

/** The reports of several applications of promotion `id` as one. */
function sum(id: string, reports: readonly Progress[]): Progress {
  const total = (f: (p: Progress) => number) => reports.reduce((n, p) => n + f(p), 0);
  return {
    id,
    application: reports.map((p) => p.application).join(', '),
    bytesTransferred: total((p) => p.bytesTransferred),
    bytesTotal: total((p) => p.bytesTotal),
    blobsDone: total((p) => p.blobsDone),
    blobsTotal: total((p) => p.blobsTotal),
  };
}

function onEvent(e: StreamEvent): void {
  if (e.event === 'promotion' && isPromotion(e.data)) remember(e.data);
  else if (e.event === 'progress' && isProgress(e.data)) {
    const report = e.data;
    const known = promotions.value.get(report.id);
    if (known && ENDED_STATES.includes(known.state)) return;
    const apps = perApplication.get(report.id) ?? new Map<string, Progress>();
    apps.set(report.application, report);
    perApplication.set(report.id, apps);
    const next = new Map(progress.value);
    next.set(report.id, sum(report.id, [...apps.values()]));
    progress.value = next;
  } else if (e.event === 'status') statusChanged();
}

/** Reads the newest promotions and every one awaiting approval (what the stream may have missed). */
async function seed(signal: AbortSignal): Promise<void> {
  try {
    const [recent, waiting] = await Promise.all([
      api<{ promotions: Promotion[] }>('GET', '/api/v1/promotions?limit=100'),
      api<{ promotions: Promotion[] }>('GET', '/api/v1/promotions?state=awaiting-approval&limit=500'),
    ]);
    if (signal.aborted) return;
    remember(...recent.promotions, ...waiting.promotions);
    statusChanged();
  } catch {
    // Shown by the pages that read the same API; the next reconnection seeds again.
  }
}

let controller: AbortController | undefined;

effect(() => {
  const signedIn = session.value !== undefined;
  controller?.abort();
  controller = undefined;
  promotions.value = new Map();
  progress.value = new Map();
  perApplication.clear();
  if (!signedIn) return;
  const c = new AbortController();
  controller = c;
  const tick = setInterval(() => (clock.value = Date.now()), 15_000);
  c.signal.addEventListener('abort', () => clearInterval(tick));
  void seed(c.signal);
  // Every (re)connection reads what the stream may have missed before it opened.
  openStream('/api/v1/events', onEvent, c.signal, () => void seed(c.signal));
});
