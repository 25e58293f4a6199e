/**
 * Assembling a promotion plan (the changesets split: assemble here, apply in apply.ts). Reads the
 * registries and evaluates the gates, writes nothing: resolves the candidate to a digest, checks
 * the pipeline and the target's immutable tags, derives the tags, and orders the tag writes so a
 * failure can be undone (see tag-writes.ts).
 */
import { GantryError, type Digest, type Manifest, type Repository } from '../core/index.js';
import {
  repositoryOf,
  type ApplicationConfig,
  type Config,
  type EnvironmentConfig,
} from '../config/index.js';
import type { RecordedGate } from './attestation.js';
import { readCandidate, readSourceCandidate, type Candidate } from './candidate.js';
import { deriveTags } from './derive-tags.js';
import { stateOf } from './environment-state.js';
import { applicationOf, environmentOf, sourceOf } from './lookup.js';
import type { GateEvaluation, GateEvaluator, PromoteRequest, ReleaseRequest } from './model.js';
import { planTags, type TagConflict } from './plan.js';
import type { RegistryPort } from './ports.js';
import { hasPromotionRecord } from './promotion-record.js';
import {
  PLAN_FORMAT,
  type PlannedPromotion,
  type PlannedTagWrite,
  type PromotionPlan,
} from './promotion-plan.js';
import { resolveIfPresent } from './resolve-if-present.js';
import { assertCandidateReference, compareVersions } from './tag-kinds.js';
import { rank } from './tag-writes.js';

/** What planning reads from. */
export interface PlannerContext {
  readonly config: Config;
  readonly registry: RegistryPort;
  /** Gate evaluation. Absent: an environment with gates refuses (fails closed). */
  readonly gates?: GateEvaluator;
  /** Manifests read while planning, by digest; applying in the same process reuses them. */
  readonly manifests?: Map<Digest, Manifest>;
}

/** Who asks, and when (already defaulted by the service). */
export interface PlanRequester {
  readonly actor: string;
  readonly now: Date;
}

/**
 * The plan of promoting one application. With `dryRun`, the copy is estimated; without, whether
 * the target already has it all (`unchanged`) is checked.
 */
export async function planPromotion(
  ctx: PlannerContext,
  req: PromoteRequest,
  by: PlanRequester,
): Promise<PromotionPlan> {
  const item = await planOne(ctx, req, by);
  const a = item.planned;
  let extra: Partial<PlannedPromotion> = {};
  if (req.dryRun) {
    if (a.mode === 'copy')
      extra = { copyEstimate: await ctx.registry.copy(item.src, item.dst, a.digest, { dryRun: true }) };
  } else {
    const present = (await ctx.registry.resolve(item.dst, a.digest)) === a.digest;
    const attested =
      present && (await hasPromotionRecord(ctx.registry, item.dst, a.digest, a.to.environment));
    extra = { unchanged: present && attested && a.tags.changes.length === 0 };
  }
  return assemble('promotion', req, by, item.from, [{ ...a, ...extra }]);
}

/** The plan of promoting several applications together (a release). */
export async function planRelease(
  ctx: PlannerContext,
  req: ReleaseRequest,
  by: PlanRequester,
): Promise<PromotionPlan> {
  if (req.applications.length === 0)
    throw new GantryError('USAGE_INVALID', 'the release lists no applications');
  for (const item of req.applications) assertCandidateReference(item.reference);
  const planned: PlannedPromotion[] = [];
  let from = '';
  for (const item of req.applications) {
    const one = await planOne(
      ctx,
      {
        app: item.app,
        reference: item.reference,
        to: req.to,
        ...(req.from !== undefined && { from: req.from }),
      },
      by,
    );
    from = one.from;
    planned.push(one.planned);
  }
  return assemble('release', { ...req, reports: [] }, by, from, planned);
}

/**
 * Evaluates the gates of `plan.applications[index]` again at `now` (approvals may have arrived,
 * or expired). The candidate is read again by digest from its source.
 */
