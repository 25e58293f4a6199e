/**
 * Recognises the errors of a database that is down or restarting (PostgreSQL stopped, crashed or
 * starting up; connections refused or cut), as opposed to a bad query: the server answers those
 * 503 `STORE_UNREACHABLE` (try again), not 500.
 */

/** SQLSTATEs of an unavailable server: class 08 (connection exception), shutdown and start-up. */
const UNAVAILABLE_SQLSTATE = /^(?:08\w{3}|57P0[1-3])$/;
/** Node.js socket errors. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** node-postgres's own messages for a lost or unobtainable connection. */
const PG_MESSAGES =
  /^(?:Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|Client was closed)/;

/** True when `error` (or an error it wraps) says the database cannot be reached right now. */
export function isStoreUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    const { code, message, errors, cause } = e as {
      code?: unknown;
      message?: unknown;
      errors?: unknown;
      cause?: unknown;
    };
    if (typeof code === 'string' && (SOCKET_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
    if (typeof message === 'string' && PG_MESSAGES.test(message)) return true;
    // Node's happy-eyeballs connect fails with an AggregateError of per-address errors.
    if (Array.isArray(errors) && errors.some((x) => isStoreUnavailable(x))) return true;
    e = cause;
  }
  return false;
}
