/** Minimal ES256 JSON Web Tokens (RFC 7519 / RFC 7515) for the fake token server. */
import { sign, type KeyObject } from 'node:crypto';

/** base64url without padding, as JOSE requires. */
export function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/**
 * Signs `claims` as a compact JWS with algorithm ES256 (ECDSA P-256 + SHA-256, signature in the
 * IEEE P1363 `r||s` form JOSE requires). `header` is merged over `{typ: 'JWT', alg: 'ES256'}`;
 * pass `x5c` there for registries that verify against a certificate bundle.
 */
export function signEs256Jwt(
  claims: Record<string, unknown>,
  privateKey: KeyObject,
  header: Record<string, unknown> = {},
): string {
  const head = base64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', ...header }));
  const body = base64url(JSON.stringify(claims));
  const signingInput = `${head}.${body}`;
  const signature = sign('sha256', Buffer.from(signingInput), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${base64url(signature)}`;
}

/** Decodes (without verifying) the header and claims of a compact JWT, for assertions in tests. */
export function decodeJwt(token: string): {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
} {
  const [head = '', body = ''] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>,
  };
}
