/**
 * Rollback: point an environment's floating tags back at a digest that was itself promoted to
 * that environment (seed 000: everything there is production-ready). No blob moves; the rollback
 * is attested like a promotion.
 */
import { GantryError, isDigest, type Digest } from '../core/index.js';
import { repositoryOf, type ApplicationConfig, type EnvironmentConfig } from '../config/index.js';
import {
  attestationArtifact,
  envelope,
  statementFor,
  type PromotionPredicate,
  type Signer,
} from './attestation.js';
import { currentTag } from './environment-state.js';
import { historyOf, type HistoryEntry } from './history.js';
import type { RegistryPort } from './ports.js';
import { resolveIfPresent } from './resolve-if-present.js';
import { assertCandidateReference } from './tag-kinds.js';

/** The outcome of a rollback (stable `--json` contract). */
export interface RollbackOutcome {
  readonly application: string;
  readonly environment: string;
  readonly repository: string;
  readonly digest: Digest;
  readonly version?: string;
  readonly previousDigest?: Digest;
  readonly tags: readonly string[];
  readonly attestation: Digest;
}

/** What a rollback needs. */
export interface RollbackContext {
  readonly registry: RegistryPort;
  readonly actor: string;
  readonly now: () => Date;
  readonly signer?: Signer;
}

/** Rolls `app` in `env` back to `to` (a version or digest) or, by default, to the previous promotion. */
export async function rollback(
  ctx: RollbackContext,
  env: EnvironmentConfig,
  app: ApplicationConfig,
  to?: string,
): Promise<RollbackOutcome> {
  if (to !== undefined) assertCandidateReference(to);
  const repo = repositoryOf(env, app);
  const name = `${repo.registry}/${repo.repository}`;
  const tags = env.mode === 'tag' && env.tag ? [env.tag] : [...env.floating];
  const tag = currentTag(env);
  if (!tag || tags.length === 0) {
    throw new GantryError(
      'PROMOTION_ROLLBACK_REFUSED',
      `${env.name} has no floating tag to move back (configure tags.floating)`,
    );
  }
  const current = await resolveIfPresent(ctx.registry, repo, tag);
  const history = (await historyOf(ctx.registry, repo, env.name, app.name)).filter(
    (h) => h.kind === 'promotion',
  );
  let target: HistoryEntry | undefined;
  if (to === undefined) {
    target = history.find((h) => h.digest !== current);
    if (!target)
      throw new GantryError(
        'PROMOTION_ROLLBACK_REFUSED',
        `no earlier promotion of ${app.name} to ${env.name} to roll back to`,
      );
  } else {
    const digest = isDigest(to) ? to : await resolveIfPresent(ctx.registry, repo, to);
    target = history.find((h) => h.digest === digest);
    if (!target) {
      throw new GantryError(
        'PROMOTION_ROLLBACK_REFUSED',
        `${app.name} ${to}${digest && digest !== to ? ` (${digest})` : ''} was never promoted to ${env.name}: rollback only goes to a digest that was`,
      );
    }
  }
  const manifest = await ctx.registry.manifest(repo, target.digest);
  for (const t of tags) await ctx.registry.tag(repo, t, manifest);
  const predicate: PromotionPredicate = {
    kind: 'rollback',
    application: app.name,
    ...(target.version !== undefined && { version: target.version }),
    ...(target.revision !== undefined && { revision: target.revision }),
    digest: target.digest,
    from: null,
    to: { environment: env.name, repository: name },
    tags,
    time: ctx.now().toISOString(),
    actor: ctx.actor,
    gates: [],
    approvals: [],
    ...(current !== undefined && { previousDigest: current }),
  };
  const artifact = attestationArtifact(
    envelope(statementFor(name, predicate), ctx.signer),
    { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.byteLength },
    predicate,
  );
  await ctx.registry.attach(repo, artifact);
  return {
    application: app.name,
    environment: env.name,
    repository: name,
    digest: target.digest,
    ...(target.version !== undefined && { version: target.version }),
    ...(current !== undefined && { previousDigest: current }),
    tags,
    attestation: artifact.digest,
  };
}
