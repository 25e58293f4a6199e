/**
 * Where approvals come from: signed approval referrers attached to the candidate (`gantry
 * approve`), and a store (the server's API and dashboard, where the approver is the
 * authenticated caller). Each source yields {@link ApprovalFact}s; the approval gate decides which
 * count, and the promotion attestation records those.
 */
import type { Digest, Descriptor, Repository } from '../core/index.js';
import { APPROVAL_ARTIFACT_TYPE, checkApproval, type KnownApprover } from './approval.js';
import { DSSE_MEDIA_TYPE } from './attestation.js';
import type { ApprovalFact } from './gates/facts.js';
import type { RegistryPort } from './ports.js';

/** What approvals are asked for. */
export interface ApprovalSubject {
  readonly application: string;
  /** The environment the promotion goes to. */
  readonly environment: string;
  /** The candidate's repository in the source environment. */
  readonly repository: Repository;
  readonly digest: Digest;
  /** The candidate's referrers, when the caller listed them already (saves a request). */
  readonly referrers?: readonly Descriptor[];
}

/** A source of approvals. */
export interface ApprovalSource {
  approvals(subject: ApprovalSubject): Promise<readonly ApprovalFact[]>;
}

/** An approval given through the API or dashboard (the caller is authenticated; nothing is signed). */
export interface StoredApproval {
  readonly approver: string;
  /** The approver's groups (from their token). */
  readonly groups: readonly string[];
  readonly application: string;
  readonly environment: string;
  readonly digest: Digest;
  /** When, ISO 8601. */
  readonly time: string;
  readonly comment?: string;
}

/** Approvals signed by configured approvers and attached to the candidate as referrers. */
export function referrerApprovals(
  registry: RegistryPort,
  approvers: readonly KnownApprover[],
): ApprovalSource {
  return {
    async approvals(subject) {
      const { repository: repo, digest } = subject;
      const referrers = subject.referrers ?? (await registry.referrers(repo, digest));
      const out: ApprovalFact[] = [];
      for (const d of referrers) {
        if (d.artifactType !== APPROVAL_ARTIFACT_TYPE) continue;
        const bytes = await firstDsseLayer(registry, repo, digest, d);
        if (!bytes) continue;
        const checked = checkApproval(bytes, approvers);
        const p = checked.predicate;
        out.push({
          ...(checked.approver !== undefined && { approver: checked.approver }),
          groups: checked.groups,
          environment: p?.environment ?? '',
          digest: (p?.digest ?? '') as Digest,
          time: p?.time ?? '',
          ...(checked.problem !== undefined && { problem: checked.problem }),
          source: `referrer ${d.digest}`,
        });
      }
      return out;
    },
  };
}

/** Approvals kept in memory (tests; the server's store implements the same port in SQL). */
export class MemoryApprovals implements ApprovalSource {
  readonly #list: StoredApproval[] = [];

  /** Records an approval. */
  add(approval: StoredApproval): void {
    this.#list.push(approval);
  }

  approvals(subject: ApprovalSubject): Promise<readonly ApprovalFact[]> {
    return Promise.resolve(this.#list.filter((a) => a.application === subject.application).map(storedFact));
  }
}

/** A stored approval as the approval gate sees it. */
export function storedFact(a: StoredApproval): ApprovalFact {
  return {
    approver: a.approver,
    groups: a.groups,
    environment: a.environment,
    digest: a.digest,
    time: a.time,
    source: `store (${a.approver})`,
  };
}

/** The DSSE envelope of an approval referrer of `subject` (64 MiB at most), if it has one. */
async function firstDsseLayer(
  registry: RegistryPort,
  repo: Repository,
  subject: Digest,
  d: Descriptor,
): Promise<Buffer | undefined> {
  const m = await registry.manifest(repo, d.digest);
  if (m.kind !== 'image' || m.body.subject?.digest !== subject) return undefined;
  const layer = m.body.layers.find((l) => l.mediaType === DSSE_MEDIA_TYPE);
  if (!layer || layer.size > 64 * 1024 * 1024) return undefined;
  return registry.blob(repo, layer);
}
