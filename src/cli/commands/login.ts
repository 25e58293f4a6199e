/**
 * `gantry login REGISTRY -u USER` (password on stdin) and `gantry logout REGISTRY`: credentials
 * are checked against the registry first, then stored in the docker config (or `--authfile`), or
 * in the credential helper that file names.
 */
import { GantryError } from '../../core/index.js';
import {
  createRegistryClient,
  isValidRegistryHost,
  normalizeRegistryHost,
  removeLogin,
  saveLogin,
} from '../../app.js';
import { printJson, printLines } from '../output.js';
import { authFilePath, helperEnv, readCertDir, type RegistryOptionValues } from '../registry-options.js';

/** Options of `gantry login`. */
export interface LoginOptions extends RegistryOptionValues {
  readonly username?: string;
  readonly json?: boolean;
}

/** Options of `gantry logout`. */
export interface LogoutOptions {
  readonly authfile?: string;
  readonly json?: boolean;
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Password (from stdin, end with Ctrl-D): ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/**
 * The registry host named on the command line (`host[:port]`, optionally as a URL). Refuses an
 * empty or malformed host with `USAGE_INVALID`, and an address with `user:password@` in it
 * without repeating it: credentials on a command line end up in shell history and process lists.
 */
export function registryArgument(text: string): string {
  const trimmed = text.trim();
  if (trimmed.length === 0) throw new GantryError('USAGE_INVALID', 'the registry host is empty');
  const authority = trimmed.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0] ?? '';
  if (authority.includes('@')) {
    throw new GantryError(
      'USAGE_INVALID',
      'the registry address contains credentials (user:password@); give the host only, and the user with --username',
    );
  }
  const host = normalizeRegistryHost(trimmed);
  if (!isValidRegistryHost(host)) {
    throw new GantryError(
      'USAGE_INVALID',
      `invalid registry host "${host.slice(0, 100)}" (expected host[:port])`,
    );
  }
  return host;
}

/** Runs `gantry login`. */
export async function login(registryText: string, options: LoginOptions): Promise<number> {
  const host = registryArgument(registryText);
  if (!options.username)
    throw new GantryError('USAGE_INVALID', 'login needs --username USER (the password is read from stdin)');
  const password = await readStdin();
  if (password.length === 0) throw new GantryError('CREDENTIALS_INVALID', 'no password on stdin');
  const ca = options.certDir ? readCertDir(options.certDir) : undefined;
  const client = createRegistryClient({
    explicit: { [host]: { username: options.username, password } },
    hostSettings: () => ({
      ...(options.tlsVerify === false && { tlsVerify: false }),
      ...(ca !== undefined && { ca }),
    }),
  });
  try {
    await client.ping(host);
  } finally {
    await client.close();
  }
  const stored = await saveLogin({
    path: authFilePath(options.authfile),
    host,
    username: options.username,
    password,
    helperEnv: helperEnv(),
  });
  const where = stored.kind === 'helper' ? stored.program : stored.path;
  if (options.json) printJson({ registry: host, loggedIn: true, storedIn: where });
  else printLines(`Login succeeded: ${host} (stored in ${where})`);
  return 0;
}

/** Runs `gantry logout`. */
export async function logout(registryText: string, options: LogoutOptions): Promise<number> {
  const host = registryArgument(registryText);
  const removed = await removeLogin({ path: authFilePath(options.authfile), host, helperEnv: helperEnv() });
  if (options.json) printJson({ registry: host, removed });
  else printLines(removed ? `Removed login credentials for ${host}` : `Not logged in to ${host}`);
  return 0;
}
