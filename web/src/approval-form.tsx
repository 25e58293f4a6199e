/**
 * Approve or reject a promotion awaiting approval, with a comment (a rejection needs one as its
 * reason). The buttons stay visible but disabled, with the reason next to them, for a caller who
 * may not decide: the requester (no self-approval) or a caller without `approver:<env>`.
 */
import { useSignal } from '@preact/signals';
import { api, ApiError } from './api';
import type { Promotion, Session } from './api-types';
import { ErrorNote } from './components';
import { remember } from './live';

/** The name part of an actor string `<token name> (<token id>)`. */
export function actorName(actor: string): string {
  return actor.replace(/ \([^()]*\)$/, '');
}

/** True when `session` requested `promotion` (the server compares token names the same way). */
export function requestedBy(promotion: Promotion, session: Session): boolean {
  return (
    promotion.requestedBy === session.actor ||
    actorName(promotion.requestedBy).trim().toLowerCase() === session.identity.trim().toLowerCase()
  );
}

/** Why `session` may not approve `promotion`, or undefined when it may. */
export function whyNotApprove(promotion: Promotion, session: Session): string | undefined {
  if (requestedBy(promotion, session)) return 'You requested this promotion; someone else must approve it.';
  if (!session.may.approve.includes(promotion.environment))
    return `Needs the approver:${promotion.environment} role.`;
  return undefined;
}

/** The approve / reject form of one promotion. */
export function ApprovalForm({
  promotion,
  session,
  onDecided,
}: {
  promotion: Promotion;
  session: Session;
  onDecided?: (view: Promotion) => void;
}) {
  const comment = useSignal('');
  const error = useSignal<unknown>(undefined);
  const missingReason = useSignal(false);
  const busy = useSignal(false);
  const id = promotion.id;
  const why = whyNotApprove(promotion, session);
  const mayReject = session.may.approve.includes(promotion.environment);
  const decide = async (kind: 'approve' | 'reject') => {
    const text = comment.value.trim();
    missingReason.value = kind === 'reject' && text === '';
    if (missingReason.value) {
      error.value = 'Give a reason to reject this promotion.';
      return;
    }
    busy.value = true;
    error.value = undefined;
    try {
      const view =
        kind === 'approve'
          ? await api<Promotion>(
              'POST',
              `/api/v1/promotions/${encodeURIComponent(id)}/approvals`,
              text ? { comment: text } : {},
            )
          : await api<Promotion>('POST', `/api/v1/promotions/${encodeURIComponent(id)}/rejections`, {
              reason: text,
            });
      remember(view);
      comment.value = '';
      onDecided?.(view);
    } catch (e) {
      error.value = e instanceof ApiError ? e : new Error(String(e));
    } finally {
      busy.value = false;
    }
  };
  const whyId = `why-${id}`;
  const errorId = `decide-error-${id}`;
  return (
    <form class="decide" onSubmit={(e) => e.preventDefault()} aria-label={`Decide on promotion ${id}`}>
      <div class="field">
        <label for={`comment-${id}`}>Comment (the reason, to reject)</label>
        <textarea
          id={`comment-${id}`}
          rows={2}
          maxLength={2000}
          value={comment.value}
          disabled={!mayReject && why !== undefined}
          aria-invalid={missingReason.value ? 'true' : undefined}
          aria-describedby={error.value ? errorId : undefined}
          onInput={(e) => (comment.value = e.currentTarget.value)}
        />
      </div>
      <div class="actions">
        <button
          type="button"
          class="primary"
          disabled={busy.value || why !== undefined}
          aria-describedby={why ? whyId : undefined}
          onClick={() => void decide('approve')}
        >
          Approve
        </button>
        <button
          type="button"
          class="danger"
          disabled={busy.value || !mayReject}
          aria-describedby={!mayReject ? whyId : undefined}
          onClick={() => void decide('reject')}
        >
          Reject
        </button>
        {why && (
          <span id={whyId} class="why">
            {why}
          </span>
        )}
      </div>
      {error.value !== undefined && (
        <div id={errorId}>
          <ErrorNote error={error.value} />
        </div>
      )}
    </form>
  );
}
