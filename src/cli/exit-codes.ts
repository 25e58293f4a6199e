/**
 * The one table from error codes to process exit codes. Documented in docs/errors.md; these
 * numbers are a stable contract for CI pipelines.
 */
import type { ErrorCode } from '../core/index.js';

/** Exit codes Gantry uses. */
export const ExitCode = Object.freeze({
  ok: 0,
  error: 1,
  usage: 2,
  refused: 3,
  immutable: 4,
  notFound: 5,
  auth: 6,
  tls: 7,
  integrity: 8,
  unreachable: 9,
  pending: 10,
  /** The work was aborted (interrupted, or its job lost its lease): 128 + SIGINT, as shells report it. */
  aborted: 130,
});

const TABLE: Readonly<Partial<Record<ErrorCode, number>>> = Object.freeze({
  USAGE_INVALID: ExitCode.usage,
  REFERENCE_INVALID: ExitCode.usage,
  DIGEST_INVALID: ExitCode.usage,
  CREDENTIALS_INVALID: ExitCode.usage,
  CONFIG_NOT_FOUND: ExitCode.usage,
  CONFIG_INVALID: ExitCode.usage,
  PROMOTION_UNKNOWN: ExitCode.usage,
  PROMOTION_NOT_ALLOWED: ExitCode.refused,
  PROMOTION_GATES_FAILED: ExitCode.refused,
  PROMOTION_ROLLBACK_REFUSED: ExitCode.refused,
  PROMOTION_UNRECORDED: ExitCode.refused,
  PROMOTION_APPROVER_UNKNOWN: ExitCode.refused,
  PROMOTION_SELF_APPROVAL: ExitCode.refused,
  PROMOTION_STATE_CONFLICT: ExitCode.refused,
  WEBHOOK_DELIVERY_PENDING: ExitCode.refused,
  WEBHOOK_ENDPOINT_UNKNOWN: ExitCode.refused,
  PROMOTION_IMMUTABLE_TAG: ExitCode.immutable,
  GC_PROTECTED: ExitCode.refused,
  REGISTRY_DELETE_REFUSED: ExitCode.refused,
  PIN_CHECK_FAILED: ExitCode.refused,
  PIN_FILE_INVALID: ExitCode.usage,
  ATTESTATION_MISSING: ExitCode.notFound,
  ATTESTATION_INVALID: ExitCode.integrity,
  REGISTRY_NOT_FOUND: ExitCode.notFound,
  REGISTRY_MANIFEST_UNKNOWN: ExitCode.notFound,
  REGISTRY_BLOB_UNKNOWN: ExitCode.notFound,
  REGISTRY_NAME_UNKNOWN: ExitCode.notFound,
  REGISTRY_UNAUTHORIZED: ExitCode.auth,
  REGISTRY_DENIED: ExitCode.auth,
  AUTH_CONFIG_INVALID: ExitCode.auth,
  AUTH_HELPER_FAILED: ExitCode.auth,
  REGISTRY_TLS: ExitCode.tls,
  REGISTRY_DIGEST_MISMATCH: ExitCode.integrity,
  REGISTRY_SIZE_MISMATCH: ExitCode.integrity,
  REGISTRY_UNREACHABLE: ExitCode.unreachable,
  REGISTRY_TIMEOUT: ExitCode.unreachable,
  API_REQUEST_INVALID: ExitCode.usage,
  API_UNAUTHENTICATED: ExitCode.auth,
  API_FORBIDDEN: ExitCode.auth,
  API_NOT_FOUND: ExitCode.notFound,
  PROMOTION_CANCELLED: ExitCode.refused,
  PROMOTION_WAIT_TIMEOUT: ExitCode.pending,
  LIFECYCLE_WAIT_TIMEOUT: ExitCode.pending,
  SERVER_UNREACHABLE: ExitCode.unreachable,
  SERVER_TLS: ExitCode.tls,
  OPERATION_ABORTED: ExitCode.aborted,
});

/** The exit code for an error code (1 when the table has no entry). */
export function exitCodeFor(code: ErrorCode): number {
  return TABLE[code] ?? ExitCode.error;
}
