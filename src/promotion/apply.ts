/**
 * Applying a promotion plan one step at a time (docs/decisions/0010-promotion-state-machine.md).
 * Each call of {@link PromotionApplier.step} does the work of one state, or one unit of it (one
 * application's copy, one tag, one promotion record), records a ledger event before each action,
 * and returns the new progress as plain JSON. A job runner stores plan and progress after every
 * step; after a crash a new applier resumes from what was stored. Every step can be repeated:
 * copying present content transfers nothing, writing a tag that already points at the digest
 * moves nothing, and a record already attached is not attached again.
 */
import {
  GantryError,
  throwIfAborted,
  toGantryError,
  unlessAborted,
  type Digest,
  type Manifest,
} from '../core/index.js';
import {
  Annotations,
  PROMOTION_ARTIFACT_TYPE,
  attestationArtifact,
  envelope,
  statementFor,
  type PromotionPredicate,
  type Signer,
} from './attestation.js';
import type { LedgerEventType, LedgerPort } from './ledger-port.js';
import type { GateEvaluation } from './model.js';
import type { CopyProgress, RegistryPort } from './ports.js';
import {
  type PlainError,
  type PlannedPromotion,
  type PlannedTagWrite,
  type PromotionPlan,
  type PromotionProgress,
  subjectOf,
  summary,
} from './promotion-plan.js';
import { isTerminal, next, type PromotionEvent } from './states.js';
import { tagWriteFailure, undoWrites, type TagWrite } from './tag-writes.js';

/** What applying needs from the outside world. */
export interface ApplierContext {
  readonly registry: RegistryPort;
  readonly ledger: LedgerPort;
  /** Evaluates the gates of one application again (while approvals are awaited). */
  readonly evaluate: (plan: PromotionPlan, index: number, now: Date) => Promise<GateEvaluation>;
  /** Signs promotion records. Default: unsigned. */
  readonly signer?: Signer;
  /** Clock. Default `() => new Date()`. */
  readonly now?: () => Date;
  /** Manifests by digest, read while planning in this process (saves reading them again). */
  readonly manifests?: ReadonlyMap<Digest, Manifest>;
  /**
   * True when nothing of the plan can have been applied before (planned and applied in one call,
   * as the CLI does): a record is then attached without first looking for one an interrupted
   * earlier attempt attached. Default false.
   */
  readonly fresh?: boolean;
}

/** Per-call options of the applier. */
export interface StepOptions {
  /** Who acts (recorded in the ledger). Default: the plan's requester. */
  readonly actor?: string;
  /** What ledger events are about, e.g. the job's id. Default: the plan's applications and environment. */
  readonly subject?: string;
  /** Aborts the step's registry work (a job's lost lease, a cancellation). */
  readonly signal?: AbortSignal;
  /** Copy progress of the application being copied (`index` in the plan). */
  readonly onCopyProgress?: (index: number, progress: CopyProgress) => void;
}

/** A ledger write that failed: the action it describes did not happen, so the step is not failed. */
class LedgerUnavailable extends Error {}

const gateVerdict = (gates: readonly (readonly { status: string }[])[]): 'pass' | 'pending' | 'fail' =>
  gates.some((g) => g.some((x) => x.status === 'fail'))
    ? 'fail'
    : gates.some((g) => g.some((x) => x.status === 'pending'))
      ? 'pending'
      : 'pass';

/** Applies promotion plans step by step through the states of states.ts. */
export class PromotionApplier {
  readonly #c: ApplierContext;
  readonly #now: () => Date;
  readonly #fetched = new Map<Digest, Manifest>();

  constructor(context: ApplierContext) {
    this.#c = Object.freeze({ ...context });
    this.#now = context.now ?? (() => new Date());
  }

  /**
   * Does the next unit of work of `plan` from `progress` and returns the new progress. A step
   * that fails moves the promotion to `failed` (its tags undone first, when writing them failed);
   * a failing ledger throws, leaving `progress` as it was, and so does a step aborted by
   * `options.signal` (`OPERATION_ABORTED`: the job stopped, the promotion did not fail). A
   * terminal progress is returned as is.
   */
  async step(
    plan: PromotionPlan,
    progress: PromotionProgress,
    options: StepOptions = {},
  ): Promise<PromotionProgress> {
    if (isTerminal(progress.state)) return progress;
    throwIfAborted(options.signal, what(plan));
    try {
      return await this.#step(plan, progress, options);
    } catch (err) {
      if (err instanceof LedgerUnavailable) throw err.cause;
      // An aborted step says the job stopped (a lost lease, a shutdown), not that the promotion
      // failed: the progress stays where it was and a new attempt resumes from it.
      if (options.signal?.aborted) throw unlessAborted(err, options.signal, what(plan));
      return this.fail(plan, progress, err, options);
    }
  }