export async function evaluatePlanned(
  ctx: PlannerContext,
  plan: PromotionPlan,
  index: number,
  now: Date,
): Promise<GateEvaluation> {
  const a = plan.applications[index] as PlannedPromotion;
  const app = applicationOf(ctx.config, a.application);
  const to = environmentOf(ctx.config, plan.environment);
  const from = environmentOf(ctx.config, plan.from);
  const candidate = await readCandidate(ctx.registry, a.source, a.digest);
  const evaluated = await evaluate(ctx, to, candidate, {
    from,
    app,
    ...(a.version !== undefined && { version: a.version }),
    reports: plan.reports,
    requester: plan.requestedBy,
    now,
  });
  return plan.override
    ? { ...evaluated, gates: overridden(to, evaluated.gates, plan.override.reason) }
    : evaluated;
}

/** What evaluating a candidate's gates found, without planning a promotion ({@link evaluateCandidate}). */
export interface CandidateEvaluation extends GateEvaluation {
  readonly digest: Digest;
  /** The source environment. */
  readonly from: string;
  readonly version?: string;
}

/**
 * Evaluates the gates of `req.to` for the candidate `req.reference` in its source, as planning
 * would, without checking the target's tags or estimating a copy: what a reviewer is shown.
 * Reads the registries, writes nothing.
 */
export async function evaluateCandidate(
  ctx: PlannerContext,
  req: PromoteRequest,
  by: PlanRequester,
): Promise<CandidateEvaluation> {
  assertCandidateReference(req.reference);
  const app = applicationOf(ctx.config, req.app);
  const to = environmentOf(ctx.config, req.to);
  const from = sourceOf(ctx.config, to, req.from);
  const candidate = await readSourceCandidate(
    ctx.registry,
    from.name,
    repositoryOf(from, app),
    req.reference,
  );
  const { version } = await deriveTags(ctx.registry, to, candidate, req.reference);
  const evaluated = await evaluate(ctx, to, candidate, {
    from,
    app,
    ...(version !== undefined && { version }),
    reports: req.reports ?? [],
    requester: by.actor,
    now: by.now,
  });
  return {
    ...evaluated,
    digest: candidate.digest,
    from: from.name,
    ...(version !== undefined && { version }),
  };
}

function assemble(
  kind: PromotionPlan['kind'],
  req: { readonly to: string; readonly override?: string; readonly reports?: PromoteRequest['reports'] },
  by: PlanRequester,
  from: string,
  applications: PlannedPromotion[],
): PromotionPlan {
  const writes: PlannedTagWrite[] = applications.flatMap((a, app) =>
    a.tags.changes.map((c) => ({
      app,
      tag: c.tag,
      immutable: a.tags.immutable.includes(c.tag),
      ...(c.current !== undefined && { previous: c.current }),
    })),
  );
  return {
    format: PLAN_FORMAT,
    kind,
    environment: req.to,
    from,
    requestedBy: by.actor,
    requestedAt: by.now.toISOString(),
    ...(req.override !== undefined && { override: { reason: req.override } }),
    reports: req.reports ?? [],
    applications,
    // A stable sort: the order of applications, then of their changes, within each rank.
    tagWrites: [...writes].sort((a, b) => rank(a) - rank(b)),
  };
}

async function planOne(
  ctx: PlannerContext,
  req: PromoteRequest,
  by: PlanRequester,
): Promise<{ planned: PlannedPromotion; from: string; src: Repository; dst: Repository }> {
  assertCandidateReference(req.reference);
  const app = applicationOf(ctx.config, req.app);
  const to = environmentOf(ctx.config, req.to);
  const from = sourceOf(ctx.config, to, req.from);
  const src = repositoryOf(from, app);
  const dst = repositoryOf(to, app);
  const candidate = await readSourceCandidate(ctx.registry, from.name, src, req.reference);
  ctx.manifests?.set(candidate.digest, candidate.manifest);
  await assertInEnvironment(ctx.registry, from, src, candidate, req.reference);
  const derived = await deriveTags(ctx.registry, to, candidate, req.reference);
  const { version, revision } = derived;
  const tags = await planTargetTags(ctx.registry, to, dst, candidate.digest, version, revision);
  if (tags.conflicts.length > 0) throw immutableConflict(to, tags.conflicts);
  const warnings = [...derived.warnings, ...(await downgrade(ctx.registry, to, app, version))];
  const evaluated = await evaluate(ctx, to, candidate, {
    from,
    app,
    ...(version !== undefined && { version }),
    reports: req.reports ?? [],
    requester: by.actor,
    now: by.now,
  });
  const gates =
    req.override !== undefined && !req.dryRun
      ? overridden(to, evaluated.gates, req.override)
      : evaluated.gates;
  const m = candidate.manifest;
  const planned: PlannedPromotion = {
    application: app.name,
    ...(version !== undefined && { version }),
    ...(revision !== undefined && { revision }),
    digest: candidate.digest,
    from: { environment: from.name, repository: `${src.registry}/${src.repository}` },
    to: { environment: to.name, repository: `${dst.registry}/${dst.repository}` },
    mode: to.mode,
    source: { registry: src.registry, repository: src.repository },
    target: { registry: dst.registry, repository: dst.repository },
    manifest: { mediaType: m.mediaType, digest: m.digest, size: m.bytes.byteLength },
    tags: { immutable: tags.immutable, floating: tags.floating, changes: tags.changes },
    gates,
    approvals: evaluated.approvals,
    warnings,
    unchanged: false,
  };
  return { planned, from: from.name, src, dst };
}

