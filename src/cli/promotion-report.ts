/** The result of `gantry promote` / `gantry plan` for one application, as local and server promotions print it. */
import type { PromotionOutcome } from '../app.js';
import { printJson, printLines } from './output.js';
import { formatBytes } from './progress.js';

/** Prints what promoting one application did (or would do): human lines, or the outcome as JSON. */
export function reportPromotion(o: PromotionOutcome, json: boolean): void {
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
  for (const w of o.warnings) lines.push(`  warning: ${w}`);
  if (o.attestation) lines.push(`  attestation ${o.attestation}`);
  printLines(...lines);
}
