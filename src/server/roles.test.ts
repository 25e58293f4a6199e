import { describe, expect, it } from 'vitest';
import { grants, roleSchema } from './roles.js';

describe('roles', () => {
  it.each(['admin', 'ci', 'viewer', 'approver:prod', 'approver:team-a_1'])('accepts %s', (role) => {
    expect(roleSchema.safeParse(role).success).toBe(true);
  });

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
  ] as const)('%j grants %s: %s', (roles, access, expected) => {
    expect(grants(roles, access)).toBe(expected);
  });
});
