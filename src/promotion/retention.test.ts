/** planRetention: each never-delete rule, and the order deletions happen in. */
import { describe, expect, it } from 'vitest';
import type { Digest } from '../core/index.js';
import { planRetention, type RetentionNode, type RetentionPolicy } from './retention.js';

const DAY = 86_400_000;
const NOW = new Date('2026-06-01T00:00:00Z');
const d = (c: string): Digest => `sha256:${c.repeat(64)}` as Digest;

/** A tagged, unpromoted image `days` old. */
function node(c: string, days: number | undefined, extra: Partial<RetentionNode> = {}): RetentionNode {
  return {
    digest: d(c),
    tags: [`t-${c}`],
    ...(days !== undefined && { createdMs: NOW.getTime() - days * DAY }),
    children: [],
    referrers: [],
    promoted: false,
    recorded: false,
    current: false,
    ...extra,
  };
}

function plan(nodes: readonly RetentionNode[], policy: Partial<RetentionPolicy> = {}) {
  return planRetention(new Map(nodes.map((n) => [n.digest, n])), {
    keep: 1,
    olderThanMs: 30 * DAY,
    now: NOW,
    immutable: [],
    keepDigests: new Set(),
    ...policy,
  });
}

// The newest image ('0', 1 day old) fills keep: 1; every case puts its subject 'a' beyond it.
const newest = node('0', 1);

describe('planRetention never deletes', () => {
  it.each([
    ['a digest another environment holds', node('a', 90, { promoted: true }), {}, 'promoted'],
    ['a digest with a promotion record', node('a', 90, { recorded: true }), {}, 'rollback-window'],
    ['what the environment runs now', node('a', 90, { current: true }), {}, 'rollback-window'],
    [
      'an immutable-tagged digest',
      node('a', 90, { tags: ['1.0.0'] }),
      { immutable: [/^\d+\.\d+\.\d+$/] },
      'immutable-tag',
    ],
    ['a deployed digest', node('a', 90), { keepDigests: new Set([d('a')]) }, 'deployed'],
    ['an image younger than the limit', node('a', 10), {}, 'too-young'],
    ['an image of unknown age', node('a', undefined), {}, 'too-young'],
  ] as const)('%s', (_name, subject, policy, reason) => {
    const p = plan([newest, subject], policy);
    expect(p.deletions).toEqual([]);
    expect(p.kept.get(d('a'))).toBe(reason);
  });

  it('the newest N, whatever their age', () => {
    const p = plan([node('a', 90), node('b', 80), node('c', 70)], { keep: 2 });
    expect(p.kept.get(d('c'))).toBe('newest');
    expect(p.kept.get(d('b'))).toBe('newest');
    expect(p.deletions.map((x) => x.digest)).toEqual([d('a')]);
    expect(p.deletions[0]?.reason).toBe('never promoted, 90d old, beyond the newest 2');
  });

  it('a child of a kept index, even when it is an old tagged candidate itself', () => {
    const index = node('i', 90, { promoted: true, children: [d('c')] });
    const p = plan([newest, index, node('c', 90)]);
    expect(p.kept.get(d('c'))).toBe('index-child');
    expect(p.deletions).toEqual([]);
  });

  it('a referrer of a kept image, tagged or not', () => {
    const kept = node('a', 90, { promoted: true, referrers: [d('s')] });
    const sig = node('s', 90, { tags: [], subject: d('a') });
    const tagged = node('t', 90, { subject: d('a') });
    const p = plan([newest, kept, sig, tagged]);
    expect(p.kept.get(d('s'))).toBe('referrer');
    expect(p.kept.get(d('t'))).toBe('referrer');
    expect(p.deletions).toEqual([]);
  });

  it('the subject of a referrer kept for its own reason', () => {
    const sig = node('s', 90, { tags: ['sig-1.0.0'], subject: d('a') });
    const p = plan([newest, node('a', 90, { referrers: [d('s')] }), sig], { immutable: [/^sig-/] });
    expect(p.kept.get(d('a'))).toBe('referrer');
    expect(p.deletions).toEqual([]);
  });

  it('a child another kept index shares with a deleted one', () => {
    const old = node('o', 90, { children: [d('x'), d('y')] });
    const keptIndex = node('k', 90, { recorded: true, children: [d('y')] });
    const child = (c: string) => node(c, 90, { tags: [] });
    const p = plan([newest, old, keptIndex, child('x'), child('y')]);
    expect(p.deletions.map((x) => x.digest)).toEqual([d('o'), d('x')]);
    expect(p.kept.get(d('y'))).toBe('index-child');
  });
});

describe('planRetention deletes', () => {
  it('a candidate with its referrers first, then the index, then its children', () => {
    const index = node('i', 90, { children: [d('c'), d('e')], referrers: [d('s')] });
    const sig = node('s', 90, { tags: [], subject: d('i'), referrers: [d('n')] });
    const nested = node('n', 90, { tags: [], subject: d('s') });
    const childSig = node('f', 90, { tags: [], subject: d('c') });
    const p = plan([
      newest,
      index,
      sig,
      nested,
      node('c', 90, { tags: [], referrers: [d('f')] }),
      childSig,
      node('e', 90, { tags: [] }),
    ]);
    expect(p.deletions.map((x) => x.digest)).toEqual([d('n'), d('s'), d('i'), d('f'), d('c'), d('e')]);
    expect(p.deletions.find((x) => x.digest === d('c'))?.reason).toBe(`child of index ${d('i')}`);
    expect(p.deletions.find((x) => x.digest === d('s'))?.reason).toBe(`referrer of ${d('i')}`);
    expect(p.deletions.find((x) => x.digest === d('i'))?.tags).toEqual(['t-i']);
  });

  it('nothing that was not read (a child the registry no longer has)', () => {
    const p = plan([newest, node('i', 90, { children: [d('c'), d('m')] }), node('c', 90, { tags: [] })]);
    expect(p.deletions.map((x) => x.digest)).toEqual([d('i'), d('c')]);
  });

  it('a tagged referrer of a deleted candidate the referrer list missed', () => {
    const p = plan([newest, node('a', 90), node('t', 90, { subject: d('a') })]);
    expect(p.deletions.map((x) => x.digest)).toEqual([d('t'), d('a')]);
  });
});
