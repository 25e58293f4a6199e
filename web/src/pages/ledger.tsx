/**
 * The hash-chained ledger (`/ledger?type=&actor=&subject=&before=`): newest first, filtered by
 * event type (exact, or a prefix such as `promotion.*`), actor and subject, paged towards older
 * entries, with the chain's verification on top.
 */
import { api, withQuery } from '../api';
import type { LedgerPage as Page, LedgerVerify } from '../api-types';
import { Age, ErrorNote, useLoad } from '../components';
import { navigate } from '../router';
import { ReviewTableWrap } from '../review-fields';

/** Entries per page unless the address says `limit=` (1–1000). */
const PAGE = 50;

/** The page size `value` asks for, if it is one the API accepts. */
function pageSize(value: string | null): number {
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : PAGE;
}

/** The type filter's choices: prefixes first, then the exact types worth picking alone. */
const TYPES: readonly { value: string; label: string }[] = [
  ...['promotion', 'rollback', 'hold', 'token', 'deployment', 'candidate', 'config'].map((p) => ({
    value: `${p}.*`,
    label: `${p}.* (every ${p} event)`,
  })),
  ...[
    'promotion.requested',
    'promotion.approval',
    'promotion.completed',
    'promotion.rejected',
    'promotion.failed',
    'promotion.cancelled',
    'rollback.completed',
    'token.created',
    'token.revoked',
  ].map((t) => ({ value: t, label: t })),
];

export function LedgerPage({ query }: { query: URLSearchParams }) {
  const filters = {
    type: query.get('type') ?? '',
    actor: query.get('actor') ?? '',
    subject: query.get('subject') ?? '',
  };
  const before = query.get('before') ?? '';
  const limit = pageSize(query.get('limit'));
  const pageLimit = limit === PAGE ? undefined : limit;
  const verify = useLoad(() => api<LedgerVerify>('GET', '/api/v1/ledger/verify'), []);
  const page = useLoad(
    () => api<Page>('GET', withQuery('/api/v1/ledger', { ...filters, before, order: 'desc', limit })),
    [filters.type, filters.actor, filters.subject, before, limit],
  );
  const submit = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const value = (k: string) => {
      const v = form.get(k);
      return typeof v === 'string' ? v.trim() : '';
    };
    navigate(withQuery('/ledger', { type: value('type'), actor: value('actor'), subject: value('subject') }));
  };
  const v = verify.data.value;
  const p = page.data.value;
  const types =
    TYPES.some((t) => t.value === filters.type) || !filters.type
      ? TYPES
      : [{ value: filters.type, label: filters.type }, ...TYPES];
  return (
    <section>
      <h1>Ledger</h1>
      <div role="status">
        {v &&
          (v.ok ? (
            <p>
              <span class="badge ok">Ledger verified · {v.entries} entries</span>
            </p>
          ) : (
            <p class="error">
              Ledger broken at #{v.firstBadSeq ?? '?'}: {v.reason ?? 'the hash chain does not verify'}
            </p>
          ))}
      </div>
      <ErrorNote error={verify.error.value} />
      <form class="filters" onSubmit={submit} key={`${filters.type}|${filters.actor}|${filters.subject}`}>
        <div class="field">
          <label for="ledger-type">Event type</label>
          <select id="ledger-type" name="type">
            <option value="" selected={!filters.type}>
              any
            </option>
            {types.map((t) => (
              <option key={t.value} value={t.value} selected={t.value === filters.type}>
                {t.label}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="ledger-actor">Actor</label>
          <input id="ledger-actor" name="actor" defaultValue={filters.actor} placeholder="ci (tok_…)" />
        </div>
        <div class="field">
          <label for="ledger-subject">Subject</label>
          <input id="ledger-subject" name="subject" defaultValue={filters.subject} />
        </div>
        <div class="actions">
          <button type="submit" class="primary">
            Filter
          </button>
          {(filters.type || filters.actor || filters.subject) && <a href="/ledger">Clear filters</a>}
        </div>
      </form>
      <ErrorNote error={page.error.value} />
      {p && p.entries.length === 0 && <p class="muted">No ledger entries match.</p>}
      {p && p.entries.length > 0 && (
        <ReviewTableWrap label="Ledger table">
          <table class="review-stack">
            <caption class="visually-hidden">Ledger entries, newest first</caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">When</th>
                <th scope="col">Type</th>
                <th scope="col">Subject</th>
                <th scope="col">Actor</th>
                <th scope="col">Payload</th>
              </tr>
            </thead>
            <tbody>
              {p.entries.map((e) => (
                <tr key={e.seq}>
                  <td data-label="Seq">{e.seq}</td>
                  <td data-label="When">
                    <Age time={e.time} />
                  </td>
                  <td data-label="Type">
                    <code>{e.type}</code>
                  </td>
                  <td data-label="Subject" class="review-wrap">
                    {e.type.startsWith('promotion.') ? (
                      <a href={`/promotions/${encodeURIComponent(e.subject)}`}>{e.subject}</a>
                    ) : (
                      e.subject
                    )}
                  </td>
                  <td data-label="Actor" class="review-wrap">
                    {e.actor}
                  </td>
                  <td data-label="Payload">
                    <details>
                      <summary>payload of #{e.seq}</summary>
                      <pre class="review-json">{JSON.stringify(e.payload, null, 2)}</pre>
                    </details>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </ReviewTableWrap>
      )}
      <nav class="actions review-pager" aria-label="Ledger pages">
        {before && <a href={withQuery('/ledger', { ...filters, limit: pageLimit })}>Newest</a>}
        {p?.next !== undefined && (
          <a href={withQuery('/ledger', { ...filters, limit: pageLimit, before: p.next })}>Older entries</a>
        )}
      </nav>
    </section>
  );
}
