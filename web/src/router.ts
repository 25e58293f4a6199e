/**
 * Path routing with the History API: the current location as a signal, links that navigate
 * without a reload. The server answers every dashboard path with index.html.
 */
import { signal } from '@preact/signals';

/** The current path and query. */
export const location = signal({
  path: window.location.pathname,
  query: new URLSearchParams(window.location.search),
});

/** Goes to `href` (a path with an optional query). */
export function navigate(href: string, replace = false): void {
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  update();
  window.scrollTo(0, 0);
}

function update(): void {
  location.value = { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

window.addEventListener('popstate', update);

// Same-origin links navigate in place (modifier keys and new tabs still work as usual).
document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a || a.target || a.hasAttribute('download') || a.origin !== window.location.origin) return;
  // In-page anchors (the skip link) keep the browser's own behaviour: scroll and focus.
  if (a.hash && a.pathname === window.location.pathname && a.search === window.location.search) return;
  e.preventDefault();
  navigate(a.pathname + a.search);
});

/** Matches `path` against a pattern such as `/apps/:app/candidates/:digest`. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split('/');
  const s = path.split('/');
  if (p.length !== s.length) return undefined;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const part = p[i] ?? '';
    const seg = s[i] ?? '';
    if (part.startsWith(':')) {
      if (seg === '') return undefined;
      try {
        out[part.slice(1)] = decodeURIComponent(seg);
      } catch {
        return undefined;
      }
    } else if (part !== seg) return undefined;
  }
  return out;
}
