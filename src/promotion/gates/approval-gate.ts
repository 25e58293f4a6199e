/**
 * `approval`: N distinct approvers, at least one from each listed group, never the requester,
 * bound to this digest and environment, and not older than `expires`. Identities are compared
 * normalised (NFKC, trimmed, lower case): `--actor Alice` is alice, and cannot approve her own
 * promotion.
 */
import { formatDuration, type GateConfig } from '../../config/index.js';
import { normalizeIdentity, sameIdentity } from '../approval.js';
import type { RecordedGate } from '../attestation.js';
import type { GateFacts } from './facts.js';

type ApprovalOptions = Extract<GateConfig, { name: 'approval' }>['options'];

/** An approval that counted, as the promotion attestation records it. */
export interface CountedApproval {
  readonly approver: string;
  readonly time: string;
}

interface Count {
  readonly valid: Map<string, { name: string; groups: readonly string[]; time: string }>;
  readonly notes: string[];
}

/** Which approvals count (one per normalised identity) and why the others do not. */
function countApprovals(options: ApprovalOptions, facts: GateFacts): Count {
  const maxAge = options.expires;
  const notes: string[] = [];
  const valid = new Map<string, { name: string; groups: readonly string[]; time: string }>();
  for (const a of facts.approvals) {
    if (!a.approver) {
      notes.push(`ignored approval ${a.source}: ${a.problem ?? 'not signed by a configured approver'}`);
      continue;
    }
    if (a.problem) notes.push(`ignored approval by ${a.approver}: ${a.problem}`);
    else if (a.digest !== facts.digest)
      notes.push(`ignored approval by ${a.approver}: it is for ${a.digest}`);
    else if (a.environment !== facts.environment)
      notes.push(`ignored approval by ${a.approver}: it is for ${a.environment}`);
    else if (sameIdentity(a.approver, facts.requester))
      notes.push(`ignored approval by ${a.approver}: the requester cannot approve`);
    else if (facts.now.getTime() - Date.parse(a.time) > maxAge)
      notes.push(
        `ignored approval by ${a.approver}: expired (given ${a.time}, valid ${formatDuration(maxAge)})`,
      );
    else {
      const key = normalizeIdentity(a.approver);
      const seen = valid.get(key);
      valid.set(key, {
        name: seen?.name ?? a.approver,
        groups: [...new Set([...(seen?.groups ?? []), ...a.groups])],
        time: a.time,
      });
    }
  }
  return { valid, notes };
}

/** The approvals that count for the approval gate configured in `gates` (none without one). */
export function countedApprovals(gates: readonly GateConfig[], facts: GateFacts): CountedApproval[] {
  const gate = gates.find((g) => g.name === 'approval');
  if (gate?.name !== 'approval') return [];
  return [...countApprovals(gate.options, facts).valid.values()]
    .map((v) => ({ approver: v.name, time: v.time }))
    .sort((a, b) => a.approver.localeCompare(b.approver));
}

/** Evaluates the approval gate; `pending` (not `fail`) while approvals are missing. */
export function evaluateApproval(options: ApprovalOptions, facts: GateFacts): RecordedGate {
  const { valid, notes } = countApprovals(options, facts);
  const missingGroups = options.groups.filter((g) => ![...valid.values()].some((v) => v.groups.includes(g)));
  const approvers = [...valid.values()].map((v) => v.name).sort();
  if (approvers.length >= options.count && missingGroups.length === 0) {
    return { gate: 'approval', status: 'pass', reasons: [`approved by ${approvers.join(', ')}`] };
  }
  const reasons: string[] = [];
  if (approvers.length < options.count) {
    reasons.push(
      `${approvers.length} of ${options.count} approvals${approvers.length ? ` (${approvers.join(', ')})` : ''}`,
    );
  }
  if (missingGroups.length) reasons.push(`needs an approver from ${missingGroups.join(', ')}`);
  return { gate: 'approval', status: 'pending', reasons: [...reasons, ...notes.slice(0, 5)] };
}
