/**
 * What runs where, next to what the environments hold: each status cell gains the targets that
 * reported running the application in the environment, and drift is flagged where a target runs
 * something other than the environment's current digest. Pure: the cells come from the registries,
 * the deployments from the store.
 */
import type { EnvironmentState } from '../app.js';
import type { CurrentDeployment } from '../store/index.js';

/**
 * Why a target's digest is not what its environment holds now:
 * - `unpromoted`: the digest was never promoted to the environment (no completed promotion in the
 *   server's store) and is not the environment's current digest — it got there around Gantry;
 * - `behind`: it was promoted there, but the environment has moved on to another digest since.
 */
export type Drift = 'unpromoted' | 'behind';

/** One target of a status cell. */
export interface TargetState {
  readonly target: string;
  readonly digest: string;
  readonly reportedAt: string;
  readonly reportedBy: string;
  /** Absent when the target runs the current digest, or when the registry could not be read. */
  readonly drift?: Drift;
}

/** A status cell with its targets. */
export type CellWithTargets = EnvironmentState & { readonly targets: readonly TargetState[] };

/**
 * The drift of a target running `deployment` in `cell`'s environment; `undefined` for none, or
 * when the cell could not be read (its current digest is then not known).
 */
export function driftOf(cell: EnvironmentState, deployment: CurrentDeployment): Drift | undefined {
  if (cell.state === 'unknown') return undefined;
  if (cell.state === 'present' && cell.digest === deployment.digest) return undefined;
  return deployment.promoted ? 'behind' : 'unpromoted';
}

/** `cells`, each with the targets `deployments` report for its environment and application. */
export function withTargets(
  cells: readonly EnvironmentState[],
  deployments: readonly CurrentDeployment[],
): CellWithTargets[] {
  const byCell = new Map<string, CurrentDeployment[]>();
  for (const d of deployments) {
    const key = `${d.environment}\u0000${d.app}`;
    const list = byCell.get(key);
    if (list) list.push(d);
    else byCell.set(key, [d]);
  }
  return cells.map((cell) => ({
    ...cell,
    targets: (byCell.get(`${cell.environment}\u0000${cell.application}`) ?? []).map((d) => {
      const drift = driftOf(cell, d);
      return {
        target: d.target,
        digest: d.digest,
        reportedAt: d.reportedAt.toISOString(),
        reportedBy: d.reportedBy,
        ...(drift && { drift }),
      };
    }),
  }));
}
