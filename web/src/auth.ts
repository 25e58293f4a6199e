/**
 * Who is signed in. Today an API token pasted into the sign-in form, kept in sessionStorage (gone
 * when the browser session ends, never sent as a cookie). The rest of the app sees only
 * {@link session} and {@link credentials}, so an OIDC sign-in can later be another
 * {@link SignInMethod} that yields a bearer token without touching the pages (decision 0016).
 */
import { signal } from '@preact/signals';
import { api } from './api';
import type { Session } from './api-types';

const KEY = 'gantry.token';

/** A way to sign in: it proves who the user is and yields a bearer token for the API. */
export interface SignInMethod {
  readonly id: 'token' | 'oidc';
  /** The bearer token to use from now on. */
  token(): Promise<string>;
}

/** The signed-in caller (`GET /api/v1/session`), or undefined while signed out. */
export const session = signal<Session | undefined>(undefined);
/** Why the last session ended (shown on the sign-in form), if not by signing out. */
export const endedBecause = signal<string | undefined>(undefined);

function stored(): string | undefined {
  try {
    return sessionStorage.getItem(KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

/** The Authorization header for `token`, or for the signed-in token. */
export function credentials(token = stored()): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Signs in with `method`: checks the token against the API, then keeps it for this session. */
export async function signIn(method: SignInMethod): Promise<Session> {
  const token = (await method.token()).trim();
  const s = await api<Session>('GET', '/api/v1/session', undefined, token);
  sessionStorage.setItem(KEY, token);
  endedBecause.value = undefined;
  session.value = s;
  return s;
}

/** The sign-in method of the form: a pasted API token. */
export function tokenMethod(token: string): SignInMethod {
  return { id: 'token', token: () => Promise.resolve(token) };
}

/** Restores a session kept from before a reload, if its token still works. */
export async function restore(): Promise<void> {
  const token = stored();
  if (!token) return;
  try {
    await signIn(tokenMethod(token));
  } catch {
    sessionStorage.removeItem(KEY);
  }
}

/** Signs out (forgets the token). */
export function signOut(): void {
  sessionStorage.removeItem(KEY);
  session.value = undefined;
}

/** The server refused the token (revoked, expired): back to the sign-in form, saying why. */
export function signedOut(reason: string): void {
  if (!session.value) return;
  signOut();
  endedBecause.value = reason;
}
