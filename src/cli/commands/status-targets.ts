/**
 * The "what runs where" block of `gantry status` (from a server: its cells carry `targets`, the
 * deployment reports; docs/server.md). One line per target, drift flagged; nothing when no cell
 * has targets (the local `status` knows no deployments).
 */
import type { EnvironmentState } from '../../app.js';

/** A target of a status cell, as `GET /api/v1/status` gives it. */
interface Target {
  readonly target: string;
  readonly digest: string;
  readonly reportedAt?: string;
  readonly reportedBy?: string;
  readonly drift?: string;
}

const short = (d: string | undefined): string => (d ? d.slice(7, 19) : '-');

/** The lines of the targets block (empty when no cell has targets). */
export function targetLines(cells: readonly EnvironmentState[]): string[] {
  const rows: string[] = [];
  let drifting = 0;
  for (const cell of cells) {
    const targets = (cell as { targets?: readonly Target[] }).targets ?? [];
    for (const t of targets) {
      const where = `${cell.application} in ${cell.environment} on ${t.target}`;
      let flag = '';
      if (t.drift === 'behind') {
        drifting += 1;
        flag = `  DRIFT behind: ${cell.environment} is at ${cell.version ?? '?'} ${short(cell.digest)}`;
      } else if (t.drift === 'unpromoted') {
        drifting += 1;
        flag = `  DRIFT unpromoted: never promoted to ${cell.environment}`;
      } else if (t.drift !== undefined) {
        drifting += 1;
        flag = `  DRIFT ${t.drift}`;
      }
      const when = t.reportedAt
        ? ` (reported ${t.reportedAt}${t.reportedBy ? ` by ${t.reportedBy}` : ''})`
        : '';
      rows.push(`${where}: ${short(t.digest)}${when}${flag}`);
    }
  }
  if (rows.length === 0) return [];
  const summary =
    drifting === 0
      ? 'Every target runs what its environment holds.'
      : `${drifting} ${drifting === 1 ? 'target drifts' : 'targets drift'} from what ${drifting === 1 ? 'its environment holds' : 'their environments hold'}.`;
  return ['', 'What runs where:', ...rows.map((r) => `  ${r}`), summary];
}
