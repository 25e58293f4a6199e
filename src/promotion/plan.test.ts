import { describe, expect, it } from 'vitest';
import { digestOf, type Digest } from '../core/index.js';
import type { EnvironmentConfig } from '../config/index.js';
import { planTags } from './plan.js';

const A = digestOf('a');
const B = digestOf('b');
const env = (over: Partial<EnvironmentConfig> = {}): EnvironmentConfig => ({
  name: 'prod',
  registry: { name: 'prod', host: 'prod.example.com', scheme: 'https', tlsVerify: true },
  prefix: 'team',
  mode: 'copy',
  from: ['staging'],
  immutable: [/^\d+\.\d+\.\d+$/],
  floating: ['latest', 'prod'],
  gates: [],
  auto: false,
  allowOverride: false,
  protected: false,
  ...over,
});

describe('planTags', () => {
  it.each<
    [string, EnvironmentConfig, string | undefined, Record<string, Digest | undefined>, string[], string[]]
  >([
    [
      'fresh target: version, revision, floating',
      env(),
      '1.0.0',
      {},
      ['1.0.0', 'r'.repeat(40), 'latest', 'prod'],
      [],
    ],
    [
      're-run: nothing to change',
      env(),
      '1.0.0',
      { '1.0.0': A, ['r'.repeat(40)]: A, latest: A, prod: A },
      [],
      [],
    ],
    [
      'floating tags move from B',
      env(),
      '1.0.0',
      { latest: B, prod: B },
      ['1.0.0', 'r'.repeat(40), 'latest', 'prod'],
      [],
    ],
    [
      'immutable version elsewhere is a conflict',
      env(),
      '1.0.0',
      { '1.0.0': B },
      ['r'.repeat(40), 'latest', 'prod'],
      ['1.0.0'],
    ],
    [
      'tag mode moves only its tag',
      env({ mode: 'tag', tag: 'staging', floating: ['staging'] }),
      '1.0.0',
      {},
      ['staging'],
      [],
    ],
    ['no version known', env(), undefined, {}, ['r'.repeat(40), 'latest', 'prod'], []],
  ])('%s', (_name, target, version, current, changes, conflicts) => {
    const plan = planTags({
      target,
      digest: A,
      ...(version && { version }),
      revision: 'r'.repeat(40),
      current: new Map(Object.entries(current)),
    });
    expect(plan.changes.map((c) => c.tag)).toEqual(changes);
    expect(plan.conflicts.map((c) => c.tag)).toEqual(conflicts);
    for (const c of plan.conflicts) expect(c).toMatchObject({ current: B, wanted: A });
  });
});
