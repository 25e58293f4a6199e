/** `retention:`, `protected:` and `sync:` in gantry.yaml: defaults and one-line problems. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from './index.js';
import { nextCronTime } from './lifecycle.js';

const BASE = `registries:
  dev: { url: "https://dev.example.com" }
  prod: { url: "https://prod.example.com" }
environments:
  dev: { registry: dev, prefix: team }
  staging: { registry: dev, prefix: staging, from: [dev] }
  prod: { registry: prod, prefix: team, from: [staging] }
applications: [web]
`;

function parse(extra: string) {
  return parseConfig('gantry.yaml', BASE + extra);
}

describe('lifecycle configuration', () => {
  it('protects the last stage by default, and takes an explicit protected:', () => {
    const { config } = parse('');
    expect(config?.environments.get('prod')?.protected).toBe(true);
    expect(config?.environments.get('dev')?.protected).toBe(false);
    expect(config?.environments.get('staging')?.protected).toBe(false);
    const explicit = parseConfig(
      'gantry.yaml',
      BASE.replace(
        'prod: { registry: prod, prefix: team, from: [staging] }',
        'prod: { registry: prod, prefix: team, from: [staging], protected: false }',
      ).replace(
        'dev: { registry: dev, prefix: team }',
        'dev: { registry: dev, prefix: team, protected: true }',
      ),
    );
    expect(explicit.config?.environments.get('prod')?.protected).toBe(false);
    expect(explicit.config?.environments.get('dev')?.protected).toBe(true);
  });

  it('reads retention with its defaults and a schedule', () => {
    const { config, problems } = parseConfig(
      'gantry.yaml',
      BASE.replace(
        'dev: { registry: dev, prefix: team }',
        'dev: { registry: dev, prefix: team, retention: { schedule: "0 3 * * *" } }',
      ).replace(
        'staging: { registry: dev, prefix: staging, from: [dev] }',
        'staging: { registry: dev, prefix: staging, from: [dev], retention: { keep: 5, olderThan: 7d } }',
      ),
    );
    expect(problems).toEqual([]);
    expect(config?.environments.get('dev')?.retention).toEqual({
      keep: 20,
      olderThanMs: 30 * 86_400_000,
      schedule: '0 3 * * *',
    });
    expect(config?.environments.get('staging')?.retention).toEqual({ keep: 5, olderThanMs: 7 * 86_400_000 });
    expect(config?.environments.get('prod')?.retention).toBeUndefined();
  });

  it('refuses a bad schedule with a one-line problem at its key', () => {
    const { problems } = parseConfig(
      'gantry.yaml',
      BASE.replace(
        'dev: { registry: dev, prefix: team }',
        'dev: { registry: dev, prefix: team, retention: { schedule: "every day" } }',
      ),
    );
    expect(problems.map((p) => p.message)).toEqual([
      expect.stringContaining('"every day" is not a five-field cron expression'),
    ]);
    const sixty = parseConfig(
      'gantry.yaml',
      BASE.replace(
        'dev: { registry: dev, prefix: team }',
        'dev: { registry: dev, prefix: team, retention: { schedule: "61 3 * * *" } }',
      ),
    );
    expect(sixty.problems.map((p) => p.message)).toEqual([
      expect.stringContaining('"61 3 * * *" is not a valid cron expression'),
    ]);
  });

  it('reads sync jobs and checks their registries, repositories and targets', () => {
    const ok = parse(`sync:
  base:
    from: { registry: prod, repositories: [base/*, tools/curl], tags: ["1.*", latest] }
    to: [{ registry: dev }, { registry: prod, prefix: mirror }]
    schedule: "*/30 * * * *"
`);
    expect(ok.problems).toEqual([]);
    expect(ok.config?.sync?.get('base')).toEqual({
      name: 'base',
      from: { registry: 'prod', repositories: ['base/*', 'tools/curl'], tags: ['1.*', 'latest'] },
      to: [
        { registry: 'dev', prefix: '' },
        { registry: 'prod', prefix: 'mirror' },
      ],
      schedule: '*/30 * * * *',
    });
    const bad = parse(`sync:
  base:
    from: { registry: nowhere, repositories: ["Base/*"] }
    to: [{ registry: prod }, { registry: nope }]
`);
    expect(bad.problems.map((p) => p.message).sort()).toEqual([
      '"Base/*" is not a repository path, or one ending in /* or *',
      'unknown registry "nope"',
      'unknown registry "nowhere"',
    ]);
    const same = parse(`sync:
  loop:
    from: { registry: prod, repositories: [base/*] }
    to: [{ registry: prod }]
`);
    expect(same.problems.map((p) => p.message)).toEqual([
      'a sync target must differ from its source: another registry, or a prefix',
    ]);
  });

  it('computes the next run of a schedule in UTC', () => {
    expect(nextCronTime('0 3 * * *', new Date('2026-12-02T05:00:00Z'))?.toISOString()).toBe(
      '2026-12-03T03:00:00.000Z',
    );
    expect(nextCronTime('*/30 * * * *', new Date('2026-12-02T05:00:00Z'))?.toISOString()).toBe(
      '2026-12-02T05:30:00.000Z',
    );
  });
});
