/**
 * The version and revision a candidate is promoted as, whatever reference named it (a version
 * tag, a git-sha tag, a branch tag, a digest): the reference when it is of that kind, else the
 * candidate's labels, else (for the version) the candidate's other version tags in the source
 * repository. A value that does not match the target's pattern for its kind is not used, with a
 * warning: a `revision=9.9.9` label must not create a prod tag `9.9.9`, and a branch tag such as
 * `main` is never created in a later environment.
 */
import type { Digest } from '../core/index.js';
import type { EnvironmentConfig } from '../config/index.js';
import { Labels, type Candidate } from './candidate.js';
import type { RegistryPort } from './ports.js';
import { resolveIfPresent } from './resolve-if-present.js';
import { DIGEST_PATTERN, compareVersions, isRevisionTag, isVersionTag } from './tag-kinds.js';

/** What a candidate is promoted as. */
export interface DerivedTags {
  readonly version?: string;
  readonly revision?: string;
  /** Values that were not used, and why (shown by `plan`). */
  readonly warnings: readonly string[];
}

/** Tag reads in flight while looking for the candidate's other version tags. */
const PARALLEL = 8;

/** Derives the version and revision of `candidate` (named by `reference`) for `target`. */
export async function deriveTags(
  registry: RegistryPort,
  target: EnvironmentConfig,
  candidate: Candidate,
  reference: string,
): Promise<DerivedTags> {
  const warnings: string[] = [];
  let version: string | undefined;
  let revision: string | undefined;
  const byTag = !DIGEST_PATTERN.test(reference);
  if (byTag && isVersionTag(target, reference)) version = reference;
  else if (byTag && isRevisionTag(target, reference)) revision = reference;

  const versionLabel = candidate.labels[Labels.version];
  if (version === undefined && versionLabel !== undefined) {
    if (isVersionTag(target, versionLabel)) version = versionLabel;
    else
      warnings.push(
        `label ${Labels.version}=${JSON.stringify(versionLabel)} does not match ${target.name}'s version pattern: no version tag is made from it`,
      );
  }
  if (version === undefined) version = await otherVersionTag(registry, target, candidate, reference);

  const revisionLabel = candidate.labels[Labels.revision];
  if (revisionLabel !== undefined) {
    if (isRevisionTag(target, revisionLabel)) revision = revisionLabel;
    else
      warnings.push(
        `label ${Labels.revision}=${JSON.stringify(revisionLabel)} does not match ${target.name}'s revision pattern (a git commit): no tag is made from it`,
      );
  }
  if (byTag && reference !== version && reference !== revision)
    warnings.push(
      `${reference} is neither a version in ${target.name} nor a git commit: it is not created in ${target.name}`,
    );
  if (version === undefined)
    warnings.push(
      `no version found for ${candidate.digest} (no version tag, no ${Labels.version} label): ${target.name} gets no version tag`,
    );
  return {
    ...(version !== undefined && { version }),
    ...(revision !== undefined && { revision }),
    warnings,
  };
}

/** The highest version tag of the source repository that points at the candidate. */
async function otherVersionTag(
  registry: RegistryPort,
  target: EnvironmentConfig,
  candidate: Candidate,
  reference: string,
): Promise<string | undefined> {
  const names = (await registry.tags(candidate.repository)).filter(
    (t) => t !== reference && isVersionTag(target, t),
  );
  const found: string[] = [];
  for (let i = 0; i < names.length; i += PARALLEL) {
    const batch = names.slice(i, i + PARALLEL);
    const digests: (Digest | undefined)[] = await Promise.all(
      batch.map((t) => resolveIfPresent(registry, candidate.repository, t)),
    );
    batch.forEach((t, j) => {
      if (digests[j] === candidate.digest) found.push(t);
    });
  }
  return found.sort((a, b) => compareVersions(b, a) ?? (a < b ? 1 : a > b ? -1 : 0))[0];
}
