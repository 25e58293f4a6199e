/**
 * Where a failure of the HTTP layer becomes a {@link RegistryError}, and whether it is temporary
 * is decided: connection errors and timeouts before the response (the transport) and while a body
 * streams (readers of bodies).
 */
import { GantryError } from '../../core/index.js';
import { redactUrl } from './redact.js';
import { RegistryError } from './registry-error.js';
import { RETRYABLE_ERROR_CODES } from './retry-policy.js';

/** The most specific error code (`ECONNRESET`, `UND_ERR_BODY_TIMEOUT`, …) in `err`'s cause chain. */
export function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET' && code !== 'UND_ERR_CONNECT') {
      if (code !== 'ERR_UNDICI') return code;
    }
    const cause = (e as { cause?: unknown }).cause;
    if (!cause) return typeof code === 'string' ? code : undefined;
    e = cause;
  }
  return undefined;
}

/**
 * A failed request as a {@link RegistryError}. Temporary: connection errors worth retrying and
 * timeouts; not temporary: an abort by the caller and anything unrecognised. An error Gantry
 * itself raised while the request body streamed (undici wraps it) is passed on as it is: it was
 * classified where it was made.
 */
export function connectionError(
  method: string,
  url: URL,
  err: unknown,
  code: string | undefined = errorCode(err),
): GantryError {
  const own = ownError(err);
  if (own) return own;
  const name = (err as { name?: string }).name;
  if (name === 'AbortError' || name === 'TimeoutError') {
    const timedOut = name === 'TimeoutError';
    return new RegistryError(
      'REGISTRY_TIMEOUT',
      `${method} ${redactUrl(url)}: ${timedOut ? 'timed out' : 'aborted'}`,
      {
        cause: err,
        temporary: timedOut,
      },
    );
  }
  const timeout = code !== undefined && /TIMEOUT/.test(code);
  const reason = code ?? (err instanceof Error ? err.message : String(err));
  const temporary =
    timeout ||
    (code !== undefined && RETRYABLE_ERROR_CODES.has(code)) ||
    name === 'SocketError' ||
    (err as { code?: unknown }).code === 'UND_ERR_SOCKET';
  return new RegistryError(
    timeout ? 'REGISTRY_TIMEOUT' : 'REGISTRY_UNREACHABLE',
    `${method} ${redactUrl(url)}: ${timeout ? 'timed out' : 'cannot connect'} (${reason})`,
    {
      cause: err,
      temporary,
      details: { method, url: redactUrl(url), ...(code !== undefined && { errno: code }) },
    },
  );
}

/** A GantryError at the top of `err`'s cause chain (undici wraps a failed request body's error). */
export function ownError(err: unknown): GantryError | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 3 && e; depth++) {
    if (e instanceof GantryError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * An error a response body emitted while it was read (a dropped connection, an idle timeout, the
 * overall deadline), as a {@link RegistryError}; Gantry's own errors are kept as they are.
 */
export function bodyError(err: unknown, what: string): GantryError {
  const own = ownError(err);
  if (own) return own;
  const code = errorCode(err);
  const timeout = code !== undefined && /TIMEOUT/.test(code);
  const aborted = code === 'UND_ERR_ABORTED';
  const reason = code ?? (err instanceof Error ? err.message : String(err));
  return new RegistryError(
    timeout ? 'REGISTRY_TIMEOUT' : 'REGISTRY_UNREACHABLE',
    `${what}: the response broke off (${reason})`,
    {
      cause: err,
      temporary:
        !aborted &&
        (timeout || (code !== undefined && RETRYABLE_ERROR_CODES.has(code)) || isSocketError(err)),
      ...(code !== undefined && { details: { errno: code } }),
    },
  );
}

function isSocketError(err: unknown): boolean {
  return (err as { name?: unknown }).name === 'SocketError';
}
