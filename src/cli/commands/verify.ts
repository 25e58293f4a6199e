/** `gantry verify REF --env ENV [--key PUBLIC.pem]`: check an image's promotion attestation. */
import { readFileSync } from 'node:fs';
import { registryPort } from '../../app.js';
import { GantryError } from '../../core/index.js';
import { verifyPromotion } from '../../promotion/index.js';
import { parseReference } from '../../registry/index.js';
import { printJson, printLines } from '../output.js';
import { createClient, type RegistryOptionValues } from '../registry-options.js';

/** Options of `gantry verify`. */
export interface VerifyOptions extends RegistryOptionValues {
  readonly env: string;
  readonly key?: string[];
  readonly json?: boolean;
}

/** Runs `gantry verify`. */
export async function verify(refText: string, options: VerifyOptions): Promise<number> {
  const ref = parseReference(refText);
  const keys = (options.key ?? []).map((file) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      throw new GantryError('USAGE_INVALID', `cannot read public key ${file}`);
    }
  });
  const client = createClient(options.authfile, [{ hosts: [ref.registry], flags: options }]);
  try {
    const digest = ref.digest ?? (await client.manifestGet(ref)).digest;
    const repo = { registry: ref.registry, repository: ref.repository };
    const outcome = await verifyPromotion(registryPort(client), repo, digest, options.env, keys);
    if (options.json) printJson(outcome);
    else {
      const lines = [
        `${outcome.reference}: promoted to ${outcome.environment}${keys.length ? ', signature verified' : ''}`,
      ];
      for (const a of outcome.attestations) {
        const p = a.predicate;
        lines.push(
          `  ${p.time} ${p.kind} ${p.version ?? ''} from ${p.from?.environment ?? '-'} by ${p.actor} (${a.signature})`,
        );
      }
      printLines(...lines);
    }
    return 0;
  } finally {
    await client.close();
  }
}
