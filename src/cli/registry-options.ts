/**
 * The registry options shared by commands (skopeo-compatible where they overlap) and how they
 * become a {@link RegistryClient}: `--tls-verify`, `--creds`, `--authfile`, `--cert-dir`.
 * This is the only place that reads the environment for registry access.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { GantryError } from '../core/index.js';
import { VERSION } from './version.js';
export { parseBool } from './cli-options.js';
import { createRegistryClient, parseCredsFlag, type HostSettings, type RegistryClient } from '../app.js';

/** Parsed registry options of one side (plain, `--src-…` or `--dest-…`). */
export interface RegistryFlags {
  readonly tlsVerify?: boolean;
  readonly creds?: string;
  readonly certDir?: string;
}

/** Parsed global-ish registry options. */
export interface RegistryOptionValues extends RegistryFlags {
  readonly authfile?: string;
}

/** The auth file in effect: `--authfile`, `$REGISTRY_AUTH_FILE`, `$DOCKER_CONFIG/config.json`, `~/.docker/config.json`. */
export function authFilePath(flag: string | undefined): string {
  if (flag) return flag;
  const env = process.env;
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  if (env.DOCKER_CONFIG) return join(env.DOCKER_CONFIG, 'config.json');
  return join(env.HOME ?? homedir(), '.docker', 'config.json');
}

/** The environment credential helpers run with: the user's own (helpers such as ecr-login need AWS_* and HOME). */
export function helperEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  return env;
}

/** Reads every `*.crt` / `*.pem` in a directory into one PEM bundle. */
export function readCertDir(dir: string): string {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.crt') || n.endsWith('.pem'));
  } catch {
    throw new GantryError('USAGE_INVALID', `cannot read certificate directory ${dir}`);
  }
  if (names.length === 0) throw new GantryError('USAGE_INVALID', `no *.crt or *.pem files in ${dir}`);
  return names.map((n) => readFileSync(join(dir, n), 'utf8')).join('\n');
}

/** One side of a connection: which hosts it covers and how to reach them. */
export interface Side {
  readonly hosts: readonly string[];
  readonly flags: RegistryFlags;
}

/** Builds a client for one or more sides (e.g. source and destination of a copy), sharing one transport. */
export function createClient(authfile: string | undefined, sides: readonly Side[]): RegistryClient {
  const settings = new Map<string, HostSettings>();
  const explicit: Record<string, ReturnType<typeof parseCredsFlag>> = {};
  for (const side of sides) {
    const ca = side.flags.certDir ? readCertDir(side.flags.certDir) : undefined;
    for (const host of side.hosts) {
      settings.set(host, {
        ...(side.flags.tlsVerify === false && { tlsVerify: false }),
        ...(ca !== undefined && { ca }),
      });
      if (side.flags.creds) explicit[host] = parseCredsFlag(side.flags.creds);
    }
  }
  return createRegistryClient({
    explicit,
    authFile: authFilePath(authfile),
    helperEnv: helperEnv(),
    hostSettings: (host) =>
      settings.get(host) ?? settings.get(host.replace('registry-1.docker.io', 'docker.io')) ?? {},
    userAgent: `gantry/${VERSION}`,
  });
}
