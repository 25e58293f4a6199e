/**
 * One candidate as an approver reviews it (`/apps/:app/candidates/:digest?env=ENV`, ENV the
 * environment it would be promoted into): the image (OCI labels, platforms, size), its referrers
 * by kind, the vulnerability counts, every gate of ENV with its reasons, the decisions so far and
 * its promotions; a promotion into ENV for those who may promote.
 */
import { useSignal } from '@preact/signals';
import { api, withQuery } from '../api';
import type { CandidateDetail, CandidateList, Promotion } from '../api-types';
import { session } from '../auth';
import { Age, bytes, ErrorNote, ShortDigest, StateBadge, useLoad } from '../components';
import { navigate } from '../router';
import { ReviewTableWrap } from '../review-fields';
import { ReviewGates, ReviewReferrers, ReviewVulnerabilities } from '../review-candidate';

/** The OCI labels shown on their own, above the table of every label. */
const OCI = {
  version: 'org.opencontainers.image.version',
  revision: 'org.opencontainers.image.revision',
  source: 'org.opencontainers.image.source',
} as const;

/** The path of a candidate's page. */
export function candidatePath(app: string, digest: string, env: string): string {
  return withQuery(`/apps/${encodeURIComponent(app)}/candidates/${encodeURIComponent(digest)}`, { env });
}

export function CandidatePage({ app, digest, env }: { app: string; digest: string; env: string }) {
  const detail = useLoad(
    () =>
      api<CandidateDetail>(
        'GET',
        withQuery(
          `/api/v1/applications/${encodeURIComponent(app)}/candidates/${encodeURIComponent(digest)}`,
          {
            env,
          },
        ),
      ),
    [app, digest, env],
  );
  const list = useLoad(
    () =>
      env
        ? api<CandidateList>(
            'GET',
            withQuery(`/api/v1/applications/${encodeURIComponent(app)}/candidates`, { env }),
          )
        : Promise.resolve(undefined),
    [app, env],
  );
  const d = detail.data.value;
  if (!env)
    return (
      <section>
        <h1>Candidate</h1>
        <p class="error" role="alert">
          Which environment? Open this page with <code>?env=ENVIRONMENT</code>, the environment to promote
          into.
        </p>
      </section>
    );
  return (
    <section class="review-candidate">
      <h1>
        {app} {d?.version ?? <ShortDigest digest={digest} />} <span class="muted">→ {env}</span>
      </h1>
      <ErrorNote error={detail.error.value} />
      {!d && detail.loading.value && (
        <p class="muted" role="status">
          Reading the image and its referrers…
        </p>
      )}
      <div class="filters">
        {list.data.value && list.data.value.candidates.length > 0 && (
          <div class="field">
            <label for="candidate-pick">Candidate for {env}</label>
            <select
              id="candidate-pick"
              value={digest}
              onChange={(e) => navigate(candidatePath(app, e.currentTarget.value, env))}
            >
              {!list.data.value.candidates.some((c) => c.digest === digest) && (
                <option value={digest}>{digest}</option>
              )}
              {list.data.value.candidates.map((c) => (
                <option key={c.digest} value={c.digest}>
                  {c.version ?? c.digest.slice(0, 19)} from {c.from}
                  {c.current ? ` (runs in ${env})` : c.inTarget ? ` (in ${env})` : ''}
                </option>
              ))}
            </select>
          </div>
        )}
        {d && session.value?.may.promote && <PromoteButton detail={d} />}
      </div>
      {d && <CandidateBody d={d} />}
    </section>
  );
}

function PromoteButton({ detail }: { detail: CandidateDetail }) {
  const busy = useSignal(false);
  const error = useSignal<unknown>(undefined);
  const promote = async () => {
    busy.value = true;
    error.value = undefined;
    try {
      const p = await api<Promotion>('POST', '/api/v1/promotions', {
        app: detail.application,
        digest: detail.digest,
        to: detail.environment,
        from: detail.from,
      });
      navigate(`/promotions/${encodeURIComponent(p.id)}`);
    } catch (err) {
      error.value = err;
      busy.value = false;
    }
  };
  return (
    <div class="field">
      <button type="button" class="primary" disabled={busy.value} onClick={() => void promote()}>
        {busy.value ? 'Requesting…' : `Promote to ${detail.environment}`}
      </button>
      <ErrorNote error={error.value} />
    </div>
  );
}

