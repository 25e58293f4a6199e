/** `gantry promote APP VERSION|DIGEST --to ENV` and `gantry plan …` (the same, changing nothing). */
import type { PromotionOutcome } from '../../promotion/index.js';
import { withApp, type AppCommandOptions } from '../app-context.js';
import { printJson, printLines } from '../output.js';
import { formatBytes } from '../progress.js';

/** Options of `gantry promote` / `gantry plan`. */
export interface PromoteOptions extends AppCommandOptions {
  readonly to: string;
  readonly from?: string;
  readonly dryRun?: boolean;
}

/** Runs `gantry promote`. */
export async function promote(app: string, reference: string, options: PromoteOptions): Promise<number> {
  const outcome = await withApp(options, (a) =>
    a.promotions.promote({
      app,
      reference,
      to: options.to,
      ...(options.from && { from: options.from }),
      ...(options.dryRun && { dryRun: true }),
    }),
  );
  report(outcome, options.json === true);
  return outcome.status === 'planned' &&
    outcome.gates.some((g) => g.status === 'fail' || g.status === 'pending')
    ? 3
    : 0;
}

/** Runs `gantry plan` (a promotion dry run). */
export function plan(app: string, reference: string, options: PromoteOptions): Promise<number> {
  return promote(app, reference, { ...options, dryRun: true });
}

function report(o: PromotionOutcome, json: boolean): void {
  if (json) {
    printJson(o);
    return;
  }
  const what = `${o.application} ${o.version ?? ''}`.trim();
  const lines: string[] = [];
  if (o.status === 'unchanged')
    lines.push(`${what} is already in ${o.to.environment} (${o.digest}); nothing to do.`);
  else if (o.status === 'planned')
    lines.push(`Plan: promote ${what} (${o.digest}) from ${o.from.environment} to ${o.to.environment}`);
  else lines.push(`Promoted ${what} (${o.digest}) from ${o.from.environment} to ${o.to.environment}`);
  lines.push(`  from ${o.from.repository}`, `  to   ${o.to.repository} (mode ${o.mode})`);
  if (o.copy) {
    const verb = o.status === 'planned' ? 'would copy' : 'copied';
    lines.push(
      `  ${verb} ${formatBytes(o.copy.bytesTransferred)} in ${o.copy.blobsCopied} blobs, ${o.copy.blobsMounted} mounted, ${o.copy.blobsSkipped} already present`,
    );
  }
  for (const c of o.tags.changes)
    lines.push(`  tag ${c.tag}${c.current ? ` (moves from ${c.current})` : ' (new)'}`);
  if (o.tags.changes.length === 0) lines.push('  tags already in place');
  for (const g of o.gates)
    lines.push(`  gate ${g.gate}: ${g.status}${g.reasons.length ? ` — ${g.reasons.join('; ')}` : ''}`);
  if (o.attestation) lines.push(`  attestation ${o.attestation}`);
  printLines(...lines);
}
