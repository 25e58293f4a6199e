/**
 * The attestation keys of a configuration (part of the composition root): the signer, loaded only
 * by commands that sign, and which promotion records count (signed by a trusted key, or any intact
 * one when no key is configured).
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GantryError } from './core/index.js';
import { atConfigKey, configError, type Config } from './config/index.js';
import { UNAUTHENTICATED, loadSigner, type PromotionTrust, type Signer } from './promotion/index.js';

/** Reads a file named in the configuration; `CONFIG_INVALID` at `where` when it cannot. */
export function readConfigured(config: Config, path: string, where: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw configError(config, where.split('.'), `cannot read ${path}`);
  }
}

/** Refuses a public key where the private key belongs, with a message that says so. */
function publicKeyCheck(pem: string, origin: string): string {
  if (/-----BEGIN (?:RSA )?PUBLIC KEY-----/.test(pem)) {
    throw new GantryError(
      'USAGE_INVALID',
      `${origin} is a public key; attestations are signed with the private key (verifiers use the public one)`,
    );
  }
  return pem;
}

/**
 * The configured attestation signer, loaded on first use: `signer` is a stand-in whose key is read
 * when a signature is made, and `load()` reads it up front (commands that sign call it before
 * writing anything, so a missing key stops them early).
 */
export function lazySigner(
  config: Config,
  env: Readonly<Record<string, string | undefined>>,
): { signer?: Signer; load: () => void } {
  const a = config.attestation;
  if (!a?.keyEnv && !a?.keyFile) return { load: () => undefined };
  let loaded: Signer | undefined;
  const get = (): Signer => (loaded ??= loadConfiguredSigner(config, env) as Signer);
  return {
    signer: {
      get keyid() {
        return get().keyid;
      },
      get key() {
        return get().key;
      },
    },
    load: () => void get(),
  };
}

/** Loads the configured attestation private key; `undefined` when none is configured. */
export function loadConfiguredSigner(
  config: Config,
  env: Readonly<Record<string, string | undefined>>,
): Signer | undefined {
  const a = config.attestation;
  if (!a) return undefined;
  if (a.keyEnv) {
    const pem = env[a.keyEnv];
    if (!pem)
      throw configError(config, ['attestation', 'keyEnv'], `environment variable ${a.keyEnv} is not set`);
    return atConfigKey(config, ['attestation', 'keyEnv'], () =>
      loadSigner(publicKeyCheck(pem, `environment variable ${a.keyEnv}`), `environment variable ${a.keyEnv}`),
    );
  }
  if (a.keyFile) {
    let pem: string;
    try {
      pem = readFileSync(a.keyFile, 'utf8');
    } catch {
      throw configError(config, ['attestation', 'key'], `cannot read ${a.keyFile}`);
    }
    return atConfigKey(config, ['attestation', 'key'], () =>
      loadSigner(publicKeyCheck(pem, a.keyFile ?? ''), a.keyFile ?? ''),
    );
  }
  return undefined;
}

/**
 * Which promotion records count under the configuration: with no attestation key configured,
 * every intact record (unauthenticated); with one, only records signed by a trusted key.
 */
export function attestationTrust(
  config: Config,
  env: Readonly<Record<string, string | undefined>>,
): PromotionTrust {
  const a = config.attestation;
  if (!a?.keyEnv && !a?.keyFile && !a?.publicKeyFiles?.length) return UNAUTHENTICATED;
  let keys: readonly string[] | undefined;
  return Object.freeze({
    required: true,
    publicKeys: () => (keys ??= attestationPublicKeys(config, env)),
  });
}

/**
 * The trusted public keys (PEM) of promotion records: `attestation.publicKey` and
 * `attestation.trustedKeys`, plus the public half of the signing key when it is at hand. Throws
 * `CONFIG_INVALID` when a key file cannot be read, or when no key at all is available.
 */
export function attestationPublicKeys(
  config: Config,
  env: Readonly<Record<string, string | undefined>>,
): string[] {
  const a = config.attestation;
  const keys: string[] = [];
  for (const file of a?.publicKeyFiles ?? []) {
    const pem = readConfigured(config, file, 'attestation.publicKey');
    try {
      keys.push(createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString());
    } catch {
      throw new GantryError(
        'CONFIG_INVALID',
        `${config.file}: attestation.publicKey: ${file} is not a PEM public key`,
      );
    }
  }
  const privateAvailable = a?.keyFile !== undefined || (a?.keyEnv !== undefined && Boolean(env[a.keyEnv]));
  if (privateAvailable) {
    const signer = loadConfiguredSigner(config, env);
    if (signer) keys.push(createPublicKey(signer.key).export({ type: 'spki', format: 'pem' }).toString());
  }
  if (keys.length === 0) {
    throw new GantryError(
      'CONFIG_INVALID',
      `${config.file}: attestation: cannot check signed promotion records: ${a?.keyEnv ? `environment variable ${a.keyEnv} is not set` : 'no key is configured'} and there is no attestation.publicKey`,
    );
  }
  return keys;
}
