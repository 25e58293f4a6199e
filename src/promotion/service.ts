/**
 * Promotions from the command line, with the registries as the only state: resolve the candidate
 * once to a digest, check the pipeline and the target's tags, copy (mode `copy`) or re-tag (mode
 * `tag`), verify, write immutable tags then floating tags, and attach a promotion attestation.
 */
import { GantryError, isDigest, type Digest } from '../core/index.js';
import {
  repositoryOf,
  type ApplicationConfig,
  type Config,
  type EnvironmentConfig,
} from '../config/index.js';
import type { Repository } from '../registry/index.js';
import {
  Annotations,
  PROMOTION_ARTIFACT_TYPE,
  attestationArtifact,
  envelope,
  statementFor,
  type PromotionPredicate,
  type RecordedGate,
  type Signer,
} from './attestation.js';
import { Labels, readCandidate, type Candidate } from './candidate.js';
import { planTags, type TagChange, type TagConflict } from './plan.js';
import type { ContentCopy, RegistryPort } from './ports.js';
import {
  diffEnvironments,
  stateOf,
  statusMatrix,
  type DiffRow,
  type EnvironmentState,
} from './environment-state.js';
import { historyOf, type HistoryEntry } from './history.js';
import { rollback, type RollbackOutcome } from './rollback.js';

/** Evaluates an environment's gates for a candidate (issue 5 provides the real one). */
export type GateEvaluator = (
  env: EnvironmentConfig,
  candidate: Candidate,
  context: { from: EnvironmentConfig; app: ApplicationConfig },
) => Promise<readonly RecordedGate[]>;

/** Options for {@link PromotionService}. */
export interface PromotionServiceOptions {
  readonly config: Config;
  readonly registry: RegistryPort;
  /** Who is promoting (recorded in attestations). Required. */
  readonly actor: string;
  /** Signs attestations when set. Default: unsigned. */
  readonly signer?: Signer;
  /** Gate evaluation. Default: none — an environment with gates then refuses (fails closed). */
  readonly gates?: GateEvaluator;
  /** Clock. Default `() => new Date()`. */
  readonly now?: () => Date;
}

/** A promotion request. */
export interface PromoteRequest {
  readonly app: string;
  /** A version tag or a digest in the source environment. */
  readonly reference: string;
  readonly to: string;
  readonly from?: string;
  readonly dryRun?: boolean;
}

/** Where an environment keeps an application. */
export interface Place {
  readonly environment: string;
  readonly repository: string;
}

/** The outcome of a promotion (stable `--json` contract). */
export interface PromotionOutcome {
  readonly status: 'completed' | 'unchanged' | 'planned';
  readonly application: string;
  readonly version?: string;
  readonly revision?: string;
  readonly digest: Digest;
  readonly from: Place;
  readonly to: Place;
  readonly mode: 'copy' | 'tag';
  readonly copy?: ContentCopy;
  readonly tags: {
    readonly immutable: readonly string[];
    readonly floating: readonly string[];
    readonly changes: readonly TagChange[];
  };
  readonly gates: readonly RecordedGate[];
  readonly attestation?: Digest;
}

const place = (env: EnvironmentConfig, repo: Repository): Place => ({
  environment: env.name,
  repository: `${repo.registry}/${repo.repository}`,
});

/** Runs promotions against the registries named in the configuration. */
export class PromotionService {
  readonly #o: Required<Omit<PromotionServiceOptions, 'signer' | 'gates'>> &
    Pick<PromotionServiceOptions, 'signer' | 'gates'>;

  constructor(options: PromotionServiceOptions) {
    this.#o = Object.freeze({ now: () => new Date(), ...options });
  }

  /** The application named `name`, or `PROMOTION_UNKNOWN`. */
  application(name: string): ApplicationConfig {
    const app = this.#o.config.applications.get(name);
    if (!app) {
      throw new GantryError(
        'PROMOTION_UNKNOWN',
        `unknown application "${name}" (configured: ${[...this.#o.config.applications.keys()].join(', ')})`,
      );
    }
    return app;
  }

  /** The environment named `name`, or `PROMOTION_UNKNOWN`. */
  environment(name: string): EnvironmentConfig {
    const env = this.#o.config.environments.get(name);
    if (!env) {
      throw new GantryError(
        'PROMOTION_UNKNOWN',
        `unknown environment "${name}" (configured: ${[...this.#o.config.environments.keys()].join(', ')})`,
      );
    }
    return env;
  }