  /** Steps until the promotion ends or waits for approvals. */
  async run(
    plan: PromotionPlan,
    progress: PromotionProgress,
    options: StepOptions = {},
  ): Promise<PromotionProgress> {
    let p = progress;
    while (!isTerminal(p.state)) {
      p = await this.step(plan, p, options);
      if (p.state === 'awaiting-approval') return p;
    }
    return p;
  }

  /**
   * Rejects the promotion while it is `requested`, `gated` or `awaiting-approval` (records
   * `promotion.rejected`); `PROMOTION_STATE_CONFLICT` otherwise.
   */
  reject(
    plan: PromotionPlan,
    progress: PromotionProgress,
    reason: string,
    options: StepOptions = {},
  ): Promise<PromotionProgress> {
    return this.#end(plan, progress, { type: 'reject', reason }, 'promotion.rejected', options);
  }

  /**
   * Cancels the promotion before `verifying` (records `promotion.cancelled`); once tags are being
   * written, `PROMOTION_STATE_CONFLICT`.
   */
  cancel(
    plan: PromotionPlan,
    progress: PromotionProgress,
    reason: string,
    options: StepOptions = {},
  ): Promise<PromotionProgress> {
    return this.#end(plan, progress, { type: 'cancel', reason }, 'promotion.cancelled', options);
  }

