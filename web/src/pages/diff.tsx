/** Two environments side by side (`/diff?left=&right=`): which applications differ between them. */
import { statusVersion } from '../live';
import { api, withQuery } from '../api';
import type { Diff, Pipeline, StatusCell } from '../api-types';
import { ErrorNote, ShortDigest, useLoad } from '../components';
import { navigate } from '../router';
import { defaultEnvironment, ReviewSelect, ReviewTableWrap } from '../review-fields';

/** The environment promoted from `left` (else the last one), to compare `left` with. */
function nextEnvironment(p: Pipeline, left: string): string {
  return (p.environments.find((e) => e.from.includes(left)) ?? p.environments.at(-1))?.name ?? '';
}

export function DiffPage({ query }: { query: URLSearchParams }) {
  const pipeline = useLoad(() => api<Pipeline>('GET', '/api/v1/pipeline'), []);
  const p = pipeline.data.value;
  const left = query.get('left') || (p ? defaultEnvironment(p) : '');
  const right = query.get('right') || (p ? nextEnvironment(p, left) : '');
  const diff = useLoad(
    () =>
      left && right
        ? api<Diff>('GET', withQuery('/api/v1/diff', { left, right }))
        : Promise.resolve(undefined),
    // Live: read again when the status matrix changes (a promotion completed, a rollback).
    [left, right, statusVersion.value],
  );
  const envs = p?.environments.map((e) => e.name) ?? [];
  const go = (next: { left?: string; right?: string }) =>
    navigate(withQuery('/diff', { left, right, ...next }), true);
  const d = diff.data.value;
  return (
    <section>
      <h1>Diff</h1>
      <ErrorNote error={pipeline.error.value} />
      <div class="filters">
        <ReviewSelect
          id="diff-left"
          label="Left"
          value={left}
          options={envs}
          onChange={(v) => go({ left: v })}
        />
        <ReviewSelect
          id="diff-right"
          label="Right"
          value={right}
          options={envs}
          onChange={(v) => go({ right: v })}
        />
      </div>
      <ErrorNote error={diff.error.value} />
      {!d && diff.loading.value && (
        <p class="muted" role="status">
          Reading both environments…
        </p>
      )}
      {d && (
        <>
          <p role="status">
            {d.same
              ? `${d.left} and ${d.right} run the same digests.`
              : `${d.applications.filter((a) => !a.same).length} of ${d.applications.length} applications differ between ${d.left} and ${d.right}.`}
          </p>
          <ReviewTableWrap label="Diff table">
            <table>
              <caption class="visually-hidden">
                Applications in {d.left} and {d.right}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Application</th>
                  <th scope="col">{d.left}</th>
                  <th scope="col">{d.right}</th>
                  <th scope="col">Compared</th>
                </tr>
              </thead>
              <tbody>
                {d.applications.map((a) => (
                  <tr key={a.application}>
                    <th scope="row">{a.application}</th>
                    <td>
                      <DiffSide cell={a.left} />
                    </td>
                    <td>
                      <DiffSide cell={a.right} />
                    </td>
                    <td>
                      <span class={`badge ${a.same ? 'ok' : 'wait'}`}>{a.same ? 'same' : 'differs'}</span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </ReviewTableWrap>
        </>
      )}
    </section>
  );
}

function DiffSide({ cell }: { cell: StatusCell }) {
  if (cell.state !== 'present')
    return <span class="muted">{cell.state === 'absent' ? 'not there' : 'unknown'}</span>;
  return (
    <>
      {cell.version ?? <span class="muted">no version</span>} <ShortDigest digest={cell.digest} />
    </>
  );
}
