/**
 * Option definitions shared by commands. Kept free of registry code so that building the command
 * tree (every `gantry` start) loads only commander.
 */
import { Option, type Command } from 'commander';
import { GantryError } from '../core/index.js';

/** Parses a boolean flag value the way skopeo's Go flags do (`--tls-verify=false`). */
export function parseBool(value: string | undefined): boolean {
  if (value === undefined) return true;
  const v = value.toLowerCase();
  if (['true', '1', 't', 'yes'].includes(v)) return true;
  if (['false', '0', 'f', 'no'].includes(v)) return false;
  throw new GantryError('USAGE_INVALID', `invalid boolean "${value}" (use true or false)`);
}

/** Adds `--tls-verify`, `--creds`, `--cert-dir` and `--authfile` to a command. */
export function addRegistryOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--tls-verify [bool]', 'verify TLS certificates; false also allows plain HTTP').argParser(
        parseBool,
      ),
    )
    .option('--creds <user:password>', 'credentials for the registry (instead of the auth file)')
    .option('--cert-dir <dir>', 'directory of extra CA certificates (*.crt, *.pem) to trust')
    .option('--authfile <path>', 'docker config / auth.json to read credentials from');
}

/**
 * The Gantry server a command talks to: `--server URL`, else `GANTRY_SERVER`; undefined when
 * neither is set (the command works locally). Here, not in server-client.ts, so that choosing
 * between the local and the server form of a command loads no HTTP client.
 */
export function serverUrlOf(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const value = flag ?? env.GANTRY_SERVER;
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
