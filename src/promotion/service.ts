/**
 * Promotions from the command line, with the registries as the only state: resolve the candidate
 * once to a digest, check the pipeline and the target's tags, copy (mode `copy`) or re-tag (mode
 * `tag`), verify, write immutable tags then floating tags, and attach a promotion attestation.
 */
import { GantryError, type Digest } from '../core/index.js';
import {
  repositoryOf,
  type ApplicationConfig,
  type Config,
  type EnvironmentConfig,
} from '../config/index.js';
import type { Repository } from '../registry/index.js';
import {
  attestationArtifact,
  envelope,
  statementFor,
  type PromotionPredicate,
  type RecordedGate,
  type Signer,
} from './attestation.js';
import { readSourceCandidate, type Candidate } from './candidate.js';
import { deriveTags } from './derive-tags.js';
import { hasPromotionRecord } from './promotion-record.js';
import { resolveIfPresent } from './resolve-if-present.js';
import { writeTags } from './tag-writes.js';
import { assertCandidateReference, compareVersions } from './tag-kinds.js';
import { approvalArtifact } from './approval.js';
import { planTags, type TagConflict, type TagPlan } from './plan.js';
import type {
  GateContext,
  GateEvaluator,
  Place,
  PromoteRequest,
  PromotionOutcome,
  ReleaseOutcome,
  ReleaseRequest,
} from './model.js';
import type { ContentCopy, RegistryPort } from './ports.js';
import {
  deployableState,
  diffEnvironments,
  stateOf,
  statusMatrix,
  type DiffRow,
  type EnvironmentState,
} from './environment-state.js';
import { historyOf, type HistoryEntry } from './history.js';
import { rollback, type RollbackOutcome } from './rollback.js';

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

  /**
   * What `env` runs of `app`, for deploy tooling (`ref`, `pin`): only a proven state. An
   * environment without a floating tag defines nothing to run (`CONFIG_INVALID`); a digest without
   * a promotion record for `env` is refused (`PROMOTION_UNRECORDED`) unless `allowUnrecorded`.
   * Entry environments receive images from CI and need no record.
   */
  deployable(
    app: string,
    env: string,
    options: { readonly allowUnrecorded?: boolean } = {},
  ): Promise<EnvironmentState> {
    return deployableState(
      this.#o.registry,
      this.#o.config,
      this.environment(env),
      this.application(app),
      options,
    );
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

  /** Signs and attaches an approval of `reference` (in the source environment of `environment`). */
  async approve(req: {
    app: string;
    reference: string;
    environment: string;
    signer: Signer;
    approver: string;
    from?: string;
    comment?: string;
  }): Promise<{ digest: Digest; approver: string; environment: string; approval: Digest }> {
    assertCandidateReference(req.reference);
    const app = this.application(req.app);
    const to = this.environment(req.environment);
    const from = this.sourceOf(to, req.from);
    const src = repositoryOf(from, app);
    const candidate = await readSourceCandidate(this.#o.registry, from.name, src, req.reference);
    const artifact = approvalArtifact(
      {
        application: app.name,
        digest: candidate.digest,
        environment: to.name,
        approver: req.approver,
        time: this.#o.now().toISOString(),
        ...(req.comment !== undefined && { comment: req.comment }),
      },
      {
        mediaType: candidate.manifest.mediaType,
        digest: candidate.digest,
        size: candidate.manifest.bytes.byteLength,
      },
      req.signer,
    );
    await this.#o.registry.attach(src, artifact);
    return {
      digest: candidate.digest,
      approver: req.approver,
      environment: to.name,
      approval: artifact.digest,
    };
  }

  /** Promotes (or with `dryRun`, plans) `app` `reference` into `to`. */
  async promote(req: PromoteRequest): Promise<PromotionOutcome> {
    const p = await this.#prepare(req);
    const registry = this.#o.registry;
    if (req.dryRun) {
      const copy =
        p.to.mode === 'copy'
          ? await registry.copy(p.src, p.dst, p.candidate.digest, { dryRun: true })
          : undefined;
      return { ...p.base, status: 'planned', ...(copy && { copy }) };
    }
    refuseFailedGates([p]);
    const present = (await registry.resolve(p.dst, p.candidate.digest)) === p.candidate.digest;
    const attested = present && (await this.#attested(p.dst, p.candidate.digest, p.to.name));
    if (present && attested && p.plan.changes.length === 0) return { ...p.base, status: 'unchanged' };
    const copy = await this.#content(p);
    await this.#writeTags(
      [p],
      `promotion of ${p.app.name} ${p.base.version ?? p.candidate.digest} to ${p.to.name}`,
    );
    const attestation = await this.#attest(p);
    return { ...p.base, status: 'completed', ...(copy && { copy }), attestation };
  }

  /**
   * Promotes several applications together: every check first, then all content, then the tags
   * of every application (see {@link writeTags}), then the attestations. A
   * failure while writing tags undoes the tags already written, so the environment never shows
   * half a release.
   */
  async promoteRelease(req: ReleaseRequest): Promise<ReleaseOutcome> {
    if (req.applications.length === 0)
      throw new GantryError('USAGE_INVALID', 'the release lists no applications');
    for (const item of req.applications) assertCandidateReference(item.reference);
    const prepared: Prepared[] = [];
    for (const item of req.applications) {
      prepared.push(
        await this.#prepare({
          app: item.app,
          reference: item.reference,
          to: req.to,
          ...(req.from !== undefined && { from: req.from }),
        }),
      );
    }
    if (req.dryRun) {
      return {
        status: 'planned',
        environment: req.to,
        applications: prepared.map((p) => ({ ...p.base, status: 'planned' as const })),
      };
    }
    refuseFailedGates(prepared);
    const copies = new Map<Prepared, ContentCopy | undefined>();
    for (const p of prepared) copies.set(p, await this.#content(p));
    await this.#writeTags(prepared, `release to ${req.to}`);
    const applications: PromotionOutcome[] = [];
    for (const p of prepared) {
      const copy = copies.get(p);
      applications.push({
        ...p.base,
        status: 'completed',
        ...(copy && { copy }),
        attestation: await this.#attest(p),
      });
    }
    return { status: 'completed', environment: req.to, applications };
  }

  /** Writes the tags of prepared promotions, undoing them on a failure (see {@link writeTags}). */
  #writeTags(prepared: readonly Prepared[], what: string): Promise<void> {
    return writeTags(
      this.#o.registry,
      prepared.flatMap((p) =>
        p.plan.changes.map((c) => ({
          repo: p.dst,
          tag: c.tag,
          manifest: p.candidate.manifest,
          immutable: p.plan.immutable.includes(c.tag),
          ...(c.current !== undefined && { previous: c.current }),
        })),
      ),
      what,
    );
  }

  async #prepare(req: PromoteRequest): Promise<Prepared> {
    assertCandidateReference(req.reference);
    const app = this.application(req.app);
    const to = this.environment(req.to);
    const from = this.sourceOf(to, req.from);
    const src = repositoryOf(from, app);
    const dst = repositoryOf(to, app);
    const candidate = await readSourceCandidate(this.#o.registry, from.name, src, req.reference);
    await this.#assertInEnvironment(from, src, candidate, req.reference);
    const derived = await deriveTags(this.#o.registry, to, candidate, req.reference);
    const { version, revision } = derived;
    const plan = await this.#planTags(to, dst, candidate.digest, version, revision);
    if (plan.conflicts.length > 0) throw immutableConflict(to, plan.conflicts);
    const warnings = [...derived.warnings, ...(await this.#downgrade(to, app, version))];
    const evaluated = await this.#gates(to, candidate, {
      from,
      app,
      ...(version !== undefined && { version }),
      reports: req.reports ?? [],
    });
    const gates =
      req.override !== undefined && !req.dryRun ? overridden(to, evaluated, req.override) : evaluated;
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
      warnings,
    };
    return {
      app,
      from,
      to,
      src,
      dst,
      candidate,
      plan,
      base,
      ...(req.override !== undefined && { override: req.override }),
    };
  }

  /** Copies the content (mode copy) and checks the target resolves the digest. */
  async #content(p: Prepared): Promise<ContentCopy | undefined> {
    const registry = this.#o.registry;
    const copy = p.to.mode === 'copy' ? await registry.copy(p.src, p.dst, p.candidate.digest) : undefined;
    if ((await registry.resolve(p.dst, p.candidate.digest)) !== p.candidate.digest) {
      throw new GantryError(
        'REGISTRY_DIGEST_MISMATCH',
        `${p.base.to.repository} does not resolve ${p.candidate.digest} after the copy`,
      );
    }
    return copy;
  }

  /** Attaches the promotion attestation; returns its digest. */
  async #attest(p: Prepared): Promise<Digest> {
    const predicate: PromotionPredicate = {
      kind: 'promotion',
      application: p.app.name,
      ...(p.base.version !== undefined && { version: p.base.version }),
      ...(p.base.revision !== undefined && { revision: p.base.revision }),
      digest: p.candidate.digest,
      from: { environment: p.from.name, repository: p.base.from.repository },
      to: { environment: p.to.name, repository: p.base.to.repository },
      tags: [...p.plan.immutable, ...p.plan.floating],
      time: this.#o.now().toISOString(),
      actor: this.#o.actor,
      gates: p.base.gates,
      approvals: [],
      ...(p.override !== undefined && { override: { reason: p.override } }),
    };
    const manifest = p.candidate.manifest;
    const artifact = attestationArtifact(
      envelope(statementFor(p.base.to.repository, predicate), this.#o.signer),
      { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.byteLength },
      predicate,
    );
    await this.#o.registry.attach(p.dst, artifact);
    return artifact.digest;
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
      names.map(async (t) => current.set(t, await resolveIfPresent(this.#o.registry, dst, t))),
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
    context: GateContext,
  ): Promise<readonly RecordedGate[]> {
    if (to.gates.length === 0) return [];
    if (!this.#o.gates) {
      // Fail closed: configured gates that cannot be evaluated block the promotion.
      return to.gates.map((g) => ({
        gate: g.name,
        status: 'fail' as const,
        reasons: ['gate evaluation is not available'],
      }));
    }
    return this.#o.gates(to, candidate, context);
  }

  /** True when `digest` in `repo` carries a promotion attestation for `env`. */
  #attested(repo: Repository, digest: Digest, env: string): Promise<boolean> {
    return hasPromotionRecord(this.#o.registry, repo, digest, env);
  }

  /** A warning when promoting `version` would move `to` back to an older version than it runs. */
  async #downgrade(to: EnvironmentConfig, app: ApplicationConfig, version?: string): Promise<string[]> {
    if (version === undefined) return [];
    const now = await stateOf(this.#o.registry, to, app);
    if (now.version === undefined || (compareVersions(version, now.version) ?? 0) >= 0) return [];
    return [
      `${to.name} runs ${app.name} ${now.version}: promoting ${version} moves it back to an older version`,
    ];
  }

  /** In a tag-mode source, the candidate must be what the environment holds or has held. */
  async #assertInEnvironment(
    from: EnvironmentConfig,
    src: Repository,
    candidate: Candidate,
    reference: string,
  ): Promise<void> {
    if (from.mode !== 'tag' || !from.tag) return;
    const current = await resolveIfPresent(this.#o.registry, src, from.tag);
    if (current === candidate.digest) return;
    if (await this.#attested(src, candidate.digest, from.name)) return;
    throw new GantryError(
      'PROMOTION_NOT_ALLOWED',
      `${reference} (${candidate.digest}) was never promoted to ${from.name}${current ? ` (${from.name} is at ${current})` : ''}`,
    );
  }
}

/** Everything known about one promotion before anything is written. */
interface Prepared {
  readonly app: ApplicationConfig;
  readonly from: EnvironmentConfig;
  readonly to: EnvironmentConfig;
  readonly src: Repository;
  readonly dst: Repository;
  readonly candidate: Candidate;
  readonly plan: TagPlan;
  readonly base: Omit<PromotionOutcome, 'status' | 'copy' | 'attestation'>;
  readonly override?: string;
}

function refuseFailedGates(list: readonly Prepared[]): void {
  const failed = list.flatMap((p) =>
    p.base.gates.filter((g) => g.status === 'fail' || g.status === 'pending').map((g) => ({ p, g })),
  );
  if (failed.length === 0) return;
  throw new GantryError(
    'PROMOTION_GATES_FAILED',
    `promotion to ${failed[0]?.p.to.name ?? ''} refused: ${failed.map(({ p, g }) => `${p.app.name} ${p.base.version ?? p.candidate.digest}: ${g.gate} (${g.reasons.join('; ') || g.status})`).join(', ')}`,
    { details: { gates: failed.map(({ g }) => g.gate) } },
  );
}

/** Marks failing gates as overridden; refuses when the environment does not allow overrides. */
function overridden(to: EnvironmentConfig, gates: readonly RecordedGate[], reason: string): RecordedGate[] {
  if (!to.allowOverride) {
    throw new GantryError(
      'PROMOTION_NOT_ALLOWED',
      `gates of ${to.name} cannot be overridden (the environment does not set allowOverride: true)`,
    );
  }
  if (reason.trim().length < 3)
    throw new GantryError('USAGE_INVALID', '--override needs --reason TEXT saying why');
  return gates.map((g) =>
    g.status === 'fail' || g.status === 'pending'
      ? { gate: g.gate, status: 'overridden' as const, reasons: [...g.reasons, `overridden: ${reason}`] }
      : g,
  );
}

function immutableConflict(to: EnvironmentConfig, conflicts: readonly TagConflict[]): GantryError {
  const c = conflicts[0] as TagConflict;
  return new GantryError(
    'PROMOTION_IMMUTABLE_TAG',
    `immutable tag "${c.tag}" in ${to.name} already points to ${c.current}; refusing to move it to ${c.wanted} (nothing was changed)`,
    { details: { tag: c.tag, current: c.current, wanted: c.wanted, environment: to.name } },
  );
}
