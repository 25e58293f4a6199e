/**
 * Approvals given through the API, as an approval source of the approval gate: every approval
 * recorded for the application's digest into the environment, on a promotion that was not
 * rejected, cancelled or failed. The gate applies its rules (never the requester, groups,
 * expiry) to them as to signed referrer approvals, and the attestation records those that count.
 */
import type { Kysely } from 'kysely';
import { storedFact, type ApprovalSource } from '../app.js';
import { Promotions, type StoreDatabase } from '../store/index.js';

/**
 * The store's approvals. `db` is called at each evaluation (the server builds its apps before
 * the store is open); evaluations run outside transactions, so it is the store itself.
 */
export function storeApprovals(db: () => Kysely<StoreDatabase>): ApprovalSource {
  return {
    async approvals(subject) {
      const rows = await new Promotions(db()).approvalsOf(
        subject.application,
        subject.environment,
        subject.digest,
      );
      return rows.map((r) =>
        storedFact({
          approver: r.approver,
          groups: r.groups,
          application: subject.application,
          environment: subject.environment,
          digest: subject.digest,
          time: r.time.toISOString(),
          ...(r.comment !== undefined && { comment: r.comment }),
        }),
      );
    },
  };
}
