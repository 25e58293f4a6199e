/**
 * The "Waiting" part of `gantry status --server`: promotions awaiting approval or gates on the
 * server, each with what it waits for (the pending gates' reasons, e.g. whose approval).
 */
import type { PromotionView } from '../../jobs/index.js';
import { printLines } from '../output.js';
import { promotionView } from '../promotion-watch.js';
import { objectWith, type ServerClient } from '../server-client.js';

/** The promotions on the server that await approval (newest first, at most 500). */
export async function waitingPromotions(client: ServerClient): Promise<PromotionView[]> {
  const page = await client.get(
    '/promotions',
    objectWith<{ promotions: PromotionView[] }>({ promotions: 'array' }),
    { state: 'awaiting-approval', limit: '500' },
  );
  return page.promotions.map((p) => promotionView(p));
}

/** The `waiting` field of `gantry status --server --json`. */
export function waitingJson(promotions: readonly PromotionView[]) {
  return promotions.map((p) => ({
    id: p.id,
    environment: p.environment,
    from: p.from,
    requestedBy: p.requestedBy,
    applications: p.applications.map((a) => ({
      application: a.application,
      ...(a.version !== undefined && { version: a.version }),
      digest: a.digest,
    })),
    waiting: p.waiting ?? [],
  }));
}

/** Prints the "Waiting" section (nothing when no promotion waits). */
export function printWaiting(promotions: readonly PromotionView[]): void {
  if (promotions.length === 0) return;
  const lines = ['', 'Waiting:'];
  for (const p of promotions) {
    const apps = p.applications.map((a) => `${a.application} ${a.version ?? a.digest}`).join(', ');
    lines.push(`  ${apps} → ${p.environment} (promotion ${p.id}, requested by ${p.requestedBy})`);
    const reasons = p.waiting ?? [];
    if (reasons.length === 0) lines.push('    waiting for its next step');
    for (const w of reasons)
      lines.push(`    ${w.gate}: ${w.reason}${p.applications.length > 1 ? ` (${w.application})` : ''}`);
  }
  printLines(...lines);
}
