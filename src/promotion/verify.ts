/**
 * `gantry verify REF --env ENV`: does the image carry a promotion attestation for that
 * environment, does the statement name this very digest, and is it signed by a trusted key?
 */
import { GantryError, digestHex, type Digest, type Repository } from '../core/index.js';
import {
  Annotations,
  DSSE_MEDIA_TYPE,
  PROMOTION_ARTIFACT_TYPE,
  openEnvelope,
  type PromotionPredicate,
} from './attestation.js';
import type { RegistryPort } from './ports.js';

/** The verdict on one attestation. */
export interface AttestationVerdict {
  readonly attestation: Digest;
  readonly signature: 'verified' | 'unsigned' | 'invalid' | 'unknown-key';
  readonly keyid?: string;
  readonly predicate: PromotionPredicate;
}

/** The verdict on an image (stable `--json` contract). */
export interface VerifyOutcome {
  readonly reference: string;
  readonly digest: Digest;
  readonly environment: string;
  readonly verified: boolean;
  /** True when a signature by a trusted key verified; false when passed as unsigned (`allowUnsigned`). */
  readonly signatureVerified: boolean;
  readonly attestations: readonly AttestationVerdict[];
}

/** Options of {@link verifyPromotion}. */
export interface VerifyOptions {
  /**
   * Accept an intact attestation whose signature is absent or by a key not in `publicKeys`.
   * Default false: a signature by one of `publicKeys` must verify, so with no key nothing passes.
   * A signature that fails to verify against a trusted key never passes.
   */
  readonly allowUnsigned?: boolean;
}

/**
 * Verifies `digest` in `repo` against `environment`: at least one attestation must carry a valid
 * signature by one of `publicKeys` (or, with `allowUnsigned`, be intact and not badly signed).
 * Throws `ATTESTATION_MISSING` when there is none and `ATTESTATION_INVALID` when none holds up,
 * including when there is no key to check them with.
 */
export async function verifyPromotion(
  registry: RegistryPort,
  repo: Repository,
  digest: Digest,
  environment: string,
  publicKeys: readonly string[],
  options: VerifyOptions = {},
): Promise<VerifyOutcome> {
  const reference = `${repo.registry}/${repo.repository}@${digest}`;
  const found = (await registry.referrers(repo, digest, PROMOTION_ARTIFACT_TYPE)).filter(
    (d) => d.annotations?.[Annotations.env] === environment,
  );
  if (found.length === 0) {
    throw new GantryError(
      'ATTESTATION_MISSING',
      `${reference} has no promotion attestation for ${environment}`,
    );
  }
  const attestations: AttestationVerdict[] = [];
  const problems: string[] = [];
  for (const d of found) {
    const manifest = await registry.manifest(repo, d.digest);
    const layer =
      manifest.kind === 'image'
        ? manifest.body.layers.find((l) => l.mediaType === DSSE_MEDIA_TYPE)
        : undefined;
    if (!layer) {
      problems.push(`${d.digest}: no DSSE envelope`);
      continue;
    }
    const check = openEnvelope(await registry.blob(repo, layer), publicKeys);
    const subject = check.statement.subject.find((s) => s.digest.sha256 === digestHex(digest));
    if (!subject || check.statement.predicate.digest !== digest) {
      problems.push(`${d.digest}: the statement is about another digest`);
      continue;
    }
    if (check.statement.predicate.to.environment !== environment) {
      problems.push(`${d.digest}: the statement is about ${check.statement.predicate.to.environment}`);
      continue;
    }
    attestations.push({
      attestation: d.digest,
      signature: check.signature,
      ...(check.keyid !== undefined && { keyid: check.keyid }),
      predicate: check.statement.predicate,
    });
  }
  const signatureVerified = attestations.some((a) => a.signature === 'verified');
  const verified =
    signatureVerified ||
    (options.allowUnsigned === true &&
      attestations.some((a) => a.signature === 'unsigned' || a.signature === 'unknown-key'));
  if (!verified) {
    const why =
      publicKeys.length > 0
        ? 'no attestation is signed by a trusted key'
        : attestations.length > 0
          ? `${attestations.length} attestation${attestations.length === 1 ? '' : 's'} found, but no trusted public key to verify ${attestations.length === 1 ? 'it' : 'them'} (pass --key PUBLIC.pem, set attestation.publicKey in gantry.yaml, or --allow-unsigned to accept unsigned attestations)`
          : 'no attestation holds up';
    throw new GantryError(
      'ATTESTATION_INVALID',
      `${reference}: ${why}${problems.length ? ` (${problems.join('; ')})` : ''}`,
      {
        details: { signatures: attestations.map((a) => a.signature) },
      },
    );
  }
  return { reference, digest, environment, verified, signatureVerified, attestations };
}
