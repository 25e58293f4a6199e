/**
 * The `deployments` table: what deploy tooling reported running where. Every report is kept (the
 * history of a target); the current deployment of a target is its newest report. A report is
 * written with its `deployment.reported` ledger entry in one transaction.
 */
import { sql, type Kysely } from 'kysely';
import type { Ledger } from './ledger.js';
import type { StoreDatabase } from './schema.js';

/** A deployment report as the API takes it. */
export interface NewDeployment {
  readonly environment: string;
  readonly app: string;
  /** Where it runs: a cluster, region, host group (`cluster-a`, `eu-west-1/web`). */
  readonly target: string;
  readonly digest: string;
}

/** A stored deployment report. */
export interface Deployment extends NewDeployment {
  readonly id: number;
  /** The reporter's actor string (`<token name> (<token id>)`). */
  readonly reportedBy: string;
  readonly reportedAt: Date;
}

/** The current deployment of a target, and whether its digest was ever promoted to its environment. */
export interface CurrentDeployment extends Deployment {
  /** A completed promotion (or release) to `environment` carried `app@digest`. */
  readonly promoted: boolean;
}

/** Filters of {@link Deployments.list}. */
export interface DeploymentQuery {
  readonly environment?: string;
  readonly app?: string;
  readonly target?: string;
  /** Only these applications (a team's). */
  readonly apps?: readonly string[];
  /** Newest first; default 100, at most 1000. */
  readonly limit?: number;
}

/** The subject of a target's ledger entries: `deployments/<env>/<app>/<target>`. */
export function deploymentSubject(d: Pick<NewDeployment, 'environment' | 'app' | 'target'>): string {
  return `deployments/${d.environment}/${d.app}/${d.target}`;
}

interface Row {
  id: number;
  environment: string;
  app: string;
  target: string;
  digest: string;
  reported_by: string;
  reported_at: Date;
}

const view = (r: Row): Deployment => ({
  id: Number(r.id),
  environment: r.environment,
  app: r.app,
  target: r.target,
  digest: r.digest,
  reportedBy: r.reported_by,
  reportedAt: new Date(r.reported_at),
});

/** Records and reads deployment reports. */
export class Deployments {
  readonly #db: Kysely<StoreDatabase>;
  readonly #ledger: Ledger;

  /**
   * @param db the store's query builder
   * @param ledger where `deployment.reported` is recorded
   */
  constructor(db: Kysely<StoreDatabase>, ledger: Ledger) {
    this.#db = db;
    this.#ledger = ledger;
  }

  /** Records a report and its `deployment.reported` ledger entry in one transaction. */
  async report(
    d: NewDeployment,
    audit: { readonly actor: string; readonly time: Date },
  ): Promise<Deployment> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('deployments')
        .values({
          environment: d.environment,
          app: d.app,
          target: d.target,
          digest: d.digest,
          reported_by: audit.actor,
          reported_at: audit.time,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const stored = view(row);
      await this.#ledger.append(trx, {
        type: 'deployment.reported',
        subject: deploymentSubject(d),
        actor: audit.actor,
        time: audit.time,
        payload: {
          id: stored.id,
          environment: d.environment,
          application: d.app,
          target: d.target,
          digest: d.digest,
        },
      });
      return stored;
    });
  }

  /** Reports matching `q`, newest first (the history of targets). */
  async list(q: DeploymentQuery = {}): Promise<Deployment[]> {
    const limit = Math.min(Math.max(Math.trunc(q.limit ?? 100), 1), 1000);
    let query = this.#db.selectFrom('deployments').selectAll();
    if (q.environment !== undefined) query = query.where('environment', '=', q.environment);
    if (q.app !== undefined) query = query.where('app', '=', q.app);
    if (q.target !== undefined) query = query.where('target', '=', q.target);
    if (q.apps !== undefined) {
      if (q.apps.length === 0) return [];
      query = query.where('app', 'in', [...q.apps]);
    }
    const rows = await query.orderBy('reported_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map(view);
  }

  /**
   * The current deployment of every target (its newest report), each saying whether its digest
   * was promoted to its environment: one query, whatever the number of targets.
   */
  async current(): Promise<CurrentDeployment[]> {
    const { rows } = await sql<Row & { promoted: boolean }>`
      with cur as (
        select distinct on (environment, app, target)
          id, environment, app, target, digest, reported_by, reported_at
        from deployments
        order by environment, app, target, reported_at desc, id desc
      )
      select cur.*, exists (
        select 1 from promotions p
        where p.state = 'completed'
          and p.to_env = cur.environment
          and p.subjects @> array[cur.app || '@' || cur.digest]::text[]
      ) as promoted
      from cur
      order by cur.environment, cur.app, cur.target`.execute(this.#db);
    return rows.map((r) => ({ ...view(r), promoted: r.promoted === true }));
  }
}
