/** `gantry rollback APP --env ENV [--to VERSION|DIGEST]`. */
import type { RollbackOutcome } from '../../app.js';
import { withApp, type AppCommandOptions } from '../app-context.js';
import { printJson, printLines } from '../output.js';

/** Options of `gantry rollback`. */
export interface RollbackOptions extends AppCommandOptions {
  readonly env: string;
  readonly to?: string;
}

/** Runs `gantry rollback`. */
export async function rollback(app: string, options: RollbackOptions): Promise<number> {
  const r = await withApp(options, (a) => a.promotions.rollback(app, options.env, options.to));
  printRollback(r, options.json === true);
  return 0;
}

/** Prints what a rollback did (`gantry rollback`, local or through a server). */
export function printRollback(r: RollbackOutcome, json: boolean): void {
  if (json) printJson(r);
  else
    printLines(
      `Rolled ${r.application} in ${r.environment} back to ${r.version ?? ''} ${r.digest}`.replace('  ', ' '),
      `  moved ${r.tags.join(', ')}${r.previousDigest ? ` from ${r.previousDigest}` : ''}; no content copied`,
      `  attestation ${r.attestation}`,
    );
}
