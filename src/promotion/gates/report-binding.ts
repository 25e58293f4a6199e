/**
 * Evidence is bound to the image: a vulnerability report counts for a candidate only when it is
 * about that candidate. Pure: a parsed report, where it came from and the candidate's identity in,
 * a reason to refuse it (or nothing) out.
 *
 * - A report that names an image (see `reportSubject`) must name the candidate: its manifest or
 *   index digest, one of its platform manifests, or the config digest ("image ID") of one of them.
 *   A report that names only other images is refused.
 * - A report that names no image is accepted only when it is attached to the candidate as a
 *   referrer (the registry binds it through the artifact's `subject`, which gathering checks); a
 *   `--report FILE` that names no image is refused: nothing ties it to this digest.
 */
import type { Digest } from '../../core/index.js';
import type { VulnerabilityReport } from './vulnerability-report.js';

/** The digests that identify a candidate. */
export interface CandidateIdentity {
  readonly digest: Digest;
  /** Digests of the platform manifests when the candidate is an index. */
  readonly manifests: readonly Digest[];
  /** Config digests of the candidate's image manifest(s). */
  readonly configs: readonly Digest[];
}

/** Why `report` (from `source`) does not count for the candidate, or `undefined` when it does. */
export function reportRefusal(
  report: VulnerabilityReport,
  source: string,
  candidate: CandidateIdentity,
  attached: boolean,
): string | undefined {
  const subject = report.subject;
  if (!subject) {
    return attached
      ? undefined
      : `${source} names no image digest, so nothing binds it to ${candidate.digest}: scan the image by digest, or attach the report to it with gantry attach`;
  }
  const manifests = new Set<string>([candidate.digest, ...candidate.manifests]);
  const configs = new Set<string>(candidate.configs);
  if (subject.digests.some((d) => manifests.has(d)) || subject.imageIds.some((d) => configs.has(d)))
    return undefined;
  const named = subject.digests[0] ?? `image ID ${subject.imageIds[0] ?? ''}`;
  return `${source} is about ${named}, not ${candidate.digest}: refused`;
}