  /** The source environment of a promotion into `to`: `from` when allowed, else the only one configured. */
  sourceOf(to: EnvironmentConfig, from?: string): EnvironmentConfig {
    if (to.from.length === 0) {
      throw new GantryError(
        'PROMOTION_NOT_ALLOWED',
        `${to.name} is an entry environment: images arrive there from CI, not by promotion`,
      );
    }
    if (from === undefined) {
      if (to.from.length > 1)
        throw new GantryError(
          'USAGE_INVALID',
          `${to.name} can be promoted from ${to.from.join(' or ')}: pass --from`,
        );
      return this.environment(to.from[0] as string);
    }
    const env = this.environment(from);
    if (!to.from.includes(env.name)) {
      throw new GantryError(
        'PROMOTION_NOT_ALLOWED',
        `${to.name} may only be promoted from ${to.from.join(', ')}, not from ${env.name}`,
      );
    }
    return env;
  }

  /** The history of `app` in `env`, newest first. */
  history(app: string, env: string): Promise<HistoryEntry[]> {
    const a = this.application(app);
    const e = this.environment(env);
    return historyOf(this.#o.registry, repositoryOf(e, a), e.name, a.name);
  }

  /** What `env` runs of `app`. */
  state(app: string, env: string): Promise<EnvironmentState> {
    return stateOf(this.#o.registry, this.environment(env), this.application(app));
  }

  /** The environment × application matrix. */
  status(): Promise<EnvironmentState[]> {
    return statusMatrix(this.#o.registry, this.#o.config);
  }

  /** Applications compared between two environments. */
  diff(left: string, right: string): Promise<DiffRow[]> {
    return diffEnvironments(
      this.#o.registry,
      this.#o.config,
      this.environment(left),
      this.environment(right),
    );
  }

  /** Rolls `app` in `env` back to a digest promoted there before (default: the previous one). */
  rollback(app: string, env: string, to?: string): Promise<RollbackOutcome> {
    return rollback(
      {
        registry: this.#o.registry,
        actor: this.#o.actor,
        now: this.#o.now,
        ...(this.#o.signer && { signer: this.#o.signer }),
      },
      this.environment(env),
      this.application(app),
      to,
    );
  }

  /** Promotes (or with `dryRun`, plans) `app` `reference` into `to`. */
  async promote(req: PromoteRequest): Promise<PromotionOutcome> {
    const app = this.application(req.app);
    const to = this.environment(req.to);
    const from = this.sourceOf(to, req.from);
    const src = repositoryOf(from, app);
    const dst = repositoryOf(to, app);
    const registry = this.#o.registry;

    const candidate = await readCandidate(registry, src, req.reference);
    await this.#assertInEnvironment(from, src, candidate, req.reference);
    const version = isDigest(req.reference) ? candidate.labels[Labels.version] : req.reference;
    const revision = candidate.labels[Labels.revision];
    const plan = await this.#planTags(to, dst, candidate.digest, version, revision);
    if (plan.conflicts.length > 0) throw immutableConflict(to, plan.conflicts);

    const gates = await this.#gates(to, candidate, from, app);
    const failed = gates.filter((g) => g.status === 'fail' || g.status === 'pending');
    const base = {
      application: app.name,
      ...(version !== undefined && { version }),
      ...(revision !== undefined && { revision }),
      digest: candidate.digest,
      from: place(from, src),
      to: place(to, dst),
      mode: to.mode,
      tags: { immutable: plan.immutable, floating: plan.floating, changes: plan.changes },
      gates,
    };
    if (req.dryRun) {
      const copy =
        to.mode === 'copy' ? await registry.copy(src, dst, candidate.digest, { dryRun: true }) : undefined;
      return { ...base, status: 'planned', ...(copy && { copy }) };
    }
    if (failed.length > 0) {
      throw new GantryError(
        'PROMOTION_GATES_FAILED',
        `promotion of ${app.name} ${version ?? candidate.digest} to ${to.name} refused by ${failed.length === 1 ? 'gate' : 'gates'} ${failed.map((g) => `${g.gate} (${g.reasons.join('; ') || g.status})`).join(', ')}`,
        { details: { gates: failed.map((g) => g.gate) } },
      );
    }

    const present = (await registry.resolve(dst, candidate.digest)) === candidate.digest;
    const attested = present && (await this.#attested(dst, candidate.digest, to.name));
    if (present && attested && plan.changes.length === 0) return { ...base, status: 'unchanged' };

    const copy = to.mode === 'copy' ? await registry.copy(src, dst, candidate.digest) : undefined;
    if ((await registry.resolve(dst, candidate.digest)) !== candidate.digest) {
      throw new GantryError(
        'REGISTRY_DIGEST_MISMATCH',
        `${dst.registry}/${dst.repository} does not resolve ${candidate.digest} after the copy`,
      );
    }
    for (const change of plan.changes) await registry.tag(dst, change.tag, candidate.manifest);

    const predicate: PromotionPredicate = {
      kind: 'promotion',
      application: app.name,
      ...(version !== undefined && { version }),
      ...(revision !== undefined && { revision }),
      digest: candidate.digest,
      from: { environment: from.name, repository: base.from.repository },
      to: { environment: to.name, repository: base.to.repository },
      tags: [...plan.immutable, ...plan.floating],
      time: this.#o.now().toISOString(),
      actor: this.#o.actor,
      gates,
      approvals: [],
    };
    const artifact = attestationArtifact(
      envelope(statementFor(base.to.repository, predicate), this.#o.signer),
      {
        mediaType: candidate.manifest.mediaType,
        digest: candidate.digest,
        size: candidate.manifest.bytes.byteLength,
      },
      predicate,
    );
    await registry.attach(dst, artifact);
    return { ...base, status: 'completed', ...(copy && { copy }), attestation: artifact.digest };
  }

  async #planTags(
    to: EnvironmentConfig,
    dst: Repository,
    digest: Digest,
    version?: string,
    revision?: string,
  ) {
    const names = [version, revision, ...to.floating].filter((t): t is string => t !== undefined);
    const current = new Map<string, Digest | undefined>();
    await Promise.all(
      names.map(async (t) => current.set(t, await this.#o.registry.resolve(dst, t).catch(() => undefined))),
    );
    return planTags({
      target: to,
      digest,
      ...(version !== undefined && { version }),
      ...(revision !== undefined && { revision }),
      current,
    });
  }

  async #gates(
    to: EnvironmentConfig,
    candidate: Candidate,
    from: EnvironmentConfig,
    app: ApplicationConfig,
  ): Promise<readonly RecordedGate[]> {
    if (to.gates.length === 0) return [];
    if (!this.#o.gates) {
      // Fail closed: configured gates that cannot be evaluated block the promotion.
      return to.gates.map((g) => ({
        gate: Object.keys(g)[0] ?? 'unknown',
        status: 'fail' as const,
        reasons: ['gate evaluation is not available'],
      }));
    }
    return this.#o.gates(to, candidate, { from, app });
  }

  /** True when `digest` in `repo` carries a promotion attestation for `env`. */
  async #attested(repo: Repository, digest: Digest, env: string): Promise<boolean> {
    const list = await this.#o.registry.referrers(repo, digest, PROMOTION_ARTIFACT_TYPE);
    return list.some((d) => d.annotations?.[Annotations.env] === env);
  }

  /** In a tag-mode source, the candidate must be what the environment holds or has held. */
  async #assertInEnvironment(
    from: EnvironmentConfig,
    src: Repository,
    candidate: Candidate,
    reference: string,
  ): Promise<void> {
    if (from.mode !== 'tag' || !from.tag) return;
    const current = await this.#o.registry.resolve(src, from.tag);
    if (current === candidate.digest) return;
    if (await this.#attested(src, candidate.digest, from.name)) return;
    throw new GantryError(
      'PROMOTION_NOT_ALLOWED',
      `${reference} (${candidate.digest}) was never promoted to ${from.name}${current ? ` (${from.name} is at ${current})` : ''}`,
    );
  }
}

function immutableConflict(to: EnvironmentConfig, conflicts: readonly TagConflict[]): GantryError {
  const c = conflicts[0] as TagConflict;
  return new GantryError(
    'PROMOTION_IMMUTABLE_TAG',
    `immutable tag "${c.tag}" in ${to.name} already points to ${c.current}; refusing to move it to ${c.wanted} (nothing was changed)`,
    { details: { tag: c.tag, current: c.current, wanted: c.wanted, environment: to.name } },
  );
}
