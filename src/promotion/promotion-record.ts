/**
 * "Was digest D promoted to environment E?": the promotion attestations attached to D (as OCI
 * referrers) in E's repository. A digest a floating tag points at without such a record was not
 * put there by a completed promotion (a release that failed half-way, a tag moved by hand), so
 * `ref` and `pin` refuse it.
 */
import type { Digest, Repository } from '../core/index.js';
import { Annotations, PROMOTION_ARTIFACT_TYPE } from './attestation.js';
import type { RegistryPort } from './ports.js';

/** True when `digest` in `repo` carries a promotion (or rollback) record for `environment`. */
export async function hasPromotionRecord(
  registry: RegistryPort,
  repo: Repository,
  digest: Digest,
  environment: string,
  application?: string,
): Promise<boolean> {
  const list = await registry.referrers(repo, digest, PROMOTION_ARTIFACT_TYPE);
  return list.some((d) => {
    const a = d.annotations ?? {};
    if (a[Annotations.env] !== environment) return false;
    return (
      application === undefined || a[Annotations.app] === undefined || a[Annotations.app] === application
    );
  });
}
