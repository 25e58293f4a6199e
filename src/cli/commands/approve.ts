/**
 * `gantry approve APP VERSION|DIGEST --env ENV --key approver.pem`: sign an approval of that exact
 * digest for ENV and attach it to the candidate in the registry. The approval gate counts it when
 * the key belongs to an approver configured in gantry.yaml.
 */
import { readFile } from 'node:fs/promises';
import { GantryError } from '../../core/index.js';
import { loadSigner } from '../../promotion/index.js';
import { actorOf, withApp, type AppCommandOptions } from '../app-context.js';
import { printJson, printLines } from '../output.js';

/** Options of `gantry approve`. */
export interface ApproveOptions extends AppCommandOptions {
  readonly env: string;
  readonly key: string;
  readonly from?: string;
  readonly comment?: string;
}

/** Runs `gantry approve`. */
export async function approve(app: string, reference: string, options: ApproveOptions): Promise<number> {
  let pem: string;
  try {
    pem = await readFile(options.key, 'utf8');
  } catch {
    throw new GantryError('USAGE_INVALID', `cannot read key ${options.key}`);
  }
  const signer = loadSigner(pem, options.key);
  const r = await withApp(options, (a) =>
    a.promotions.approve({
      app,
      reference,
      environment: options.env,
      signer,
      approver: actorOf(options.actor),
      ...(options.from && { from: options.from }),
      ...(options.comment && { comment: options.comment }),
    }),
  );
  if (options.json) printJson(r);
  else
    printLines(
      `Approved ${app} ${reference} (${r.digest}) for ${options.env} as ${r.approver}; recorded as ${r.approval}`,
    );
  return 0;
}