async function evaluate(
  ctx: PlannerContext,
  to: EnvironmentConfig,
  candidate: Candidate,
  context: Parameters<GateEvaluator>[2],
): Promise<GateEvaluation> {
  if (to.gates.length === 0) return { gates: [], approvals: [] };
  if (!ctx.gates) {
    // Fail closed: configured gates that cannot be evaluated block the promotion.
    return {
      gates: to.gates.map((g) => ({
        gate: g.name,
        status: 'fail' as const,
        reasons: ['gate evaluation is not available'],
      })),
      approvals: [],
    };
  }
  return ctx.gates(to, candidate, context);
}

async function planTargetTags(
  registry: RegistryPort,
  to: EnvironmentConfig,
  dst: Repository,
  digest: Digest,
  version?: string,
  revision?: string,
) {
  const names = [version, revision, ...to.floating].filter((t): t is string => t !== undefined);
  const current = new Map<string, Digest | undefined>();
  await Promise.all(names.map(async (t) => current.set(t, await resolveIfPresent(registry, dst, t))));
  return planTags({
    target: to,
    digest,
    ...(version !== undefined && { version }),
    ...(revision !== undefined && { revision }),
    current,
  });
}

/** A warning when promoting `version` would move `to` back to an older version than it runs. */
async function downgrade(
  registry: RegistryPort,
  to: EnvironmentConfig,
  app: ApplicationConfig,
  version?: string,
): Promise<string[]> {
  if (version === undefined) return [];
  const now = await stateOf(registry, to, app);
  if (now.version === undefined || (compareVersions(version, now.version) ?? 0) >= 0) return [];
  return [
    `${to.name} runs ${app.name} ${now.version}: promoting ${version} moves it back to an older version`,
  ];
}

/** In a tag-mode source, the candidate must be what the environment holds or has held. */
async function assertInEnvironment(
  registry: RegistryPort,
  from: EnvironmentConfig,
  src: Repository,
  candidate: Candidate,
  reference: string,
): Promise<void> {
  if (from.mode !== 'tag' || !from.tag) return;
  const current = await resolveIfPresent(registry, src, from.tag);
  if (current === candidate.digest) return;
  if (await hasPromotionRecord(registry, src, candidate.digest, from.name)) return;
  throw new GantryError(
    'PROMOTION_NOT_ALLOWED',
    `${reference} (${candidate.digest}) was never promoted to ${from.name}${current ? ` (${from.name} is at ${current})` : ''}`,
  );
}

/**
 * Marks failing and pending gates as overridden; refuses when the environment does not allow
 * overrides, or when the reason says nothing (`USAGE_INVALID`, `details.missing: 'reason'`).
 */
function overridden(to: EnvironmentConfig, gates: readonly RecordedGate[], reason: string): RecordedGate[] {
  if (!to.allowOverride) {
    throw new GantryError(
      'PROMOTION_NOT_ALLOWED',
      `gates of ${to.name} cannot be overridden (the environment does not set allowOverride: true)`,
    );
  }
  if (reason.trim().length < 3)
    throw new GantryError('USAGE_INVALID', 'an override needs a reason saying why (3 characters or more)', {
      details: { missing: 'reason' },
    });
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
