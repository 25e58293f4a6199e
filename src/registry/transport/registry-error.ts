/**
 * Turns unsuccessful registry responses into {@link GantryError}s that keep the registry's own
 * error codes (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes).
 */
import { GantryError, escapeControl, type ErrorCode } from '../../core/index.js';
import { redactUrl } from './redact.js';

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
): GantryError {
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
  return new GantryError(code, `${subject}${method} ${redacted}: ${status}${reason ? ` ${reason}` : ''}`, {
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
