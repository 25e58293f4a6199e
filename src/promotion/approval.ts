/**
 * Approvals recorded in the registry (no server needed): `gantry approve` signs an in-toto
 * statement "APPROVER approves DIGEST of APP for ENV" with the approver's own key and attaches it
 * to the candidate digest as a referrer. The approval gate trusts only signatures by the keys of
 * approvers configured in gantry.yaml, so the approver's identity is the key, not a claim.
 */
import { createPublicKey } from 'node:crypto';
import { digestHex, type Digest } from '../core/index.js';
import {
  DSSE_MEDIA_TYPE,
  attestationArtifactOf,
  envelope,
  keyId,
  openDsse,
  type AttestationArtifact,
  type Signer,
} from './attestation.js';

/** In-toto predicate type of an approval. */
export const APPROVAL_PREDICATE = 'https://gantry.dev/attestations/approval/v1';
/** `artifactType` of an approval artifact. */
export const APPROVAL_ARTIFACT_TYPE = 'application/vnd.dev.gantry.approval.v1+json';

/** What an approval says. */
export interface ApprovalPredicate {
  readonly application: string;
  readonly digest: Digest;
  readonly environment: string;
  /** The name the approver gave (informational; identity comes from the key). */
  readonly approver: string;
  readonly time: string;
  readonly comment?: string;
}

/** Builds the signed approval artifact for `subject`. */
export function approvalArtifact(
  predicate: ApprovalPredicate,
  subject: { mediaType: string; digest: Digest; size: number },
  signer: Signer,
): AttestationArtifact {
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: predicate.application, digest: { sha256: digestHex(predicate.digest) } }],
    predicateType: APPROVAL_PREDICATE,
    predicate,
  };
  return attestationArtifactOf(envelope(statement, signer), subject, APPROVAL_ARTIFACT_TYPE, {
    'dev.gantry.approval.environment': predicate.environment,
    'dev.gantry.approval.approver': predicate.approver,
    'org.opencontainers.image.created': predicate.time,
  });
}

/** A configured approver with its public key. */
export interface KnownApprover {
  readonly name: string;
  readonly groups: readonly string[];
  readonly publicKeyPem: string;
}

/** An approval read back and checked. */
export interface CheckedApproval {
  readonly approver?: string;
  readonly groups: readonly string[];
  readonly predicate?: ApprovalPredicate;
  readonly problem?: string;
}

/** Opens an approval envelope and finds which configured approver signed it. */
export function checkApproval(envelopeBytes: Buffer, approvers: readonly KnownApprover[]): CheckedApproval {
  let opened;
  try {
    opened = openDsse(
      envelopeBytes,
      approvers.map((a) => a.publicKeyPem),
      'approval',
    );
  } catch (err) {
    return { groups: [], problem: (err as Error).message };
  }
  const st = opened.statement as { predicateType?: unknown; predicate?: ApprovalPredicate };
  if (st.predicateType !== APPROVAL_PREDICATE || typeof st.predicate?.digest !== 'string')
    return { groups: [], problem: 'not an approval statement' };
  const predicate = st.predicate;
  if (opened.signature !== 'verified' || opened.keyIndex === undefined) {
    return {
      groups: [],
      predicate,
      problem: opened.signature === 'unsigned' ? 'unsigned' : 'not signed by a configured approver',
    };
  }
  const who = approvers[opened.keyIndex];
  return who
    ? { approver: who.name, groups: who.groups, predicate }
    : { groups: [], predicate, problem: 'unknown key' };
}

/**
 * An identity as Gantry compares it: Unicode NFKC, surrounding white space trimmed, lower case.
 * `Alice`, ` alice ` and `ａｌｉｃｅ` (full-width) are one person.
 */
export function normalizeIdentity(name: string): string {
  return name.normalize('NFKC').trim().toLowerCase();
}

/** True when two identities are the same person ({@link normalizeIdentity}). */
export function sameIdentity(a: string, b: string): boolean {
  return normalizeIdentity(a) === normalizeIdentity(b);
}

/** The configured approver whose public key is the public half of `signer`, or `undefined`. */
export function approverOfKey(
  signer: Signer,
  approvers: readonly KnownApprover[],
): KnownApprover | undefined {
  return approvers.find((a) => {
    try {
      return keyId(createPublicKey(a.publicKeyPem)) === signer.keyid;
    } catch {
      return false;
    }
  });
}

export { DSSE_MEDIA_TYPE };
