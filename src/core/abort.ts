/**
 * Work stopped by Gantry's own side (a server job's lost lease, a shutdown): one error code,
 * `OPERATION_ABORTED`, whatever was running when the signal fired.
 */
import { GantryError, isGantryError } from './errors.js';

/** The error for work on `what` stopped by `signal` (its reason, when it is a Gantry error, is the cause). */
export function abortedError(what: string, signal?: AbortSignal): GantryError {
  const reason: unknown = signal?.reason;
  const why = isGantryError(reason) ? `: ${reason.message}` : '';
  return new GantryError('OPERATION_ABORTED', `${what} was aborted${why}`, {
    ...(reason !== undefined && { cause: reason }),
  });
}

/** Throws `OPERATION_ABORTED` when `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw abortedError(what, signal);
}

/**
 * `err` as it should be reported when `signal` may have fired: once it has, whatever the work
 * threw on the way out (undici's abort error, a cut-off body) is `OPERATION_ABORTED`.
 */
export function unlessAborted(err: unknown, signal: AbortSignal | undefined, what: string): unknown {
  if (!signal?.aborted || isGantryError(err, 'OPERATION_ABORTED')) return err;
  return abortedError(what, signal);
}

/**
 * `work`, or `OPERATION_ABORTED` as soon as `signal` fires, whichever comes first. For work this
 * caller shares but does not own (another caller's transfer of the same blob): it goes on, and its
 * outcome is still observed, so a later failure never becomes an unhandled rejection.
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortedError(what, signal));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
