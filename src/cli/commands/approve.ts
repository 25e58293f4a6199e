/**
 * `gantry approve APP VERSION|DIGEST --env ENV --key approver.pem`: sign an approval of that exact
 * digest for ENV and attach it to the candidate in the registry. The approval is recorded under
 * the name of the configured approver whose public key matches the signing key (the key is the
 * identity); a key that belongs to no configured approver is refused before anything is written.
 */
import { readFile } from 'node:fs/promises';
import { GantryError } from '../../core/index.js';
import { approverOfKey, loadSigner, sameIdentity } from '../../app.js';
import { withApp, type AppCommandOptions } from '../app-context.js';
import { printJson, printLines } from '../output.js';

/** Options of `gantry approve`. */
export interface ApproveOptions extends AppCommandOptions {
  readonly env?: string;
  readonly key?: string;
  readonly from?: string;
  readonly comment?: string;
}

/** Runs `gantry approve`. */
export async function approve(
  app: string | undefined,
  reference: string | undefined,
  options: ApproveOptions,
): Promise<number> {
  // Optional on the command line because `approve --server ID` needs neither; required here.
  const hint = '(see gantry approve --help)';
  if (app === undefined) throw new GantryError('USAGE_INVALID', `missing required argument 'app' ${hint}`);
  if (reference === undefined)
    throw new GantryError('USAGE_INVALID', `missing required argument 'version' ${hint}`);
  const env = options.env;
  if (env === undefined)
    throw new GantryError('USAGE_INVALID', `required option '--env <env>' not specified ${hint}`);
  if (options.key === undefined)
    throw new GantryError('USAGE_INVALID', `required option '--key <private.pem>' not specified ${hint}`);
  const keyFile = options.key;
  let pem: string;
  try {
    pem = await readFile(keyFile, 'utf8');
  } catch {
    throw new GantryError('USAGE_INVALID', `cannot read key ${keyFile}`);
  }
  const signer = loadSigner(pem, keyFile);
  const r = await withApp(options, (a) => {
    const owner = approverOfKey(signer, a.approvers());
    if (!owner) {
      const names = [...a.config.approvers.keys()];
      throw new GantryError(
        'PROMOTION_APPROVER_UNKNOWN',
        `the key in ${options.key} is not the key of any approver in ${a.config.file} (${names.length ? `approvers: ${names.join(', ')}` : 'no approvers are configured'}); nothing was attached`,
        { details: { key: options.key } },
      );
    }
    if (options.actor !== undefined && !sameIdentity(options.actor, owner.name)) {
      throw new GantryError(
        'USAGE_INVALID',
        `--actor ${options.actor} does not own the key in ${options.key}: it is ${owner.name}'s, and an approval is recorded under its key's owner`,
      );
    }
    return a.promotions.approve({
      app,
      reference,
      environment: env,
      signer,
      approver: owner.name,
      ...(options.from && { from: options.from }),
      ...(options.comment && { comment: options.comment }),
    });
  });
  if (options.json) printJson(r);
  else
    printLines(
      `Approved ${app} ${reference} (${r.digest}) for ${env} as ${r.approver}; recorded as ${r.approval}`,
    );
  return 0;
}
