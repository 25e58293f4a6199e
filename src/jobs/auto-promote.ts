/**
 * Auto-promotion (issue 12, docs/server.md "Auto-promotion and holds"): the {@link CandidateSink}
 * that stores each new candidate and, for every environment with `auto: true` fed from the
 * candidate's environment, requests its promotion as `gantry auto` through the promotion runtime
 * (gates apply as usual). Planning reads registries, so it runs before the one transaction that
 * stores the candidate, re-checks holds and duplicates under a per-(application, environment)
 * lock, cancels older auto-promotions still waiting (`superseded by <digest>`) and stores the new
 * ones. A rollback puts a hold (runtime.ts); {@link HoldDesk} lists and releases holds.
 */
import type { App } from '../app.js';
import { GantryError, silentLogger, toGantryError, type Logger } from '../core/index.js';
import { Candidates, Ledger, type HoldRow, type Store } from '../store/index.js';
import type { CandidateSink, NewCandidate } from './candidates.js';
import type { DeskCaller } from './desk.js';
import { AUTO_CALLER, type PlannedRequest, type PromotionRuntime } from './runtime.js';

const WAITING = ['requested', 'gated', 'awaiting-approval'] as const;
const DIGEST = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** What happened for one auto-promoted environment. */
export interface AutoPromotionOutcome {
  /** The target environment. */
  readonly environment: string;
  /** The promotion requested. */
  readonly promotion?: string;
  /** Why none was requested. */
  readonly skipped?: string;
  /** Older auto-promotions cancelled for this one. */
  readonly superseded?: readonly string[];
}

/** What {@link AutoPromoter.register} did. */
export interface CandidateRegistration {
  /** False when the candidate was known already (nothing else happened). */
  readonly registered: boolean;
  /** One per environment with `auto: true` fed from the candidate's environment. */
  readonly autoPromotions?: readonly AutoPromotionOutcome[];
}

/** A hold on auto-promotion, as the API shows it. */
export interface HoldView {
  readonly id: number;
  readonly application: string;
  readonly environment: string;
  readonly reason: string;
  /** The actor who put it (by rolling back). */
  readonly createdBy: string;
  /** ISO 8601. */
  readonly createdAt: string;
  readonly releasedAt?: string;
  readonly releasedBy?: string;
}

/** Filters of {@link HoldDesk.holds}. */
export interface HoldFilter {
  readonly app?: string;
  readonly env?: string;
  /** Released holds too. Default: active ones only. */
  readonly all?: boolean;
  /** Only these applications (the caller's teams); default all. */
  readonly apps?: ReadonlySet<string>;
}

/** Holds on auto-promotion, as the hold routes see them. */
export interface HoldDesk {
  /** Holds matching `filter`, newest first. */
  holds(filter: HoldFilter): Promise<HoldView[]>;
  /** Releases the active hold on `app` in `env` (`hold.released`); `API_NOT_FOUND` without one. */
  release(app: string, env: string, caller: DeskCaller): Promise<HoldView>;
}

/** Options of {@link AutoPromoter}. */
export interface AutoPromoterOptions {
  readonly store: Store;
  /** The runtime that plans, stores and runs the promotions. */
  readonly runtime: PromotionRuntime;
  /** The app of the current configuration (read per candidate). */
  readonly app: () => App;
  /** Logs. Default: none. */
  readonly logger?: Logger;
  /** The clock. Default `() => new Date()`. */
  readonly now?: () => Date;
}

/** The candidate sink with auto-promotion, and the holds. */
export class AutoPromoter implements CandidateSink, HoldDesk {
  readonly #o: AutoPromoterOptions;
  readonly #candidates: Candidates;
  readonly #ledger: Ledger;
  readonly #logger: Logger;
  readonly #now: () => Date;

