/** The promotion state machine: every (state, event) pair, legal or not, against one table. */
import { describe, expect, it } from 'vitest';
import { GantryError } from '../core/index.js';
import {
  PromotionStates,
  isTerminal,
  next,
  transition,
  type PromotionEvent,
  type PromotionState,
} from './states.js';

const events: readonly PromotionEvent[] = [
  { type: 'gates-passed' },
  { type: 'gates-pending' },
  { type: 'gates-failed', reason: 'r' },
  { type: 'approved' },
  { type: 'reject', reason: 'no' },
  { type: 'copy-started' },
  { type: 'copied' },
  { type: 'verified' },
  { type: 'fail', reason: 'boom' },
  { type: 'cancel' },
];

/** The expected machine; every pair not listed is illegal. */
const legal: Record<PromotionState, Partial<Record<PromotionEvent['type'], PromotionState>>> = {
  requested: {
    'gates-passed': 'gated',
    'gates-pending': 'gated',
    'gates-failed': 'rejected',
    reject: 'rejected',
    fail: 'failed',
    cancel: 'cancelled',
  },
  gated: {
    approved: 'approved',
    'gates-pending': 'awaiting-approval',
    'gates-failed': 'rejected',
    reject: 'rejected',
    fail: 'failed',
    cancel: 'cancelled',
  },
  'awaiting-approval': {
    approved: 'approved',
    'gates-pending': 'awaiting-approval',
    'gates-failed': 'rejected',
    reject: 'rejected',
    fail: 'failed',
    cancel: 'cancelled',
  },
  approved: { 'copy-started': 'copying', fail: 'failed', cancel: 'cancelled' },
  copying: { copied: 'verifying', fail: 'failed', cancel: 'cancelled' },
  verifying: { verified: 'completed', fail: 'failed' },
  completed: {},
  rejected: {},
  failed: {},
  cancelled: {},
};

const pairs = PromotionStates.flatMap((s) => events.map((e) => [s, e.type, e, legal[s][e.type]] as const));

describe('next(state, event)', () => {
  it.each(pairs.filter(([, , , to]) => to !== undefined))('%s --%s--> legal', (state, _t, event, to) => {
    expect(transition(state, event)).toBe(to);
    expect(next(state, event)).toBe(to);
  });

  it.each(pairs.filter(([, , , to]) => to === undefined))(
    '%s --%s--> PROMOTION_STATE_CONFLICT',
    (state, type, event) => {
      expect(transition(state, event)).toBeUndefined();
      let err: unknown;
      try {
        next(state, event);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(GantryError);
      expect((err as GantryError).code).toBe('PROMOTION_STATE_CONFLICT');
      expect((err as GantryError).details).toMatchObject({ state, event: type });
    },
  );

  it('covers every state and every event (the table above is complete)', () => {
    expect(pairs).toHaveLength(PromotionStates.length * events.length);
    expect(Object.keys(legal).sort()).toEqual([...PromotionStates].sort());
  });

  it.each(PromotionStates.map((s) => [s, Object.keys(legal[s]).length === 0] as const))(
    '%s is terminal: %s',
    (state, terminal) => {
      expect(isTerminal(state)).toBe(terminal);
    },
  );
});
