/** Who made a request: the identity of a valid API token. */
import type { FastifyRequest } from 'fastify';
import { GantryError } from '../core/index.js';
import type { TokenInfo } from '../store/index.js';

/** The authenticated caller of a request. */
export interface Caller {
  /** The token that authenticated the request. */
  readonly token: TokenInfo;
  /** How the caller appears in the ledger: `<name> (<id>)`. */
  readonly actor: string;
}

const callers = new WeakMap<FastifyRequest, Caller>();

/** Records the caller of a request (the auth hook does this). */
export function setCaller(request: FastifyRequest, token: TokenInfo): void {
  callers.set(request, Object.freeze({ token, actor: `${token.name} (${token.id})` }));
}

/** The caller of a request authenticated by a token, or `undefined` (e.g. an HMAC-signed one). */
export function tokenCallerOf(request: FastifyRequest): Caller | undefined {
  return callers.get(request);
}

/** The caller of an authenticated route's request. */
export function callerOf(request: FastifyRequest): Caller {
  const caller = callers.get(request);
  if (!caller) throw new GantryError('INTERNAL', 'the route has no authenticated caller');
  return caller;
}
