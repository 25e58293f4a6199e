/**
 * The promotion state machine (docs/decisions/0010-promotion-state-machine.md), as a pure
 * function of (state, event): `requested → gated → awaiting-approval → approved → copying →
 * verifying → completed`, or one of the ends `rejected | failed | cancelled`. The applier
 * (apply.ts) performs the work of a state and asks {@link next} where it leads; a durable job
 * runner stores the state after every step.
 */
import { GantryError } from '../core/index.js';

/** Every state of a promotion (or release). */
export const PromotionStates = [
  'requested',
  'gated',
  'awaiting-approval',
  'approved',
  'copying',
  'verifying',
  'completed',
  'rejected',
  'failed',
  'cancelled',
] as const;

/** One of {@link PromotionStates}. */
export type PromotionState = (typeof PromotionStates)[number];

/** States nothing leaves. */
export const TerminalStates: readonly PromotionState[] = ['completed', 'rejected', 'failed', 'cancelled'];

/**
 * What happens to a promotion. `gates-passed`/`gates-pending` come from evaluating the gates
 * (`gates-failed` rejects); `approved` when every gate passes (after approvals arrived or with
 * none needed); `reject` and `cancel` come from people; `copy-started`, `copied` and `verified`
 * from the applier; `fail` from any step that failed.
 */
export type PromotionEvent =
  | { readonly type: 'gates-passed' }
  | { readonly type: 'gates-pending' }
  | { readonly type: 'gates-failed'; readonly reason: string }
  | { readonly type: 'approved' }
  | { readonly type: 'reject'; readonly reason: string }
  | { readonly type: 'copy-started' }
  | { readonly type: 'copied' }
  | { readonly type: 'verified' }
  | { readonly type: 'fail'; readonly reason: string }
  | { readonly type: 'cancel'; readonly reason?: string };

/** The type of a {@link PromotionEvent}. */
export type PromotionEventType = PromotionEvent['type'];

/** Before content is copied a promotion can be cancelled without undoing anything. */
const BEFORE_COPY: readonly PromotionState[] = ['requested', 'gated', 'awaiting-approval', 'approved'];

/** The legal transitions: state → event type → next state. */
const TABLE: Readonly<Record<PromotionState, Partial<Record<PromotionEventType, PromotionState>>>> = {
  requested: { 'gates-passed': 'gated', 'gates-pending': 'gated', 'gates-failed': 'rejected' },
  gated: { approved: 'approved', 'gates-pending': 'awaiting-approval', 'gates-failed': 'rejected' },
  'awaiting-approval': {
    approved: 'approved',
    'gates-pending': 'awaiting-approval',
    'gates-failed': 'rejected',
  },
  approved: { 'copy-started': 'copying' },
  copying: { copied: 'verifying' },
  verifying: { verified: 'completed' },
  completed: {},
  rejected: {},
  failed: {},
  cancelled: {},
};

/** The state `event` leads to from `state`, or `undefined` when it is not a legal transition. */
export function transition(state: PromotionState, event: PromotionEvent): PromotionState | undefined {
  if (TerminalStates.includes(state)) return undefined;
  switch (event.type) {
    case 'fail':
      return 'failed';
    case 'cancel':
      // Tags are written while verifying: from there the promotion runs to its end (or fails and
      // undoes its tags), so an environment never shows half of it.
      return BEFORE_COPY.includes(state) || state === 'copying' ? 'cancelled' : undefined;
    case 'reject':
      return BEFORE_COPY.includes(state) && state !== 'approved' ? 'rejected' : undefined;
    default:
      return TABLE[state][event.type];
  }
}

/**
 * The state `event` leads to from `state`; `PROMOTION_STATE_CONFLICT` when the event is not
 * allowed there (approving a completed promotion, cancelling a failed one).
 */
export function next(state: PromotionState, event: PromotionEvent): PromotionState {
  const to = transition(state, event);
  if (to === undefined) {
    throw new GantryError(
      'PROMOTION_STATE_CONFLICT',
      `a promotion that is ${state} cannot take "${event.type}"`,
      { details: { state, event: event.type } },
    );
  }
  return to;
}

/** True when nothing leaves `state`. */
export function isTerminal(state: PromotionState): boolean {
  return TerminalStates.includes(state);
}
