/**
 * Roles of API tokens and what each may do. `admin` may do everything; `ci` requests promotions,
 * releases, rollbacks and cancellations, and may report registry pushes; `approver:<env>` approves
 * and rejects promotions to `<env>`; `registry` only reports pushes (`POST /api/v1/registry-events`,
 * the token a registry's notification endpoint sends); `deployer` reports deployments (what runs
 * where); `viewer` only reads. Every role reads.
 */
import { z } from 'zod';

/** A role as written in a token: `admin`, `ci`, `deployer`, `viewer`, `registry` or `approver:<environment>`. */
export const roleSchema = z
  .string()
  .regex(
    /^(?:admin|ci|deployer|viewer|registry|approver:[a-z0-9][a-z0-9_-]{0,62})$/,
    'a role is admin, ci, deployer, viewer, registry or approver:<environment>',
  );

/**
 * What a route needs: nothing (`public`), any valid token (`read`), `admin` or `ci` (`promote`:
 * promotions, releases, rollbacks, cancellations), `admin` or an `approver:<env>` role (`approve`;
 * the route then checks `<env>` against the promotion's target with {@link mayApprove}), `admin`,
 * `ci` or `registry` (`notify`: registry notifications, which may instead carry an HMAC of their
 * body that the route checks), `ci` or `deployer` (`deploy`: deployment reports), or `admin`.
 */
export type Access = 'public' | 'read' | 'promote' | 'approve' | 'notify' | 'deploy' | 'admin';

/** Every access level, for the OpenAPI document and tests. */
export const ACCESS_LEVELS: readonly Access[] = Object.freeze([
  'public',
  'read',
  'promote',
  'approve',
  'notify',
  'deploy',
  'admin',
]);

/** True when `roles` grant `access`. */
export function grants(roles: readonly string[], access: Access): boolean {
  const valid = roles.filter((r) => roleSchema.safeParse(r).success);
  switch (access) {
    case 'public':
      return true;
    case 'read':
      return valid.length > 0;
    case 'promote':
      return valid.includes('admin') || valid.includes('ci');
    case 'approve':
      return valid.some((r) => r === 'admin' || approverEnvironment(r) !== undefined);
    case 'notify':
      return valid.includes('admin') || valid.includes('ci') || valid.includes('registry');
    case 'deploy':
      return valid.some((r) => r === 'admin' || r === 'ci' || r === 'deployer');
    case 'admin':
      return valid.includes('admin');
  }
}

/** True when `roles` may approve or reject a promotion to `environment`. */
export function mayApprove(roles: readonly string[], environment: string): boolean {
  return roles.some(
    (r) => roleSchema.safeParse(r).success && (r === 'admin' || approverEnvironment(r) === environment),
  );
}

/** The environment an `approver:<env>` role names, or `undefined`. */
export function approverEnvironment(role: string): string | undefined {
  return role.startsWith('approver:') ? role.slice('approver:'.length) : undefined;
}