function CandidateBody({ d }: { d: CandidateDetail }) {
  const labels = Object.entries(d.labels).sort(([a], [b]) => (a < b ? -1 : 1));
  const annotations = Object.entries(d.annotations).sort(([a], [b]) => (a < b ? -1 : 1));
  const source = d.labels[OCI.source] ?? d.annotations[OCI.source];
  return (
    <>
      <div class="cards">
        <section class="card" aria-labelledby="image-heading">
          <h2 id="image-heading">Image</h2>
          <dl class="facts">
            <dt>Version</dt>
            <dd>{d.labels[OCI.version] ?? d.version ?? <span class="muted">—</span>}</dd>
            <dt>Revision</dt>
            <dd>
              {d.labels[OCI.revision] ? <code>{d.labels[OCI.revision]}</code> : <span class="muted">—</span>}
            </dd>
            <dt>Source</dt>
            <dd>
              {source && /^https?:\/\//.test(source) ? (
                <a href={source} target="_blank" rel="noopener noreferrer">
                  {source}
                </a>
              ) : (
                (source ?? <span class="muted">—</span>)
              )}
            </dd>
            <dt>Digest</dt>
            <dd>
              <code class="review-wrap">{d.digest}</code>
            </dd>
            <dt>From</dt>
            <dd>
              {d.from}
              {d.tags.length > 0 && <span class="muted"> · tags {d.tags.join(', ')}</span>}
            </dd>
            <dt>Size</dt>
            <dd>{bytes(d.size)}</dd>
            <dt>Created</dt>
            <dd>
              {d.created ? (
                <>
                  <Age time={d.created} /> <span class="muted">({d.created})</span>
                </>
              ) : (
                <span class="muted">not recorded</span>
              )}
            </dd>
            <dt>Platforms</dt>
            <dd>
              {d.platforms.length === 0 ? (
                <span class="muted">one image (no index)</span>
              ) : (
                <ul class="review-list">
                  {d.platforms.map((p) => (
                    <li key={p.digest}>
                      {p.platform} <ShortDigest digest={p.digest} />{' '}
                      <span class="muted">{bytes(p.size)}</span>
                    </li>
                  ))}
                </ul>
              )}
            </dd>
          </dl>
        </section>
        <ReviewGates gates={d.gates} env={d.environment} />
        <ReviewVulnerabilities v={d.vulnerabilities} />
      </div>

      <h2 id="approvals-heading">Approvals</h2>
      {d.approvals.length === 0 ? (
        <p class="muted">No approvals or rejections yet.</p>
      ) : (
        <ReviewTableWrap label="Approvals">
          <table class="review-stack">
            <thead>
              <tr>
                <th scope="col">Who</th>
                <th scope="col">Decision</th>
                <th scope="col">Comment</th>
                <th scope="col">When</th>
                <th scope="col">Given</th>
              </tr>
            </thead>
            <tbody>
              {d.approvals.map((a, i) => (
                <tr key={`${a.approver}-${a.time}-${i}`}>
                  <td data-label="Who">{a.approver}</td>
                  <td data-label="Decision">
                    <span class={`badge ${a.decision === 'approved' ? 'ok' : 'bad'}`}>{a.decision}</span>
                  </td>
                  <td data-label="Comment" class="review-wrap">
                    {a.comment ?? <span class="muted">—</span>}
                  </td>
                  <td data-label="When">
                    <Age time={a.time} />
                  </td>
                  <td data-label="Given">
                    {a.source === 'signed' ? 'signed approval (registry)' : 'through the API'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </ReviewTableWrap>
      )}

      <ReviewReferrers referrers={d.referrers} />

      <h2>Labels</h2>
      {labels.length === 0 ? (
        <p class="muted">No labels.</p>
      ) : (
        <KeyValueTable name="Label" entries={labels} />
      )}
      {annotations.length > 0 && (
        <>
          <h2>Annotations</h2>
          <KeyValueTable name="Annotation" entries={annotations} />
        </>
      )}

      <h2>Promotions of this digest</h2>
      {d.promotions.length === 0 ? (
        <p class="muted">This digest has not been promoted anywhere yet.</p>
      ) : (
        <ReviewTableWrap label="Promotions of this digest">
          <table class="review-stack">
            <thead>
              <tr>
                <th scope="col">Promotion</th>
                <th scope="col">To</th>
                <th scope="col">State</th>
                <th scope="col">By</th>
                <th scope="col">When</th>
              </tr>
            </thead>
            <tbody>
              {d.promotions.map((p) => (
                <tr key={p.id}>
                  <td data-label="Promotion">
                    <a href={`/promotions/${encodeURIComponent(p.id)}`}>
                      <code>{p.id.slice(0, 8)}</code>
                      <span class="visually-hidden"> (promotion {p.id})</span>
                    </a>
                  </td>
                  <td data-label="To">{p.environment}</td>
                  <td data-label="State">
                    <StateBadge state={p.state} />
                  </td>
                  <td data-label="By">{p.requestedBy}</td>
                  <td data-label="When">
                    <Age time={p.requestedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </ReviewTableWrap>
      )}
    </>
  );
}

/** A table of labels or annotations: key and value, both wrapping on narrow screens. */
function KeyValueTable({ name, entries }: { name: string; entries: readonly (readonly [string, string])[] }) {
  return (
    <ReviewTableWrap label={`${name}s`}>
      <table>
        <thead>
          <tr>
            <th scope="col">{name}</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {entries.map(([k, v]) => (
            <tr key={k}>
              <td>
                <code class="review-wrap">{k}</code>
              </td>
              <td class="review-wrap">{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </ReviewTableWrap>
  );
}
