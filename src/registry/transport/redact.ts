/**
 * URL redaction for logs and errors: no user info, and query values other than a few harmless
 * protocol parameters are replaced (pre-signed storage URLs carry credentials in their query).
 */
const SAFE_QUERY = new Set(['n', 'last', 'digest', 'mount', 'from', 'artifactType', 'scope', 'service']);

/** Returns `url` with credentials and query secrets replaced by `REDACTED`. */
export function redactUrl(url: string | URL): string {
  let u: URL;
  try {
    u = new URL(url.toString());
  } catch {
    return '<invalid url>';
  }
  if (u.username) u.username = 'REDACTED';
  if (u.password) u.password = 'REDACTED';
  for (const key of [...u.searchParams.keys()]) {
    if (!SAFE_QUERY.has(key)) u.searchParams.set(key, 'REDACTED');
  }
  return u.toString();
}
