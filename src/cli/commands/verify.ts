/**
 * `gantry verify REF --env ENV [--key PUBLIC.pem] [--allow-unsigned]`: check an image's promotion
 * attestation. The trusted keys are the `--key` files, else the attestation keys of gantry.yaml
 * (`attestation.publicKey`, `attestation.trustedKeys`, or the public half of the signing key).
 * Nothing verified is a failure, unless `--allow-unsigned` accepts intact unsigned attestations.
 * When a gantry.yaml is found and no registry flag is given, the registry's TLS and credential
 * settings come from it.
 */
import { readFileSync } from 'node:fs';
import { attestationPublicKeys, attestationTrust, registryPort } from '../../app.js';
import { GantryError } from '../../core/index.js';
import { verifyPromotion } from '../../app.js';
import { parseReference } from '../../app.js';
import { clientFromConfig, optionalConfig } from '../config-client.js';
import { printJson, printLines } from '../output.js';
import type { RegistryOptionValues } from '../registry-options.js';

/** Options of `gantry verify`. */
export interface VerifyOptions extends RegistryOptionValues {
  readonly env: string;
  readonly key?: string[];
  readonly allowUnsigned?: boolean;
  readonly config?: string;
  readonly json?: boolean;
}

/** Runs `gantry verify`. */
export async function verify(refText: string, options: VerifyOptions): Promise<number> {
  const ref = parseReference(refText);
  const flagged =
    options.tlsVerify !== undefined || options.creds !== undefined || options.certDir !== undefined;
  // gantry.yaml is read only for what the command line does not say (keys, registry settings).
  const needed = options.config !== undefined || !flagged || (options.key ?? []).length === 0;
  const config = needed ? await optionalConfig(options.config) : undefined;
  const keys = (options.key ?? []).map((file) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      throw new GantryError('USAGE_INVALID', `cannot read public key ${file}`);
    }
  });
  if (keys.length === 0 && config && attestationTrust(config, process.env).required)
    keys.push(...attestationPublicKeys(config, process.env));
  const { client, close } = clientFromConfig(ref.registry, flagged ? undefined : config, options);
  try {
    const digest = ref.digest ?? (await client.manifestGet(ref)).digest;
    const repo = { registry: ref.registry, repository: ref.repository };
    const outcome = await verifyPromotion(registryPort(client), repo, digest, options.env, keys, {
      allowUnsigned: options.allowUnsigned === true,
    });
    if (options.json) printJson(outcome);
    else {
      const lines = [
        `${outcome.reference}: promoted to ${outcome.environment}, ${outcome.signatureVerified ? 'signature verified' : 'UNSIGNED (accepted with --allow-unsigned; nothing was verified)'}`,
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
    await close();
  }
}
