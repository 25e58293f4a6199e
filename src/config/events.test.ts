import { describe, expect, it } from 'vitest';
import { formatProblem, parseConfig } from './index.js';

const file = (env: string, extra = '') => `registries:
  local: { url: "http://127.0.0.1:5000" }
environments:
  dev: { registry: local, prefix: dev }
  staging: { registry: local, prefix: dev, mode: tag, tag: staging, from: [dev] }
  prod: { registry: local, prefix: prod, from: [dev], ${env} }
applications: [web]
${extra}`;

describe('poll and events', () => {
  it('reads poll: as milliseconds and events.secretEnv', () => {
    const { config, problems } = parseConfig(
      'gantry.yaml',
      file('poll: 1m30s', 'events: { secretEnv: HOOK_SECRET }'),
    );
    expect(problems).toEqual([]);
    expect(config?.environments.get('prod')?.poll).toBe(90_000);
    expect(config?.environments.get('dev')?.poll).toBeUndefined();
    expect(config?.events).toEqual({ secretEnv: 'HOOK_SECRET' });
  });

  it.each([
    ['poll: often', 'prod.poll: "often" is not a duration'],
    ['poll: 5s', 'too often: poll at most every 10s'],
    ['poll: 500ms', 'too often'],
  ])('refuses %s', (env, message) => {
    const { config, problems } = parseConfig('gantry.yaml', file(env));
    expect(config).toBeUndefined();
    expect(problems.map(formatProblem).join('\n')).toContain(message);
  });

  it('refuses poll: on a mode: tag environment', () => {
    const text = file('').replace('tag: staging, from: [dev] }', 'tag: staging, from: [dev], poll: 1m }');
    const { problems } = parseConfig('gantry.yaml', text);
    expect(problems.map(formatProblem).join('\n')).toContain('environments.staging.poll');
  });

  it('refuses an empty events.secretEnv and unknown events keys', () => {
    expect(parseConfig('gantry.yaml', file('', "events: { secretEnv: '' }")).problems).not.toEqual([]);
    expect(parseConfig('gantry.yaml', file('', 'events: { secret: x }')).problems).not.toEqual([]);
  });
});
