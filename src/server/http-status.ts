/**
 * The one table from error codes to HTTP statuses (the server's mirror of cli/exit-codes.ts),
 * documented in docs/errors.md. Upstream failures (a registry that is down, slow or refuses
 * Gantry's own credentials) are 502/503/504, never 401/403: those two speak only about the
 * caller's API token. Anything unmapped is 500.
 */
import type { ErrorCode } from '../core/index.js';

const TABLE: Readonly<Partial<Record<ErrorCode, number>>> = Object.freeze({
  // the request itself
  API_REQUEST_INVALID: 400,
  USAGE_INVALID: 400,
  REFERENCE_INVALID: 400,
  DIGEST_INVALID: 400,
  API_UNAUTHENTICATED: 401,
  API_FORBIDDEN: 403,
  API_NOT_FOUND: 404,
  // what the request names
  PROMOTION_UNKNOWN: 404,
  ATTESTATION_MISSING: 404,
  REGISTRY_NOT_FOUND: 404,
  REGISTRY_MANIFEST_UNKNOWN: 404,
  REGISTRY_BLOB_UNKNOWN: 404,
  REGISTRY_NAME_UNKNOWN: 404,
  // refused by policy or state
  PROMOTION_NOT_ALLOWED: 409,
  PROMOTION_GATES_FAILED: 409,
  PROMOTION_ROLLBACK_REFUSED: 409,
  PROMOTION_UNRECORDED: 409,
  PROMOTION_APPROVER_UNKNOWN: 409,
  PROMOTION_SELF_APPROVAL: 403,
  PROMOTION_STATE_CONFLICT: 409,
  PROMOTION_IMMUTABLE_TAG: 409,
  PIN_CHECK_FAILED: 409,
  STORE_LEASE_LOST: 409,
  WEBHOOK_DELIVERY_PENDING: 409,
  WEBHOOK_ENDPOINT_UNKNOWN: 409,
  GC_PROTECTED: 409,
  REGISTRY_DELETE_REFUSED: 409,
  // the CLI's own codes for a server it talks to (the server never answers them)
  PROMOTION_CANCELLED: 409,
  PROMOTION_WAIT_TIMEOUT: 504,
  LIFECYCLE_WAIT_TIMEOUT: 504,
  SERVER_UNREACHABLE: 502,
  SERVER_TLS: 502,
  SERVER_PROTOCOL: 502,
  PIN_FILE_INVALID: 422,
  ATTESTATION_INVALID: 422,
  COPY_LIMIT_EXCEEDED: 422,
  // upstream registries
  REGISTRY_UNAUTHORIZED: 502,
  REGISTRY_DENIED: 502,
  REGISTRY_TLS: 502,
  REGISTRY_UNREACHABLE: 502,
  REGISTRY_UNSUPPORTED: 502,
  REGISTRY_SERVER_ERROR: 502,
  REGISTRY_PROTOCOL: 502,
  REGISTRY_DIGEST_MISMATCH: 502,
  REGISTRY_SIZE_MISMATCH: 502,
  REGISTRY_TOO_LARGE: 502,
  REGISTRY_MANIFEST_INVALID: 502,
  REGISTRY_MANIFEST_SCHEMA1: 502,
  REGISTRY_RETRY_BUDGET: 502,
  AUTH_HELPER_FAILED: 502,
  REGISTRY_TOO_MANY_REQUESTS: 503,
  REGISTRY_CONFLICT: 503,
  REGISTRY_TIMEOUT: 504,
  // the server's own store
  STORE_UNREACHABLE: 503,
  STORE_LOCKED: 503,
  // work stopped by its own side (a job's lost lease, a shutdown): retried, not failed
  OPERATION_ABORTED: 503,
  // the server's configuration or disk (500: the operator must act, not the caller)
  CONFIG_NOT_FOUND: 500,
  CONFIG_INVALID: 500,
  CREDENTIALS_INVALID: 500,
  AUTH_CONFIG_INVALID: 500,
  LOCAL_IO: 500,
  STORE_DATA_DIR: 500,
  STORE_MIGRATION_FAILED: 500,
  INTERNAL: 500,
});

/** The HTTP status for an error code (500 when the table has no entry). */
export function httpStatusFor(code: ErrorCode): number {
  return TABLE[code] ?? 500;
}

/** The codes the table maps (for the test that keeps it complete). */
export function mappedCodes(): readonly ErrorCode[] {
  return Object.keys(TABLE) as ErrorCode[];
}
