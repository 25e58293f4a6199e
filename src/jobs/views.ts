/** A stored promotion as the API shows it (`PromotionView`). */
import { isTerminal, outcomeOf, type PromotionPlan, type PromotionProgress } from '../app.js';
import type { DecisionRow, PromotionRow } from '../store/index.js';
import type { DeskDecision, PromotionView, WaitingReason } from './desk.js';

const WAITING = new Set(['requested', 'gated', 'awaiting-approval']);

/** The view of `row` with its API `decisions` (oldest first). */
export function viewOf(row: PromotionRow, decisions: readonly DecisionRow[]): PromotionView {
  const plan = row.plan as unknown as PromotionPlan;
  const progress = row.progress as unknown as PromotionProgress;
  const completed = progress.state === 'completed';
  const stopping = row.stop_request !== null && !isTerminal(progress.state);
  const waiting = WAITING.has(progress.state) ? waitingReasons(plan, progress) : [];
  return {
    id: row.id,
    kind: row.kind,
    state: progress.state,
    environment: row.to_env,
    from: row.from_env ?? plan.from,
    requestedBy: row.requester,
    requestedAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    applications: plan.applications.map((a, i) =>
      outcomeOf(plan, i, completed ? (a.unchanged ? 'unchanged' : 'completed') : 'planned', progress),
    ),
    decisions: decisions.map((d): DeskDecision => ({
      approver: d.approver,
      decision: d.decision,
      ...(d.comment !== null && { comment: d.comment }),
      time: d.created_at.toISOString(),
    })),
    ...(progress.reason !== undefined && { reason: progress.reason }),
    ...(progress.error !== undefined && { error: progress.error }),
    ...(stopping && { cancelRequested: true }),
    ...(waiting.length > 0 && { waiting }),
  };
}

/** The pending gates of a waiting promotion, per application, with their reasons. */
function waitingReasons(plan: PromotionPlan, progress: PromotionProgress): WaitingReason[] {
  return plan.applications.flatMap((a, i) =>
    (progress.gates[i] ?? a.gates)
      .filter((g) => g.status === 'pending')
      .map((g) => ({
        application: a.application,
        gate: g.gate,
        reason: g.reasons.join('; ') || 'pending',
      })),
  );
}
