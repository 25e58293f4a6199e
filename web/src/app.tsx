/**
 * The shell: the sign-in form while signed out; otherwise the navigation and the page the path
 * names. Every page reads the API itself (api.ts) and shows its errors in place.
 */
import type { ComponentChildren } from 'preact';
import { endedBecause, session, signOut } from './auth';
import { location, match } from './router';
import { SignIn } from './pages/sign-in';
import { PipelinePage } from './pages/pipeline';
import { ApprovalsPage } from './pages/approvals';
import { PromotionPage } from './pages/promotion';
import { CandidatePage } from './pages/candidate';
import { HistoryPage } from './pages/history';
import { LedgerPage } from './pages/ledger';
import { DiffPage } from './pages/diff';
import { AdminPage } from './pages/admin';
import { LifecyclePage } from './pages/lifecycle';
import { LifecycleRunPage } from './pages/lifecycle-run';
import { pendingApprovals } from './live';

interface Page {
  readonly pattern: string;
  readonly title: string;
  readonly render: (params: Record<string, string>, query: URLSearchParams) => ComponentChildren;
}

/** Every page, by path. */
const PAGES: readonly Page[] = [
  { pattern: '/', title: 'Pipeline', render: () => <PipelinePage /> },
  { pattern: '/approvals', title: 'Approvals', render: () => <ApprovalsPage /> },
  { pattern: '/promotions/:id', title: 'Promotion', render: (p) => <PromotionPage id={p.id ?? ''} /> },
  {
    pattern: '/apps/:app/candidates/:digest',
    title: 'Candidate',
    render: (p, q) => <CandidatePage app={p.app ?? ''} digest={p.digest ?? ''} env={q.get('env') ?? ''} />,
  },
  { pattern: '/history', title: 'History', render: (_p, q) => <HistoryPage query={q} /> },
  { pattern: '/ledger', title: 'Ledger', render: (_p, q) => <LedgerPage query={q} /> },
  { pattern: '/diff', title: 'Diff', render: (_p, q) => <DiffPage query={q} /> },
  { pattern: '/lifecycle', title: 'Lifecycle', render: (_p, q) => <LifecyclePage query={q} /> },
  {
    pattern: '/lifecycle/runs/:id',
    title: 'Lifecycle run',
    render: (p) => <LifecycleRunPage id={p.id ?? ''} />,
  },
  { pattern: '/admin', title: 'Admin', render: () => <AdminPage /> },
];

/** `allTeams`: pages about every team's applications, refused to a token limited to teams. */
const NAV: readonly { href: string; label: string; admin?: boolean; allTeams?: boolean }[] = [
  { href: '/', label: 'Pipeline' },
  { href: '/approvals', label: 'Approvals' },
  { href: '/history', label: 'History' },
  { href: '/ledger', label: 'Ledger', allTeams: true },
  { href: '/diff', label: 'Diff' },
  { href: '/lifecycle', label: 'Lifecycle', allTeams: true },
  { href: '/admin', label: 'Admin', admin: true },
];

export function App() {
  const s = session.value;
  if (!s) return <SignIn reason={endedBecause.value} />;
  const { path, query } = location.value;
  let page: { title: string; body: ComponentChildren } | undefined;
  for (const p of PAGES) {
    const params = match(p.pattern, path);
    if (params) {
      page = { title: p.title, body: p.render(params, query) };
      break;
    }
  }
  document.title = page ? `${page.title} · Gantry` : 'Not found · Gantry';
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/" aria-label="Gantry: pipeline">
          Gantry
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((n) => (!n.admin || s.may.admin) && (!n.allTeams || s.token.teams.length === 0)).map(
              (n) => (
                <li key={n.href}>
                  <a
                    href={n.href}
                    aria-current={
                      (n.href === '/' ? path === '/' : path.startsWith(n.href)) ? 'page' : undefined
                    }
                  >
                    {n.label}
                    {n.href === '/approvals' && <WaitingCount />}
                  </a>
                </li>
              ),
            )}
          </ul>
        </nav>
        <div class="who">
          <span title={s.token.roles.join(', ')}>{s.identity}</span>
          <button type="button" class="link" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {page ? (
          page.body
        ) : (
          <section>
            <h1>Not found</h1>
            <p>
              No page at <code>{path}</code>. <a href="/">Back to the pipeline</a>.
            </p>
          </section>
        )}
      </main>
    </>
  );
}

/** How many promotions await approval (live), after the Approvals link. */
function WaitingCount() {
  const n = pendingApprovals.value.length;
  if (n === 0) return null;
  return (
    <>
      {' '}
      <span class="nav-count">
        {n}
        <span class="sr-only"> waiting</span>
      </span>
    </>
  );
}
