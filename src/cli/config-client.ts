/**
 * Registry access for commands that take a reference rather than an application (`inspect`,
 * `attach`): when a gantry.yaml is found (`--config`, `$GANTRY_CONFIG`, ./gantry.yaml) and it
 * defines the reference's registry, that registry's TLS settings and credentials are used, so
 * `--tls-verify=false` and `--creds` need not be repeated. Any registry flag on the command line
 * wins over the file: then only the flags apply, as without a configuration.
 */
import { createApp } from '../app.js';
import { findConfigFile, loadConfigOrThrow, type Config } from '../config/index.js';
import { isGantryError } from '../core/index.js';
import type { RegistryClient } from '../app.js';
import { actorOf } from './app-context.js';
import { authFilePath, createClient, type RegistryOptionValues } from './registry-options.js';

/** Registry options plus `--config`. */
export interface ConfiguredRegistryOptions extends RegistryOptionValues {
  readonly config?: string;
}

/** gantry.yaml when `--config`, `$GANTRY_CONFIG` or ./gantry.yaml names one; `undefined` when none exists. */
export async function optionalConfig(flag: string | undefined): Promise<Config | undefined> {
  let file: string;
  try {
    file = findConfigFile(flag);
  } catch (err) {
    if (isGantryError(err, 'CONFIG_NOT_FOUND') && flag === undefined) return undefined;
    throw err;
  }
  return loadConfigOrThrow(file);
}

/** A client for `host` (the caller must `close()` it): gantry.yaml's settings for it when there are some and no flag is given. */
export async function clientForHost(
  host: string,
  options: ConfiguredRegistryOptions,
): Promise<{ client: RegistryClient; close: () => Promise<void> }> {
  const flagged =
    options.tlsVerify !== undefined || options.creds !== undefined || options.certDir !== undefined;
  return clientFromConfig(host, flagged ? undefined : await optionalConfig(options.config), options);
}

/**
 * A client for `host` (the caller must `close()` it) from an already loaded `config`: its TLS and
 * credential settings when it configures `host`, else the registry flags in `options`.
 */
export function clientFromConfig(
  host: string,
  config: Config | undefined,
  options: RegistryOptionValues,
): { client: RegistryClient; close: () => Promise<void> } {
  const configured = config && [...config.registries.values()].some((r) => r.host === host);
  if (!config || !configured) {
    const client = createClient(options.authfile, [{ hosts: [host], flags: options }]);
    return { client, close: () => client.close() };
  }
  const app = createApp({
    config,
    env: process.env,
    authFile: authFilePath(options.authfile),
    actor: actorOf(undefined),
  });
  return { client: app.client, close: () => app.close() };
}
