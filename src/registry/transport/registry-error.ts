/**
 * Turns unsuccessful registry responses into {@link GantryError}s that keep the registry's own
 * error codes (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes).
 */
import { GantryError, escapeControl, type ErrorCode, type ErrorDetails } from '../../core/index.js';
import { redactUrl } from './redact.js';
import { RETRYABLE_STATUS } from './retry-policy.js';

/** Options for {@link RegistryError}. */
export interface RegistryErrorOptions {
  readonly cause?: unknown;
  readonly details?: ErrorDetails;
  /** True when the same request may succeed later (see {@link RegistryError.temporary}). */
  readonly temporary: boolean;
}

/**
 * An error from talking to a registry, in the manner of go-containerregistry's
 * `transport.Error`: the code, the registry's own codes and status in `details`, and whether it is
 * {@link temporary}. That is decided once, where the error is made (a retryable status, a dropped
 * or timed-out connection, content corrupted in transit); retry code asks {@link isTemporary}
 * instead of searching cause chains. `temporary` is also kept in `details`, so an error wrapped
 * with more context (which side of a copy failed) still answers.
 */
export class RegistryError extends GantryError {
  /** True when trying again may succeed: 408/429/5xx, connection errors, timeouts, corrupted transfers. */
  readonly temporary: boolean;

  constructor(code: ErrorCode, message: string, options: RegistryErrorOptions) {
    super(code, message, {
      ...(options.cause !== undefined && { cause: options.cause }),
      details: { ...options.details, temporary: options.temporary },
    });
    this.name = 'RegistryError';
    this.temporary = options.temporary;
  }
}

/** True when `err` is (or wraps, keeping its details) an error that says trying again may help. */
export function isTemporary(err: unknown): boolean {
  return err instanceof GantryError && err.details.temporary === true;
}

/** One entry of the registry's `{"errors": [...]}` body. */
export interface RegistryErrorEntry {
  readonly code: string;
  readonly message: string;
}

/** Parses an OCI error body; returns `[]` for anything else (HTML, text, empty). */
export function parseErrorBody(body: Buffer | string): RegistryErrorEntry[] {
  try {
    const json = JSON.parse(body.toString()) as unknown;
    const errors = (json as { errors?: unknown }).errors;
    if (!Array.isArray(errors)) return [];
    return errors
      .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      .map((e) => ({
        code: typeof e.code === 'string' ? e.code : 'UNKNOWN',
        message: typeof e.message === 'string' ? e.message.slice(0, 300) : '',
      }));
  } catch {
    return [];
  }
}

const BY_REGISTRY_CODE: Readonly<Record<string, ErrorCode>> = {
  MANIFEST_UNKNOWN: 'REGISTRY_MANIFEST_UNKNOWN',
  BLOB_UNKNOWN: 'REGISTRY_BLOB_UNKNOWN',
  NAME_UNKNOWN: 'REGISTRY_NAME_UNKNOWN',
  UNAUTHORIZED: 'REGISTRY_UNAUTHORIZED',
  DENIED: 'REGISTRY_DENIED',
  TOOMANYREQUESTS: 'REGISTRY_TOO_MANY_REQUESTS',
  UNSUPPORTED: 'REGISTRY_UNSUPPORTED',
  MANIFEST_INVALID: 'REGISTRY_MANIFEST_INVALID',
  DIGEST_INVALID: 'REGISTRY_DIGEST_MISMATCH',
  SIZE_INVALID: 'REGISTRY_SIZE_MISMATCH',
};

function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'REGISTRY_UNAUTHORIZED';
  if (status === 403) return 'REGISTRY_DENIED';
  if (status === 404) return 'REGISTRY_NOT_FOUND';
  if (status === 405) return 'REGISTRY_UNSUPPORTED';
  if (status === 408) return 'REGISTRY_TIMEOUT';
  if (status === 413) return 'REGISTRY_TOO_LARGE';
  if (status === 429) return 'REGISTRY_TOO_MANY_REQUESTS';
  if (status >= 500) return 'REGISTRY_SERVER_ERROR';
  return 'REGISTRY_PROTOCOL';
}

/** Builds the error for a response with an unexpected status. */
export function responseError(
  method: string,
  url: string | URL,
  status: number,
  body: Buffer | string,
  what?: string,
): RegistryError {
  const entries = parseErrorBody(body);
  const first = entries[0];
  const code = (first && BY_REGISTRY_CODE[first.code]) ?? codeForStatus(status);
  const redacted = redactUrl(url);
  // The registry's text is untrusted: control characters are escaped before it reaches a terminal.
  const reason = first
    ? entries
        .map((e) => `${escapeControl(e.code)}${e.message ? `: ${escapeControl(e.message)}` : ''}`)
        .join('; ')
    : firstLine(body.toString());
  const subject = what ? `${what}: ` : '';
  return new RegistryError(code, `${subject}${method} ${redacted}: ${status}${reason ? ` ${reason}` : ''}`, {
    temporary: RETRYABLE_STATUS.has(status),
    details: {
      status,
      method,
      url: redacted,
      registryCodes: entries.map((e) => escapeControl(e.code)),
    },
  });
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim().length > 0) ?? '';
  const clean = line.replace(/[^\x20-\x7e]/g, '?').trim();
  return clean.length > 200 ? `${clean.slice(0, 197)}...` : clean;
}
