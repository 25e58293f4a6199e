/**
 * The history of one application in one environment (`/history?app=&env=`): every promotion and
 * rollback, newest first, and a rollback to a digest that was promoted there before.
 */
import { useSignal } from '@preact/signals';
import { statusVersion } from '../live';
import { api, withQuery } from '../api';
import type { History, HistoryEntry, Pipeline } from '../api-types';
import { session } from '../auth';
import { Age, Dialog, ErrorNote, ShortDigest, useLoad } from '../components';
import { navigate } from '../router';
import { defaultEnvironment, ReviewSelect, ReviewTableWrap } from '../review-fields';

/** A digest the environment held before, as the rollback dialog offers it. */
export interface RollbackChoice {
  readonly digest: string;
  readonly version?: string | undefined;
  /** When it was last promoted (or rolled back) there. */
  readonly time: string;
}

/**
 * The digests `entries` (newest first) put into the environment before, other than the current
 * one (the newest entry's): what a rollback may go back to, each once, most recent first.
 */
export function rollbackChoices(entries: readonly HistoryEntry[]): RollbackChoice[] {
  const current = entries[0]?.digest;
  const seen = new Set<string>();
  const out: RollbackChoice[] = [];
  for (const e of entries) {
    if (e.digest === current || seen.has(e.digest)) continue;
    seen.add(e.digest);
    out.push({ digest: e.digest, version: e.version, time: e.time });
  }
  return out;
}

export function HistoryPage({ query }: { query: URLSearchParams }) {
  const pipeline = useLoad(() => api<Pipeline>('GET', '/api/v1/pipeline'), []);
  const p = pipeline.data.value;
  const app = query.get('app') || p?.applications[0] || '';
  const env = query.get('env') || (p ? defaultEnvironment(p) : '');
  const history = useLoad(
    () =>
      app && env
        ? api<History>('GET', withQuery(`/api/v1/applications/${encodeURIComponent(app)}/history`, { env }))
        : Promise.resolve(undefined),
    // Live: read again when the status matrix changes (a promotion completed, a rollback).
    [app, env, statusVersion.value],
  );
  const open = useSignal(false);
  const entries = history.data.value?.entries ?? [];
  const choices = rollbackChoices(entries);
  const go = (next: { app?: string; env?: string }) =>
    navigate(withQuery('/history', { app, env, ...next }), true);

  return (
    <section>
      <h1>History</h1>
      <ErrorNote error={pipeline.error.value} />
      <div class="filters">
        <ReviewSelect
          id="history-app"
          label="Application"
          value={app}
          options={p?.applications ?? []}
          onChange={(v) => go({ app: v })}
        />
        <ReviewSelect
          id="history-env"
          label="Environment"
          value={env}
          options={p?.environments.map((e) => e.name) ?? []}
          onChange={(v) => go({ env: v })}
        />
        {session.value?.may.promote && (
          <button type="button" disabled={choices.length === 0} onClick={() => (open.value = true)}>
            Roll back…
          </button>
        )}
      </div>
      <ErrorNote error={history.error.value} />
      {!history.data.value && history.loading.value && (
        <p class="muted" role="status">
          Loading the history…
        </p>
      )}
      {history.data.value && entries.length === 0 && (
        <p class="muted">
          Nothing has been promoted to {env} for {app} yet.
        </p>
      )}
      {entries.length > 0 && (
        <ReviewTableWrap label="History table">
          <table>
            <caption class="visually-hidden">
              Promotions and rollbacks of {app} in {env}, newest first
            </caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Kind</th>
                <th scope="col">Version</th>
                <th scope="col">Digest</th>
                <th scope="col">By</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e, i) => (
                <tr key={`${e.attestation}-${i}`}>
                  <td>
                    <Age time={e.time} />
                  </td>
                  <td>
                    <span class={`badge ${e.kind === 'rollback' ? 'wait' : 'ok'}`}>{e.kind}</span>
                    {i === 0 && <span class="muted"> (current)</span>}
                  </td>
                  <td>{e.version ?? <span class="muted">—</span>}</td>
                  <td>
                    <ShortDigest digest={e.digest} />
                  </td>
                  <td>{e.actor}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ReviewTableWrap>
      )}
      {open.value && (
        <RollbackDialog
          app={app}
          env={env}
          choices={choices}
          onClose={() => (open.value = false)}
          onDone={() => {
            open.value = false;
            void history.reload();
          }}
        />
      )}
    </section>
  );
}

function RollbackDialog({
  app,
  env,
  choices,
  onClose,
  onDone,
}: {
  app: string;
  env: string;
  choices: readonly RollbackChoice[];
  onClose: () => void;
  onDone: () => void;
}) {
  const chosen = useSignal(choices[0]?.digest ?? '');
  const busy = useSignal(false);
  const error = useSignal<unknown>(undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    busy.value = true;
    error.value = undefined;
    try {
      await api('POST', '/api/v1/rollbacks', { app, env, to: chosen.value });
      onDone();
    } catch (err) {
      error.value = err;
    } finally {
      busy.value = false;
    }
  };
  return (
    <Dialog open title={`Roll back ${app} in ${env}`} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <fieldset class="review-choices">
          <legend>Go back to a digest promoted to {env} before</legend>
          {choices.map((c) => (
            <label key={c.digest} class="review-choice">
              <input
                type="radio"
                name="rollback-to"
                value={c.digest}
                checked={chosen.value === c.digest}
                onChange={() => (chosen.value = c.digest)}
              />
              <span>
                {c.version ?? 'no version'} <ShortDigest digest={c.digest} /> · <Age time={c.time} />
              </span>
            </label>
          ))}
        </fieldset>
        <p class="muted">
          Moves the environment&apos;s tags back to this digest (no copy) and holds auto-promotion of {app}{' '}
          into {env} until it is released.
        </p>
        <ErrorNote error={error.value} />
        <div class="actions">
          <button type="submit" class="danger" disabled={busy.value || !chosen.value}>
            {busy.value ? 'Rolling back…' : 'Roll back'}
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
