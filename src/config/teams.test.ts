import { describe, expect, it } from 'vitest';
import { parseConfig } from './index.js';

const BASE = `registries:
  dev: { url: "http://127.0.0.1:5000" }
environments:
  dev: { registry: dev }
applications: [web, api, worker]
`;

describe('teams', () => {
  it('maps teams to their applications', () => {
    const { config, problems } = parseConfig(
      'gantry.yaml',
      `${BASE}teams:\n  payments: [web, api]\n  ops: [worker]\n`,
    );
    expect(problems).toEqual([]);
    expect(Object.fromEntries(config!.teams!)).toEqual({ payments: ['web', 'api'], ops: ['worker'] });
  });

  it('is empty when the file has no teams', () => {
    expect(parseConfig('gantry.yaml', BASE).config!.teams!.size).toBe(0);
  });

  it('refuses an application that is not configured, naming the key', () => {
    const { problems } = parseConfig('gantry.yaml', `${BASE}teams:\n  payments: [web, billing]\n`);
    expect(problems.map((p) => [p.path, p.message])).toEqual([
      ['teams.payments[1]', 'application "billing" is not in applications'],
    ]);
  });

  it('refuses a team name that is not a valid name', () => {
    const { problems } = parseConfig('gantry.yaml', `${BASE}teams:\n  Pay Ments: [web]\n`);
    expect(problems[0]?.path).toBe('teams.Pay Ments');
  });
});
