/** The candidate page's cards: gates, vulnerability counts and referrers by kind. */
import type { CandidateDetail } from './api-types';
import { Age, bytes, ShortDigest } from './components';

type Kind = CandidateDetail['referrers'][number]['kind'];

/** Referrer kinds in the order they are listed, with their headings. */
const KINDS: readonly [Kind, string][] = [
  ['signature', 'Signatures'],
  ['sbom', 'SBOMs'],
  ['vulnerability-report', 'Vulnerability reports'],
  ['attestation', 'Attestations'],
  ['promotion-record', 'Promotion records'],
  ['approval', 'Approvals'],
  ['other', 'Other'],
];

const GATE_TONE = { pass: 'ok', fail: 'bad', pending: 'wait' } as const;

/** Every gate of the environment: its state as a badge and its reasons. */
export function ReviewGates({ gates, env }: { gates: CandidateDetail['gates']; env: string }) {
  return (
    <section class="card" aria-labelledby="gates-heading">
      <h2 id="gates-heading">Gates of {env}</h2>
      {gates.length === 0 ? (
        <p class="muted">{env} has no gates.</p>
      ) : (
        <ul class="review-gates">
          {gates.map((g) => (
            <li key={g.name}>
              <span class={`badge ${GATE_TONE[g.status]}`}>{g.status}</span> <strong>{g.name}</strong>
              {g.reasons.length > 0 && (
                <ul>
                  {g.reasons.map((r, i) => (
                    <li key={i}>{r}</li>
                  ))}
                </ul>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

const SEVERITIES = ['critical', 'high', 'medium', 'low', 'unknown'] as const;
const SEVERITY_TONE = { critical: 'bad', high: 'bad', medium: 'wait', low: 'off', unknown: 'off' } as const;

/** The newest vulnerability report's counts by severity, or that there is none. */
export function ReviewVulnerabilities({ v }: { v: CandidateDetail['vulnerabilities'] }) {
  return (
    <section class="card" aria-labelledby="vulns-heading">
      <h2 id="vulns-heading">Vulnerabilities</h2>
      {!v ? (
        <p class="muted">No vulnerability report is attached to this image.</p>
      ) : (
        <>
          <ul class="review-severities" aria-label="Findings by severity">
            {SEVERITIES.map((s) => (
              <li key={s} class={v[s] > 0 ? `badge ${SEVERITY_TONE[s]}` : 'badge off'}>
                {v[s]} {s}
              </li>
            ))}
          </ul>
          <dl class="facts">
            <dt>Scanner</dt>
            <dd>{v.scanner}</dd>
            <dt>Scanned</dt>
            <dd>
              {v.createdAt ? (
                <>
                  <Age time={v.createdAt} /> <span class="muted">({v.createdAt})</span>
                </>
              ) : (
                <span class="muted">not recorded</span>
              )}
            </dd>
            {v.reportDigest && (
              <>
                <dt>Report</dt>
                <dd>
                  <ShortDigest digest={v.reportDigest} />
                </dd>
              </>
            )}
          </dl>
        </>
      )}
    </section>
  );
}

/** The referrers of the image, grouped by kind. */
export function ReviewReferrers({ referrers }: { referrers: CandidateDetail['referrers'] }) {
  return (
    <>
      <h2>Referrers</h2>
      {referrers.length === 0 && (
        <p class="muted">Nothing refers to this image (no signature, SBOM or report).</p>
      )}
      <div class="cards">
        {KINDS.map(([kind, title]) => {
          const of = referrers.filter((r) => r.kind === kind);
          if (of.length === 0) return null;
          return (
            <section key={kind} class="card" aria-labelledby={`referrers-${kind}`}>
              <h3 id={`referrers-${kind}`}>
                {title} ({of.length})
              </h3>
              <ul class="review-list">
                {of.map((r) => (
                  <li key={r.digest}>
                    <ShortDigest digest={r.digest} />{' '}
                    <span class="muted review-wrap">
                      {r.artifactType ?? r.mediaType} · {bytes(r.size)}
                    </span>
                  </li>
                ))}
              </ul>
            </section>
          );
        })}
      </div>
    </>
  );
}