  constructor(options: AutoPromoterOptions) {
    this.#o = Object.freeze({ ...options });
    this.#candidates = new Candidates(options.store.db);
    this.#ledger = new Ledger(options.store.db);
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Stores `candidate` (`candidate.registered`) and requests its auto-promotions. A candidate
   * known already changes nothing. Names not in the configuration are `PROMOTION_UNKNOWN`, a
   * malformed digest `DIGEST_INVALID`; a promotion that cannot be planned is skipped (logged
   * and reported in the outcome), the candidate is stored all the same.
   */
  async register(candidate: NewCandidate): Promise<CandidateRegistration> {
    const config = this.#o.app().config;
    if (!config.applications.has(candidate.app))
      throw new GantryError('PROMOTION_UNKNOWN', `unknown application "${candidate.app}"`);
    if (!config.environments.has(candidate.environment))
      throw new GantryError('PROMOTION_UNKNOWN', `unknown environment "${candidate.environment}"`);
    if (!DIGEST.test(candidate.digest))
      throw new GantryError('DIGEST_INVALID', `not a digest: ${candidate.digest.slice(0, 80)}`);
    if (await this.#candidates.get(candidate.app, candidate.environment, candidate.digest))
      return { registered: false };
    const seen = new Date(candidate.seenAt);
    const seenAt = Number.isNaN(seen.getTime()) ? this.#now() : seen;
    const targets = [...config.environments.values()]
      .filter((e) => e.auto && e.from.includes(candidate.environment))
      .map((e) => e.name)
      .sort();

    // Plan outside the transaction (registry reads); skip early what is held or done already.
    const planned = new Map<string, PlannedRequest>();
    const skipped = new Map<string, string>();
    for (const env of targets) {
      const early = await this.#skipReason(candidate, env);
      if (early) {
        skipped.set(env, early);
        continue;
      }
      try {
        const p = await this.#o.runtime.plan(
          { app: candidate.app, digest: candidate.digest, to: env, from: candidate.environment },
          AUTO_CALLER,
        );
        if (p.plan.applications.every((a) => a.unchanged))
          skipped.set(env, `${env} holds ${candidate.digest} already`);
        else planned.set(env, p);
      } catch (error) {
        const e = toGantryError(error);
        skipped.set(env, `cannot plan: ${e.message} [${e.code}]`);
        this.#logger.warn(
          { app: candidate.app, environment: env, digest: candidate.digest, code: e.code },
          'auto-promotion not requested: planning failed',
        );
      }
    }

    const time = this.#now();
    const outcome = await this.#o.runtime.within(async (tx) => {
      // Every pair lock first, in name order, before any ledger append (no lock-order cycles).
      for (const env of targets) await this.#candidates.lockPair(tx.trx, candidate.app, env);
      const row = await this.#candidates.insert(tx.trx, {
        app: candidate.app,
        environment: candidate.environment,
        digest: candidate.digest,
        ...(candidate.tag !== undefined && { tag: candidate.tag }),
        source: candidate.source,
        seenAt,
        reportedBy: candidate.reportedBy,
      });
      if (!row) return undefined; // registered meanwhile (another replica)
      await this.#ledger.append(tx.trx, {
        type: 'candidate.registered',
        subject: `${candidate.environment}: ${candidate.app}@${candidate.digest}`,
        actor: candidate.reportedBy,
        time,
        payload: {
          application: candidate.app,
          environment: candidate.environment,
          digest: candidate.digest,
          ...(candidate.tag !== undefined && { tag: candidate.tag }),
          source: candidate.source,
          seenAt: seenAt.toISOString(),
        },
      });
      const newest = await this.#candidates.newest(candidate.app, candidate.environment, tx.trx);
      const newer =
        newest && newest.id !== row.id && newest.seen_at > row.seen_at ? newest.digest : undefined;
      const outcomes: AutoPromotionOutcome[] = [];
      for (const env of targets) {
        const plan = planned.get(env);
        if (!plan) {
          outcomes.push({ environment: env, skipped: skipped.get(env) ?? 'not planned' });
          continue;
        }
        const why = newer
          ? `a newer candidate ${newer} arrived first`
          : await this.#skipReason(candidate, env, tx.trx);
        if (why) {
          outcomes.push({ environment: env, skipped: why });
          continue;
        }
        const pending = await this.#candidates.promotionsBy(tx.trx, {
          app: candidate.app,
          environment: env,
          requester: AUTO_CALLER.actor,
          states: WAITING,
        });
        const queuedNewer = pending.find((p) => p.seen_at !== null && p.seen_at > row.seen_at);
        if (queuedNewer) {
          outcomes.push({
            environment: env,
            skipped: `a newer candidate ${queuedNewer.digest} is queued (promotion ${queuedNewer.id})`,
          });
          continue;
        }
        for (const p of pending) await tx.cancel(p.id, AUTO_CALLER, `superseded by ${candidate.digest}`);
        const id = await tx.request(plan);
        outcomes.push({
          environment: env,
          promotion: id,
          ...(pending.length > 0 && { superseded: pending.map((p) => p.id) }),
        });
      }
      return outcomes;
    });
    if (!outcome) return { registered: false };
    for (const o of outcome)
      this.#logger.info(
        { app: candidate.app, digest: candidate.digest, ...o },
        o.promotion ? 'auto-promotion requested' : 'auto-promotion skipped',
      );
    return { registered: true, autoPromotions: outcome };
  }

  /** Why `candidate` is not auto-promoted into `env` (a hold, or a promotion of it there), else undefined. */
  async #skipReason(
    candidate: NewCandidate,
    env: string,
    trx?: Parameters<Candidates['activeHold']>[2],
  ): Promise<string | undefined> {
    const hold = await this.#candidates.activeHold(candidate.app, env, trx);
    if (hold) return `held: ${hold.reason} (release with gantry hold release ${candidate.app} --env ${env})`;
    const live = await this.#candidates.livePromotion(
      trx ?? this.#o.store.db,
      candidate.app,
      env,
      candidate.digest,
    );
    if (live) return `already promoted to ${env} (promotion ${live.id}, ${live.state})`;
    return undefined;
  }

  async holds(filter: HoldFilter): Promise<HoldView[]> {
    const rows = await this.#candidates.holds({
      ...(filter.app !== undefined && { app: filter.app }),
      ...(filter.env !== undefined && { environment: filter.env }),
      ...(filter.all !== undefined && { all: filter.all }),
    });
    return rows.filter((r) => !filter.apps || filter.apps.has(r.app)).map(holdView);
  }

  async release(app: string, env: string, caller: DeskCaller): Promise<HoldView> {
    const time = this.#now();
    const row = await this.#o.runtime.within(async ({ trx }) => {
      await this.#candidates.lockPair(trx, app, env);
      const released = await this.#candidates.release(trx, {
        app,
        environment: env,
        actor: caller.actor,
        time,
      });
      if (!released) return undefined;
      await this.#ledger.append(trx, {
        type: 'hold.released',
        subject: `${env}: ${app}`,
        actor: caller.actor,
        time,
        payload: { hold: released.id, application: app, environment: env, reason: released.reason },
      });
      return released;
    });
    if (!row)
      throw new GantryError('API_NOT_FOUND', `no hold on auto-promotion of ${app} in ${env}`, {
        details: { app, env },
      });
    return holdView(row);
  }
}

/** The API's view of a hold. */
function holdView(r: HoldRow): HoldView {
  return {
    id: r.id,
    application: r.app,
    environment: r.environment,
    reason: r.reason,
    createdBy: r.actor,
    createdAt: r.created_at.toISOString(),
    ...(r.released_at !== null && { releasedAt: r.released_at.toISOString() }),
    ...(r.released_by !== null && { releasedBy: r.released_by }),
  };
}
