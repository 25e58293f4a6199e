/**
 * Roles of API tokens and what each may do. `admin` may do everything; `ci` and `approver:<env>`
 * act on promotions (routes to come) and read; `viewer` only reads. Every role reads.
 */
import { z } from 'zod';

/** A role as written in a token: `admin`, `ci`, `viewer` or `approver:<environment>`. */
export const roleSchema = z
  .string()
  .regex(
    /^(?:admin|ci|viewer|approver:[a-z0-9][a-z0-9_-]{0,62})$/,
    'a role is admin, ci, viewer or approver:<environment>',
  );

/** What a route needs: nothing (`public`), any valid token (`read`), or an `admin` token. */
export type Access = 'public' | 'read' | 'admin';

/** True when `roles` grant `access`. */
export function grants(roles: readonly string[], access: Access): boolean {
  if (access === 'public') return true;
  if (access === 'admin') return roles.includes('admin');
  return roles.some((r) => roleSchema.safeParse(r).success);
}

/** The environment an `approver:<env>` role names, or `undefined`. */
export function approverEnvironment(role: string): string | undefined {
  return role.startsWith('approver:') ? role.slice('approver:'.length) : undefined;
}
