/**
 * The current deployments as `GET /api/v1/status` merges them into its cells: read from the store
 * in one query and shared by requests like the registry snapshot (same freshness), dropped at once
 * when a report arrives here or a promotion completes here (it can turn `unpromoted` into
 * `behind`). Another replica's report shows within the status cache's `freshMs`.
 */
import type { EnvironmentState } from '../app.js';
import { Deployments, type CurrentDeployment } from '../store/index.js';
import type { ServerContext } from './context.js';
import { withTargets, type CellWithTargets } from './drift.js';
import { SnapshotCache, type Snapshot } from './snapshot.js';

/** The deployments of one server. */
export class DeploymentBoard {
  readonly store: Deployments;
  readonly #cache: SnapshotCache<CurrentDeployment[]>;
  /** The last merge, reused while neither input changes (the common case under load). */
  #last:
    | {
        readonly cells: readonly EnvironmentState[];
        readonly current: readonly CurrentDeployment[];
        readonly merged: CellWithTargets[];
      }
    | undefined;

  constructor(ctx: ServerContext) {
    this.store = new Deployments(ctx.store.db, ctx.ledger);
    this.#cache = new SnapshotCache(() => this.store.current(), ctx.statusCache);
    ctx.onStatusChange(() => this.changed());
  }

  /** The current deployment of every target. */
  current(): Promise<Snapshot<CurrentDeployment[]>> {
    return this.#cache.get();
  }

  /** A report arrived, or what was promoted changed: the next reading goes to the store. */
  changed(): void {
    this.#cache.invalidate();
  }

  /** `cells` with their targets (the same array for the same inputs). */
  merge(cells: readonly EnvironmentState[], current: readonly CurrentDeployment[]): CellWithTargets[] {
    const last = this.#last;
    if (last && last.cells === cells && last.current === current) return last.merged;
    const merged = withTargets(cells, current);
    this.#last = { cells, current, merged };
    return merged;
  }
}

const boards = new WeakMap<ServerContext, DeploymentBoard>();

/** The deployment board of a server (made on first use). */
export function deploymentBoard(ctx: ServerContext): DeploymentBoard {
  let board = boards.get(ctx);
  if (!board) {
    board = new DeploymentBoard(ctx);
    boards.set(ctx, board);
  }
  return board;
}
