/**
 * The promotion service: the operations of the promotion layer over its ports (registries, gate
 * evaluation, the ledger, a signer, a clock). A promotion is planned (planner.ts), then applied
 * step by step (apply.ts) through the states of states.ts. `promote` and `promoteRelease` do
 * both in one call, as the CLI needs; a server plans, stores the plan, and advances it as a job.
 */
import { GantryError, type Digest, type Manifest } from '../core/index.js';
import {
  repositoryOf,
  type ApplicationConfig,
  type Config,
  type EnvironmentConfig,
} from '../config/index.js';
import type { Signer } from './attestation.js';
import { readSourceCandidate } from './candidate.js';
import { candidatesFor, type CandidateList, type CandidateOptions } from './candidates.js';
import { assertCandidateReference } from './tag-kinds.js';
import { approvalArtifact } from './approval.js';
import type {
  GateEvaluator,
  PromoteRequest,
  PromotionOutcome,
  ReleaseOutcome,
  ReleaseRequest,
  Requester,
} from './model.js';
import type { RegistryPort } from './ports.js';
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
import { noLedger, type LedgerPort } from './ledger-port.js';
import { applicationOf, environmentOf, sourceOf } from './lookup.js';
import {
  evaluateCandidate,
  evaluatePlanned,
  planPromotion,
  planRelease,
  type CandidateEvaluation,
  type PlannerContext,
  type PlanRequester,
} from './planner.js';
import {
  blockingGates,
  initialProgress,
  outcomeOf,
  subjectOf,
  summary,
  type PromotionPlan,
  type PromotionProgress,
} from './promotion-plan.js';
import { PromotionApplier, type StepOptions } from './apply.js';

/** Options for {@link PromotionService}. */
export interface PromotionServiceOptions {
  readonly config: Config;
  readonly registry: RegistryPort;
  /** Who acts when a request names nobody. Default `unknown`. A server names the caller in every request. */
  readonly actor?: string;
  /** Signs attestations when set. Default: unsigned. */
  readonly signer?: Signer;
  /** Gate evaluation. Default: none — an environment with gates then refuses (fails closed). */
  readonly gates?: GateEvaluator;
  /** Where ledger events go, each before the action it describes. Default: nowhere ({@link noLedger}). */
  readonly ledger?: LedgerPort;
  /** Clock when a request gives no time. Default `() => new Date()`. */
  readonly now?: () => Date;
}

/** Options of {@link PromotionService.applier}. */
export interface ApplierOptions {
  /** Manifests read by a plan made in this process (saves reading them again). Default: none. */
  readonly manifests?: ReadonlyMap<Digest, Manifest>;
  /** The time every step takes as "now" (the request's time). Default: the service's clock. */
  readonly now?: Date;
  /** Nothing of the plan was applied before (`ApplierContext.fresh`). Default false: records attached by an interrupted attempt are looked for. */
  readonly fresh?: boolean;
  /** Where this applier's events go (a job runner buffers a step's events). Default: the service's ledger. */
  readonly ledger?: LedgerPort;
}

/** Runs promotions against the registries named in the configuration. */
export class PromotionService {
  readonly #o: PromotionServiceOptions;
  readonly #now: () => Date;

  constructor(options: PromotionServiceOptions) {
    this.#o = Object.freeze({ ...options });
    this.#now = options.now ?? (() => new Date());
  }

