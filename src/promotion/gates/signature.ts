/**
 * The `signature` gate: the candidate digest carries a cosign signature made by one of the
 * configured public keys. Pure: the signatures (from the `sha256-<hex>.sig` tag and from referrers
 * with artifactType {@link COSIGN_SIG_ARTIFACT_TYPE}) and the key PEMs are gathered beforehand.
 * See cosign.ts for the format and what is out of scope (keyless, Rekor, cosign v3 bundles).
 */
import type { z } from 'zod';
import { signatureGateSchema } from '../../config/index.js';
import type { Digest } from '../../core/index.js';
import type { RecordedGate } from '../attestation.js';
import {
  COSIGN_SIG_ARTIFACT_TYPE,
  cosignSignatureTag,
  loadCosignPublicKeys,
  verifyCosignSignature,
  type CosignPublicKey,
} from './cosign.js';

/**
 * Options of the signature gate: `keys: [{ name?, key? (inline PEM), path? (PEM file) }]`, at least
 * one key, exactly one of `key` / `path` each (strict). Defined with the rest of gantry.yaml.
 */
export { signatureGateSchema };

/** Validated options of the signature gate. */
export type SignatureGateOptions = z.output<typeof signatureGateSchema>;

/** The name a configured key is reported under: its `name`, else its `path`, else `keys[i]`. */
export function signatureKeyName(entry: SignatureGateOptions['keys'][number], index: number): string {
  return entry.name ?? entry.path ?? `keys[${index}]`;
}

/** One cosign signature found for the candidate. */
export interface SignatureCandidate {
  /** Where it was found: `tag sha256-<hex>.sig` or `referrer sha256:<digest>`. */
  readonly source: string;
  /** The payload blob bytes. */
  readonly payload: Buffer;
  /** The `dev.cosignproject.cosign/signature` annotation of the payload's layer. */
  readonly signatureB64: string;
}

/** What the signature gate judges. */
export interface SignatureGateFacts {
  readonly digest: Digest;
  readonly signatures: readonly SignatureCandidate[];
  readonly publicKeys: readonly CosignPublicKey[];
}

/** At most this many reasons are recorded; the rest are counted. */
const MAX_REASONS = 5;

/**
 * `signature`: passes when at least one signature verifies with a configured key and is for
 * `digest`. Throws `CONFIG_INVALID` naming the key when a configured PEM is unusable, even when no
 * signature was found.
 */
export function evaluateSignature(facts: SignatureGateFacts): RecordedGate {
  const keys = loadCosignPublicKeys(facts.publicKeys);
  if (facts.signatures.length === 0) {
    return fail(
      `no cosign signature found for ${facts.digest} (looked for tag ${cosignSignatureTag(facts.digest)} and referrers with artifactType ${COSIGN_SIG_ARTIFACT_TYPE})`,
    );
  }
  const passed: string[] = [];
  const rejected: string[] = [];
  for (const s of facts.signatures) {
    const result = verifyCosignSignature({
      payload: s.payload,
      signatureB64: s.signatureB64,
      expectedDigest: facts.digest,
      publicKeys: keys,
    });
    if (result.verified) passed.push(`${result.reason} (${s.source})`);
    else rejected.push(`${s.source}: ${result.reason}`);
  }
  return passed.length > 0
    ? { gate: 'signature', status: 'pass', reasons: capped(passed, 'more valid signatures') }
    : fail(...capped(rejected, 'more signatures rejected'));
}

function fail(...reasons: string[]): RecordedGate {
  return { gate: 'signature', status: 'fail', reasons };
}

function capped(reasons: readonly string[], what: string): string[] {
  if (reasons.length <= MAX_REASONS) return [...reasons];
  return [...reasons.slice(0, MAX_REASONS - 1), `… and ${reasons.length - (MAX_REASONS - 1)} ${what}`];
}
