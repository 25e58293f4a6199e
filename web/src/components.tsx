/** Small pieces every page uses: digests, times, states, errors, dialogs and data loading. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { useSignal, type Signal } from '@preact/signals';
import type { PromotionState } from './api-types';

/** `sha256:0123456789ab` (12 hex digits), the full digest in its title and for copying. */
export function ShortDigest({ digest }: { digest: string | undefined }) {
  if (!digest) return <span class="muted">—</span>;
  const [alg, hex = ''] = digest.split(':');
  return (
    <code class="digest" title={digest}>
      {alg}:{hex.slice(0, 12)}
    </code>
  );
}

/** How long ago `time` was, e.g. `5 min ago`; the exact time in its title. */
export function Age({ time, now = Date.now() }: { time: string | undefined; now?: number }) {
  if (!time) return <span class="muted">—</span>;
  const t = Date.parse(time);
  if (Number.isNaN(t)) return <span>{time}</span>;
  return (
    <time dateTime={time} title={new Date(t).toISOString()}>
      {ago(now - t)}
    </time>
  );
}

/** A span in its largest whole unit: `42 s`, `5 min`, `3 h`, `12 d`. */
export function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86_400)} d`;
}

/** `42 s ago`, `5 min ago`, `3 h ago`, `12 d ago`. */
export function ago(ms: number): string {
  return `${span(ms)} ago`;
}

/** Bytes as `12.3 MB`. */
export function bytes(n: number | undefined): string {
  if (n === undefined) return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

const STATE_TONE: Record<PromotionState, string> = {
  requested: 'wait',
  gated: 'wait',
  'awaiting-approval': 'wait',
  approved: 'run',
  copying: 'run',
  verifying: 'run',
  completed: 'ok',
  rejected: 'bad',
  failed: 'bad',
  cancelled: 'off',
};

/** A promotion's state as a badge (text, not colour alone, carries the meaning). */
export function StateBadge({ state }: { state: PromotionState }) {
  return <span class={`badge ${STATE_TONE[state]}`}>{state}</span>;
}

/** A one-line error in place (role alert: screen readers announce it). */
export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const message =
    error instanceof Error ? error.message : typeof error === 'string' ? error : 'Something went wrong.';
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

/** A modal dialog (native `<dialog>`: focus stays inside, Escape closes it). */
export function Dialog({
  open,
  title,
  onClose,
  children,
}: {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} aria-labelledby="dialog-title" onClose={onClose} onCancel={onClose}>
      <h2 id="dialog-title">{title}</h2>
      {children}
    </dialog>
  );
}

/** What {@link useLoad} returns: the data, the error, and a reload. */
export interface Loaded<T> {
  readonly data: Signal<T | undefined>;
  readonly error: Signal<unknown>;
  readonly loading: Signal<boolean>;
  reload(): Promise<void>;
}

/** Loads `load()` when `deps` change; the previous data stays shown while a reload runs. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const data = useSignal<T | undefined>(undefined);
  const error = useSignal<unknown>(undefined);
  const loading = useSignal(true);
  const seq = useRef(0);
  const reload = async () => {
    const mine = ++seq.current;
    loading.value = true;
    try {
      const value = await load();
      if (mine === seq.current) {
        data.value = value;
        error.value = undefined;
      }
    } catch (e) {
      if (mine === seq.current) error.value = e;
    } finally {
      if (mine === seq.current) loading.value = false;
    }
  };
  useEffect(() => {
    void reload();
  }, deps);
  return { data, error, loading, reload };
}
