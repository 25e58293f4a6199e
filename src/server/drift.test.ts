import { describe, expect, it } from 'vitest';
import type { EnvironmentState } from '../app.js';
import type { CurrentDeployment } from '../store/index.js';
import { driftOf, withTargets } from './drift.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;

const cell = (over: Partial<EnvironmentState> = {}): EnvironmentState =>
  ({
    environment: 'prod',
    application: 'web',
    repository: 'r/prod/web',
    state: 'present',
    digest: A,
    ...over,
  }) as EnvironmentState;

const deployment = (over: Partial<CurrentDeployment> = {}): CurrentDeployment => ({
  id: 1,
  environment: 'prod',
  app: 'web',
  target: 'cluster-a',
  digest: A,
  reportedBy: 'argo (tok_0123456789abcdef)',
  reportedAt: new Date(Date.UTC(2026, 5, 1)),
  promoted: true,
  ...over,
});

describe('drift', () => {
  it.each([
    ['the current digest', cell(), deployment(), undefined],
    [
      'the current digest, even if the store has no promotion of it',
      cell(),
      deployment({ promoted: false }),
      undefined,
    ],
    ['another digest promoted there before', cell(), deployment({ digest: B }), 'behind'],
    ['another digest never promoted there', cell(), deployment({ digest: B, promoted: false }), 'unpromoted'],
    [
      'anything while the environment holds nothing, never promoted',
      cell({ state: 'absent', digest: undefined }),
      deployment({ promoted: false }),
      'unpromoted',
    ],
    [
      'anything while the registry cannot be read',
      cell({ state: 'unknown', digest: undefined }),
      deployment({ digest: B, promoted: false }),
      undefined,
    ],
  ] as const)('%s → %s', (_what, c, d, expected) => {
    expect(driftOf(c, d)).toBe(expected);
  });

  it('gives every cell its own targets (an empty list without reports), newest report per target', () => {
    const cells = [
      cell(),
      cell({ application: 'api', repository: 'r/prod/api' }),
      cell({ environment: 'dev' }),
    ];
    const merged = withTargets(cells, [
      deployment(),
      deployment({ target: 'cluster-b', digest: B, promoted: false }),
      deployment({ environment: 'dev', target: 'dev-1', digest: B }),
    ]);
    expect(
      merged.map((c) => [c.environment, c.application, c.targets.map((t) => [t.target, t.drift ?? '-'])]),
    ).toEqual([
      [
        'prod',
        'web',
        [
          ['cluster-a', '-'],
          ['cluster-b', 'unpromoted'],
        ],
      ],
      ['prod', 'api', []],
      ['dev', 'web', [['dev-1', 'behind']]],
    ]);
    expect(merged[0]?.targets[0]).toEqual({
      target: 'cluster-a',
      digest: A,
      reportedAt: '2026-06-01T00:00:00.000Z',
      reportedBy: 'argo (tok_0123456789abcdef)',
    });
  });
});