  /** The application named `name`, or `PROMOTION_UNKNOWN`. */
  application(name: string): ApplicationConfig {
    return applicationOf(this.#o.config, name);
  }

  /** The environment named `name`, or `PROMOTION_UNKNOWN`. */
  environment(name: string): EnvironmentConfig {
    return environmentOf(this.#o.config, name);
  }

  /** The source environment of a promotion into `to`: `from` when allowed, else the only one configured. */
  sourceOf(to: EnvironmentConfig, from?: string): EnvironmentConfig {
    return sourceOf(this.#o.config, to, from);
  }

  /**
   * What can be promoted into `env` of `app`: the images of its source environments, newest
   * version first, each saying whether `env` already holds it or runs it (see candidates.ts).
   */
  candidates(app: string, env: string, options?: CandidateOptions): Promise<CandidateList> {
    return candidatesFor(this.#o.registry, this.#o.config, app, env, options);
  }

  /** Who acts and when, for a request. */
  requester(req: Requester = {}): PlanRequester {
    return { actor: req.actor ?? this.#o.actor ?? 'unknown', now: req.now ?? this.#now() };
  }

  /**
   * Plans a promotion: reads the registries, evaluates the gates, writes nothing. The plan is
   * plain JSON (see promotion-plan.ts). With `dryRun` the copy is estimated.
   */
  plan(req: PromoteRequest): Promise<PromotionPlan> {
    return planPromotion(this.#planner(), req, this.requester(req));
  }

  /**
   * Evaluates the gates of `req.to` for the candidate `req.reference` (as `req.actor` would
   * request it) without planning a promotion: no target tags are checked, nothing is written.
   */
  evaluate(req: PromoteRequest): Promise<CandidateEvaluation> {
    return evaluateCandidate(this.#planner(), req, this.requester(req));
  }

  /** Plans a release (several applications, one environment). */
  planRelease(req: ReleaseRequest): Promise<PromotionPlan> {
    return planRelease(this.#planner(), req, this.requester(req));
  }

  /**
   * An applier of plans over this service's ports (see {@link ApplierOptions}). A job runner
   * creates one per job (or per step) and passes it the stored plan and progress.
   */
  applier(options: ApplierOptions = {}): PromotionApplier {
    const { manifests, now, fresh = false } = options;
    const planner = this.#planner();
    return new PromotionApplier({
      registry: this.#o.registry,
      ledger: options.ledger ?? this.#o.ledger ?? noLedger,
      evaluate: (plan, index, at) => evaluatePlanned(planner, plan, index, at),
      now: now ? () => now : this.#now,
      ...(this.#o.signer && { signer: this.#o.signer }),
      ...(manifests && { manifests }),
      fresh,
    });
  }

  /**
   * Records `promotion.requested` and applies `plan` until it ends or waits for approvals: a
   * pending approval gate leaves it `awaiting-approval` (not an error); a failing gate `rejected`.
   */
  async start(plan: PromotionPlan, options: StepOptions = {}): Promise<PromotionProgress> {
    await (this.#o.ledger ?? noLedger).record({
      type: 'promotion.requested',
      actor: options.actor ?? plan.requestedBy,
      time: plan.requestedAt,
      subject: options.subject ?? subjectOf(plan),
      payload: { environment: plan.environment, plan },
    });
    return this.applier().run(plan, initialProgress(plan), options);
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

  /**
   * Rolls `app` in `env` back to a digest promoted there before (default: the previous one), and
   * records `rollback.completed`.
   */
  async rollback(app: string, env: string, to?: string, req: Requester = {}): Promise<RollbackOutcome> {
    const by = this.requester(req);
    const outcome = await rollback(
      {
        registry: this.#o.registry,
        actor: by.actor,
        now: () => by.now,
        ...(this.#o.signer && { signer: this.#o.signer }),
      },
      this.environment(env),
      this.application(app),
      to,
    );
    await (this.#o.ledger ?? noLedger).record({
      type: 'rollback.completed',
      actor: by.actor,
      time: by.now.toISOString(),
      subject: `${env}: ${app}@${outcome.digest}`,
      payload: { environment: env, outcome: JSON.parse(JSON.stringify(outcome)) as unknown },
    });
    return outcome;
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
    /** When the approval is given. Default: the service's clock. */
    now?: Date;
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
        time: (req.now ?? this.#now()).toISOString(),
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

  /** Promotes (or with `dryRun`, plans) `app` `reference` into `to`, in one call. */
  async promote(req: PromoteRequest): Promise<PromotionOutcome> {
    const manifests = new Map<Digest, Manifest>();
    const by = this.requester(req);
    const plan = await planPromotion(this.#planner(manifests), req, by);
    if (req.dryRun) return outcomeOf(plan, 0, 'planned');
    refuseBlocked(plan);
    if (plan.applications[0]?.unchanged) return outcomeOf(plan, 0, 'unchanged');
    const done = await this.#applyAll(plan, manifests, by.now);
    return outcomeOf(plan, 0, 'completed', done);
  }

  /**
   * Promotes several applications together: every check first, then all content, then the tags
   * of every application (in the undoable order of tag-writes.ts), then the attestations. A
   * failure while writing tags undoes the tags already written, so the environment never shows
   * half a release.
   */
  async promoteRelease(req: ReleaseRequest): Promise<ReleaseOutcome> {
    const manifests = new Map<Digest, Manifest>();
    const by = this.requester(req);
    const plan = await planRelease(this.#planner(manifests), req, by);
    const indexes = plan.applications.map((_, i) => i);
    if (req.dryRun) {
      return {
        status: 'planned',
        environment: req.to,
        applications: indexes.map((i) => outcomeOf(plan, i, 'planned')),
      };
    }
    refuseBlocked(plan);
    const done = await this.#applyAll(plan, manifests, by.now);
    return {
      status: 'completed',
      environment: req.to,
      applications: indexes.map((i) => outcomeOf(plan, i, 'completed', done)),
    };
  }

  /** Applies a plan whose gates passed to its end; a failure is thrown as the error it was. */
  async #applyAll(
    plan: PromotionPlan,
    manifests: ReadonlyMap<Digest, Manifest>,
    now: Date,
  ): Promise<PromotionProgress> {
    const done = await this.applier({ manifests, now, fresh: true }).run(plan, initialProgress(plan));
    if (done.state === 'completed') return done;
    const e = done.error;
    throw new GantryError(
      (e?.code ?? 'INTERNAL') as GantryError['code'],
      e?.message ?? `the promotion ended ${done.state}`,
      e?.details ? { details: e.details as GantryError['details'] } : {},
    );
  }

  #planner(manifests?: Map<Digest, Manifest>): PlannerContext {
    return {
      config: this.#o.config,
      registry: this.#o.registry,
      ...(this.#o.gates && { gates: this.#o.gates }),
      ...(manifests && { manifests }),
    };
  }
}

/** `PROMOTION_GATES_FAILED` when a gate of the plan fails or is pending (the CLI's promote and release). */
function refuseBlocked(plan: PromotionPlan): void {
  const blocked = plan.applications.flatMap((a) => blockingGates(a.gates));
  if (blocked.length === 0) return;
  throw new GantryError(
    'PROMOTION_GATES_FAILED',
    `promotion to ${plan.environment} refused: ${summary(
      plan,
      plan.applications.map((a) => a.gates),
    )}`,
    { details: { gates: blocked.map((g) => g.gate) } },
  );
}
