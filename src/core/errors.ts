/**
 * Every error Gantry throws on purpose is a {@link GantryError} with a stable, prefixed `code`.
 * Callers branch on the code, never on the message. The CLI and the server each map codes to
 * exit codes / HTTP statuses in exactly one table (see docs/errors.md).
 */
import { escapeControl } from './escape.js';

/** Stable error codes. Add new ones here and to docs/errors.md. */
export const ErrorCodes = [
  // usage / input
  'USAGE_INVALID',
  'REFERENCE_INVALID',
  'DIGEST_INVALID',
  'CREDENTIALS_INVALID',
  // registry protocol
  'REGISTRY_UNREACHABLE',
  'REGISTRY_TLS',
  'REGISTRY_UNAUTHORIZED',
  'REGISTRY_DENIED',
  'REGISTRY_NOT_FOUND',
  'REGISTRY_MANIFEST_UNKNOWN',
  'REGISTRY_BLOB_UNKNOWN',
  'REGISTRY_NAME_UNKNOWN',
  'REGISTRY_UNSUPPORTED',
  'REGISTRY_TOO_MANY_REQUESTS',
  'REGISTRY_SERVER_ERROR',
  'REGISTRY_PROTOCOL',
  'REGISTRY_DIGEST_MISMATCH',
  'REGISTRY_SIZE_MISMATCH',
  'REGISTRY_TOO_LARGE',
  'REGISTRY_MANIFEST_INVALID',
  'REGISTRY_MANIFEST_SCHEMA1',
  'REGISTRY_TIMEOUT',
  'REGISTRY_RETRY_BUDGET',
  'REGISTRY_CONFLICT',
  'REGISTRY_DELETE_REFUSED',
  // local auth configuration
  'AUTH_CONFIG_INVALID',
  'AUTH_HELPER_FAILED',
  // configuration
  'CONFIG_NOT_FOUND',
  'CONFIG_INVALID',
  // promotion
  'PROMOTION_NOT_ALLOWED',
  'PROMOTION_IMMUTABLE_TAG',
  'PROMOTION_GATES_FAILED',
  'PROMOTION_ROLLBACK_REFUSED',
  'PROMOTION_UNKNOWN',
  'PROMOTION_UNRECORDED',
  'PROMOTION_APPROVER_UNKNOWN',
  'PROMOTION_SELF_APPROVAL',
  'PROMOTION_STATE_CONFLICT',
  'PROMOTION_CANCELLED',
  'PROMOTION_WAIT_TIMEOUT',
  // lifecycle (gantry gc)
  'GC_PROTECTED',
  'LIFECYCLE_WAIT_TIMEOUT',
  'ATTESTATION_INVALID',
  'ATTESTATION_MISSING',
  // pinning deployment files
  'PIN_CHECK_FAILED',
  'PIN_FILE_INVALID',
  // copy
  'COPY_LIMIT_EXCEEDED',
  // local files (OCI layouts, auth files)
  'LOCAL_IO',
  // store (PGlite data dir or PostgreSQL)
  'STORE_LOCKED',
  'STORE_DATA_DIR',
  'STORE_UNREACHABLE',
  'STORE_MIGRATION_FAILED',
  'STORE_LEASE_LOST',
  // HTTP API (gantry serve)
  'API_REQUEST_INVALID',
  'API_UNAUTHENTICATED',
  'API_FORBIDDEN',
  'API_NOT_FOUND',
  // outbound webhooks (gantry serve)
  'WEBHOOK_DELIVERY_PENDING',
  'WEBHOOK_ENDPOINT_UNKNOWN',
  // the CLI talking to a server (--server, GANTRY_SERVER)
  'SERVER_UNREACHABLE',
  'SERVER_TLS',
  'SERVER_PROTOCOL',
  // generic
  'OPERATION_ABORTED',
  'INTERNAL',
] as const;

/** One of {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[number];

/** Structured details that are safe to print (no secrets). */
export type ErrorDetails = Readonly<
  Record<string, string | number | boolean | readonly string[] | undefined>
>;

/**
 * Marks every {@link GantryError}, whichever copy of this module made it: `gantry serve` runs from
 * a bundle of its own (scripts/build.mjs), and its errors must still be Gantry errors to the CLI
 * that prints them. `Symbol.for` gives both copies the same key.
 */
const BRAND = Symbol.for('dev.gantry.error');

/** The one error type Gantry throws on purpose. */
export class GantryError extends Error {
  /**
   * `instanceof GantryError` holds for errors made by any copy of this class (by its brand);
   * subclasses keep the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== GantryError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** Extra facts that are safe to show (redacted URL, status, digest, …). */
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    // One line, always: a message may quote what a registry, a file or a request said (a media
    // type holding "\r\nX-Injected: 1"), and a log line or a terminal must not be split or driven by it.
    super(escapeControl(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GantryError';
    Object.defineProperty(this, BRAND, { value: true });
    this.code = code;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }
}

/** True when `err` is a {@link GantryError}, optionally with one of the given codes. */
export function isGantryError(err: unknown, ...codes: ErrorCode[]): err is GantryError {
  return err instanceof GantryError && (codes.length === 0 || codes.includes(err.code));
}

/** Wraps anything thrown into a {@link GantryError} (unknown errors become `INTERNAL`). */
export function toGantryError(err: unknown): GantryError {
  if (err instanceof GantryError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new GantryError('INTERNAL', message, { cause: err });
}