  /** Records `err` and moves the promotion to `failed`. */
  async fail(
    plan: PromotionPlan,
    progress: PromotionProgress,
    err: unknown,
    options: StepOptions = {},
  ): Promise<PromotionProgress> {
    const e = toGantryError(err);
    const error: PlainError = {
      code: e.code,
      message: e.message,
      ...(Object.keys(e.details).length > 0 && { details: { ...e.details } }),
    };
    const state = next(progress.state, { type: 'fail', reason: e.message });
    await this.#record(plan, 'promotion.failed', { error, state: progress.state }, options).catch(
      (x: unknown) => {
        throw x instanceof LedgerUnavailable ? x.cause : x;
      },
    );
    return { ...progress, state, error };
  }

  async #end(
    plan: PromotionPlan,
    progress: PromotionProgress,
    event: Extract<PromotionEvent, { type: 'reject' | 'cancel' }>,
    type: LedgerEventType,
    options: StepOptions,
  ): Promise<PromotionProgress> {
    const state = next(progress.state, event);
    const reason = event.reason ?? '';
    await this.#record(plan, type, { reason, state: progress.state }, options).catch((x: unknown) => {
      throw x instanceof LedgerUnavailable ? x.cause : x;
    });
    return { ...progress, state, reason };
  }

  async #step(plan: PromotionPlan, p: PromotionProgress, o: StepOptions): Promise<PromotionProgress> {
    switch (p.state) {
      case 'requested':
        return this.#gated(plan, p, { gates: p.gates, approvals: p.approvals }, o);
      case 'gated':
        if (gateVerdict(p.gates) === 'pass') {
          await this.#record(plan, 'promotion.approved', { approvals: p.approvals }, o);
          return { ...p, state: next(p.state, { type: 'approved' }) };
        }
        return { ...p, state: next(p.state, { type: 'gates-pending' }) };
      case 'awaiting-approval': {
        const now = this.#now();
        const evaluated = await Promise.all(plan.applications.map((_, i) => this.#c.evaluate(plan, i, now)));
        const gated = await this.#gated(
          plan,
          p,
          { gates: evaluated.map((e) => e.gates), approvals: evaluated.map((e) => e.approvals) },
          o,
        );
        return gated;
      }
      case 'approved':
        await this.#record(
          plan,
          'promotion.copying',
          { tagWrites: plan.tagWrites, digests: plan.applications.map((a) => a.digest) },
          o,
        );
        return { ...p, state: next(p.state, { type: 'copy-started' }) };
      case 'copying':
        return this.#copy(plan, p, o);
      case 'verifying':
        return this.#verifying(plan, p, o);
      default:
        return p;
    }
  }

  /** Records the gate results; a failing gate rejects, a pending one waits. */
  async #gated(
    plan: PromotionPlan,
    p: PromotionProgress,
    e: Pick<PromotionProgress, 'gates' | 'approvals'>,
    o: StepOptions,
  ): Promise<PromotionProgress> {
    const verdict = gateVerdict(e.gates);
    // Asking again while approvals are awaited records only what changed.
    const same = p.state === 'awaiting-approval' && JSON.stringify(p.gates) === JSON.stringify(e.gates);
    if (!same) await this.#record(plan, 'promotion.gated', { verdict, gates: e.gates }, o);
    if (verdict === 'fail') {
      const reason = summary(plan, e.gates);
      await this.#record(plan, 'promotion.rejected', { reason }, o);
      return { ...p, ...e, state: next(p.state, { type: 'gates-failed', reason }), reason };
    }
    if (p.state === 'awaiting-approval' && verdict === 'pass') {
      await this.#record(plan, 'promotion.approved', { approvals: e.approvals }, o);
      return { ...p, ...e, state: next(p.state, { type: 'approved' }) };
    }
    return {
      ...p,
      ...e,
      state: next(p.state, { type: verdict === 'pass' ? 'gates-passed' : 'gates-pending' }),
    };
  }

  /** Copies the next application's content (nothing in tag mode or when unchanged). */
  async #copy(plan: PromotionPlan, p: PromotionProgress, o: StepOptions): Promise<PromotionProgress> {
    const i = p.copies.length;
    if (i >= plan.applications.length) return { ...p, state: next(p.state, { type: 'copied' }) };
    const a = plan.applications[i] as PlannedPromotion;
    const report = o.onCopyProgress;
    const copy =
      a.mode === 'copy' && !a.unchanged
        ? await this.#c.registry.copy(a.source, a.target, a.digest, {
            ...(o.signal && { signal: o.signal }),
            ...(report && { onProgress: (x: CopyProgress) => report(i, x) }),
          })
        : null;
    return { ...p, copies: [...p.copies, copy] };
  }

  /** Verifies every target, then writes the tags one by one, then attaches the records. */
  async #verifying(plan: PromotionPlan, p: PromotionProgress, o: StepOptions): Promise<PromotionProgress> {
    const registry = this.#c.registry;
    const stopIfAborted = (): void => throwIfAborted(o.signal, what(plan));
    if (!p.verified) {
      for (const a of plan.applications) {
        if (a.unchanged) continue;
        stopIfAborted();
        if ((await registry.resolve(a.target, a.digest)) !== a.digest) {
          throw new GantryError(
            'REGISTRY_DIGEST_MISMATCH',
            `${a.to.repository} does not resolve ${a.digest} after the copy`,
          );
        }
      }
      return { ...p, verified: true, publishedAt: this.#now().toISOString() };
    }
    if (p.tagsWritten < plan.tagWrites.length) {
      const w = plan.tagWrites[p.tagsWritten] as PlannedTagWrite;
      const attempted: TagWrite[] = [];
      try {
        for (const x of plan.tagWrites.slice(0, p.tagsWritten + 1)) {
          stopIfAborted();
          attempted.push(await this.#write(plan, x));
        }
        const last = attempted[attempted.length - 1] as TagWrite;
        stopIfAborted();
        await registry.tag(last.repo, w.tag, last.manifest);
      } catch (err) {
        // Aborted: the tags already written are the ones a resumed step writes again; nothing is undone.
        if (o.signal?.aborted) throw unlessAborted(err, o.signal, what(plan));
        throw tagWriteFailure(what(plan), err, attempted, await undoWrites(registry, attempted));
      }
      return { ...p, tagsWritten: p.tagsWritten + 1 };
    }
    const i = p.attestations.length;
    if (i < plan.applications.length) {
      const a = plan.applications[i] as PlannedPromotion;
      stopIfAborted();
      try {
        const digest = a.unchanged ? null : await this.#attest(plan, p, i, stopIfAborted);
        return { ...p, attestations: [...p.attestations, digest] };
      } catch (err) {
        if (o.signal?.aborted) throw unlessAborted(err, o.signal, what(plan));
        // The tags are written but the promotion fails: undo them too, so the environment is left
        // as it was (or the error says what could not be undone), as for a failed tag write.
        const written: TagWrite[] = [];
        for (const x of plan.tagWrites) written.push(await this.#write(plan, x));
        throw tagWriteFailure(
          what(plan),
          err,
          written,
          await undoWrites(registry, written),
          'attaching records',
        );
      }
    }
    await this.#record(plan, 'promotion.completed', { attestations: p.attestations }, o);
    return { ...p, state: next(p.state, { type: 'verified' }) };
  }

  /** A planned tag write with the manifest it points at. */
  async #write(plan: PromotionPlan, w: PlannedTagWrite): Promise<TagWrite> {
    const a = plan.applications[w.app] as PlannedPromotion;
    return {
      repo: a.target,
      tag: w.tag,
      manifest: await this.#manifest(a),
      immutable: w.immutable,
      ...(w.previous !== undefined && { previous: w.previous }),
    };
  }

  /** The candidate's manifest: read while planning, or read again from the target by digest. */
  async #manifest(a: PlannedPromotion): Promise<Manifest> {
    const known = this.#c.manifests?.get(a.digest) ?? this.#fetched.get(a.digest);
    if (known) return known;
    const m = await this.#c.registry.manifest(a.target, a.digest);
    if (m.digest !== a.digest)
      throw new GantryError(
        'REGISTRY_DIGEST_MISMATCH',
        `${a.to.repository} returned ${m.digest} for ${a.digest}`,
      );
    this.#fetched.set(a.digest, m);
    return m;
  }

  /** Attaches the promotion record of application `i`, with the approvals that counted; returns its digest. */
  async #attest(
    plan: PromotionPlan,
    p: PromotionProgress,
    i: number,
    stopIfAborted: () => void,
  ): Promise<Digest> {
    const a = plan.applications[i] as PlannedPromotion;
    const predicate: PromotionPredicate = {
      kind: 'promotion',
      application: a.application,
      ...(a.version !== undefined && { version: a.version }),
      ...(a.revision !== undefined && { revision: a.revision }),
      digest: a.digest,
      from: a.from,
      to: a.to,
      tags: [...a.tags.immutable, ...a.tags.floating],
      time: p.publishedAt ?? this.#now().toISOString(),
      actor: plan.requestedBy,
      gates: p.gates[i] ?? a.gates,
      approvals: p.approvals[i] ?? [],
      ...(plan.override && { override: plan.override }),
    };
    const m = a.manifest;
    const artifact = attestationArtifact(
      envelope(statementFor(a.to.repository, predicate), this.#c.signer),
      { mediaType: m.mediaType, digest: m.digest, size: m.size },
      predicate,
    );
    const earlier = this.#c.fresh ? undefined : await this.#attached(a, predicate);
    if (earlier) return earlier;
    stopIfAborted();
    await this.#c.registry.attach(a.target, artifact);
    return artifact.digest;
  }

  /**
   * A record of this promotion that an interrupted earlier attempt attached: same environment,
   * actor and time (the time is fixed in the progress before any record is made).
   */
  async #attached(a: PlannedPromotion, predicate: PromotionPredicate): Promise<Digest | undefined> {
    const list = await this.#c.registry.referrers(a.target, a.digest, PROMOTION_ARTIFACT_TYPE);
    return list.find((d) => {
      const n = d.annotations ?? {};
      return (
        n[Annotations.kind] === 'promotion' &&
        n[Annotations.env] === predicate.to.environment &&
        n[Annotations.actor] === predicate.actor &&
        n[Annotations.created] === predicate.time
      );
    })?.digest;
  }

  async #record(
    plan: PromotionPlan,
    type: LedgerEventType,
    payload: Record<string, unknown>,
    o: StepOptions,
  ): Promise<void> {
    try {
      await this.#c.ledger.record({
        type,
        actor: o.actor ?? plan.requestedBy,
        time: this.#now().toISOString(),
        subject: o.subject ?? subjectOf(plan),
        payload: { environment: plan.environment, ...payload },
      });
    } catch (err) {
      throw new LedgerUnavailable('the ledger is unavailable', { cause: err });
    }
  }
}

/** How a failure names the promotion or release. */
function what(plan: PromotionPlan): string {
  const a = plan.applications[0] as PlannedPromotion;
  return plan.kind === 'release'
    ? `release to ${plan.environment}`
    : `promotion of ${a.application} ${a.version ?? a.digest} to ${plan.environment}`;
}
