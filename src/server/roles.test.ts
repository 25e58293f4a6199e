import { describe, expect, it } from 'vitest';
import { grants, mayApprove, roleSchema } from './roles.js';

describe('roles', () => {
  it.each(['admin', 'ci', 'deployer', 'viewer', 'registry', 'approver:prod', 'approver:team-a_1'])(
    'accepts %s',
    (role) => {
      expect(roleSchema.safeParse(role).success).toBe(true);
    },
  );

  it.each(['', 'root', 'Admin', 'approver:', 'approver:Prod', 'approver:a b', 'viewer '])(
    'refuses %j',
    (role) => {
      expect(roleSchema.safeParse(role).success).toBe(false);
    },
  );

  it.each([
    [['admin'], 'admin', true],
    [['ci'], 'admin', false],
    [['viewer'], 'read', true],
    [['approver:prod'], 'read', true],
    [[], 'read', false],
    [['bogus'], 'read', false],
    [[], 'public', true],
    [['admin'], 'promote', true],
    [['ci'], 'promote', true],
    [['viewer'], 'promote', false],
    [['approver:prod'], 'promote', false],
    [['admin'], 'approve', true],
    [['approver:prod'], 'approve', true],
    [['ci'], 'approve', false],
    [['viewer'], 'approve', false],
    [['approver:'], 'approve', false],
    [['ci', 'viewer'], 'admin', false],
    [['registry'], 'notify', true],
    [['ci'], 'notify', true],
    [['admin'], 'notify', true],
    [['viewer'], 'notify', false],
    [['approver:prod'], 'notify', false],
    [['registry'], 'promote', false],
    [['registry'], 'read', true],
    [['admin'], 'deploy', true],
    [['ci'], 'deploy', true],
    [['deployer'], 'deploy', true],
    [['deployer'], 'promote', false],
    [['deployer'], 'read', true],
    [['viewer'], 'deploy', false],
    [['approver:prod'], 'deploy', false],
  ] as const)('%j grants %s: %s', (roles, access, expected) => {
    expect(grants(roles, access)).toBe(expected);
  });

  it.each([
    [['admin'], 'prod', true],
    [['approver:prod'], 'prod', true],
    [['approver:staging'], 'prod', false],
    [['approver:staging', 'approver:prod'], 'prod', true],
    [['ci'], 'prod', false],
    [['approver:Prod'], 'Prod', false],
    [[], 'prod', false],
  ] as const)('%j may approve promotions to %s: %s', (roles, env, expected) => {
    expect(mayApprove(roles, env)).toBe(expected);
  });
});
