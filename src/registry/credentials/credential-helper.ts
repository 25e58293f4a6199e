/**
 * The docker credential helper protocol
 * (https://github.com/docker/docker-credential-helpers#development): a program
 * `docker-credential-<name>` run with one argument, `get`, `store` or `erase`, reading its input
 * on stdin. `get` and `erase` read a server URL; `store` reads `{ServerURL, Username, Secret}`
 * JSON; `get` prints the same JSON. A `Username` of `<token>` means `Secret` is an identity token.
 *
 * Process spawning is behind {@link CredentialHelperRunner} so tests can fake it; this module
 * only interprets the answers. Messages never carry a secret.
 */
import { GantryError } from '../../core/index.js';
import type { Credential } from './credential.js';

/** A helper sub-command. */
export type CredentialHelperAction = 'get' | 'store' | 'erase';

/** One helper invocation. */
export interface CredentialHelperRequest {
  /** Helper name without the prefix, as written in the config file (`desktop`, `ecr-login`). */
  readonly helper: string;
  /** The sub-command passed as the only argument. */
  readonly action: CredentialHelperAction;
  /** Everything written to the helper's stdin. May contain a secret: never log it. */
  readonly input: string;
}

/** What a helper process did. */
export interface CredentialHelperResult {
  /** Exit status, or `null` when killed by a signal. */
  readonly exitCode: number | null;
  /** Everything printed on stdout (the answer of `get`, or an error message). */
  readonly stdout: string;
  /** Everything printed on stderr. */
  readonly stderr: string;
}

/**
 * Runs a credential helper. Resolves with whatever the process did, including a non-zero exit;
 * rejects with `AUTH_HELPER_FAILED` only when it could not be run (missing, timed out).
 */
export type CredentialHelperRunner = (request: CredentialHelperRequest) => Promise<CredentialHelperResult>;

/** The message helpers built on docker-credential-helpers print when they hold nothing for a server. */
const NOT_FOUND_MESSAGE = 'credentials not found in native keychain';

/** Username docker helpers use to mark `Secret` as an identity (refresh) token. */
const TOKEN_USERNAME = '<token>';

const HELPER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The executable name of helper `name`: `docker-credential-<name>`. */
export function helperProgram(name: string): string {
  return `docker-credential-${name}`;
}

/**
 * Checks a helper name from a config file. Names must be plain words: a `/` would turn
 * `docker-credential-<name>` into a path relative to the working directory.
 * Throws `AUTH_CONFIG_INVALID` naming `configPath`.
 */
export function assertHelperName(name: string, configPath: string): void {
  if (!HELPER_NAME_RE.test(name)) {
    throw new GantryError(
      'AUTH_CONFIG_INVALID',
      `auth file ${configPath}: invalid credential helper name ${quote(name)}`,
      {
        details: { path: configPath },
      },
    );
  }
}

/**
 * Asks helper `helper` for the credentials of `serverUrl`. Resolves `undefined` when the helper
 * holds none; rejects with `AUTH_HELPER_FAILED` when it fails or answers nonsense.
 */
export async function helperGet(
  run: CredentialHelperRunner,
  helper: string,
  serverUrl: string,
): Promise<Credential | undefined> {
  const result = await run({ helper, action: 'get', input: serverUrl });
  if (result.exitCode !== 0) {
    if (isNotFound(result)) return undefined;
    throw helperFailure(helper, 'get', serverUrl, result, []);
  }
  if (result.stdout.trim() === '') return undefined;
  let answer: unknown;
  try {
    answer = JSON.parse(result.stdout);
  } catch {
    throw new GantryError(
      'AUTH_HELPER_FAILED',
      `credential helper ${helperProgram(helper)} printed invalid JSON for ${serverUrl}`,
      {
        details: { helper: helperProgram(helper), serverUrl },
      },
    );
  }
  const username = stringField(answer, 'Username');
  const secret = stringField(answer, 'Secret');
  if (!secret) return undefined;
  if (username === TOKEN_USERNAME) return Object.freeze({ identityToken: secret });
  return Object.freeze(username ? { username, password: secret } : { password: secret });
}

/** Stores `username` / `secret` for `serverUrl` in helper `helper`; rejects with `AUTH_HELPER_FAILED`. */
export async function helperStore(
  run: CredentialHelperRunner,
  helper: string,
  serverUrl: string,
  username: string,
  secret: string,
): Promise<void> {
  const input = JSON.stringify({ ServerURL: serverUrl, Username: username, Secret: secret });
  const result = await run({ helper, action: 'store', input });
  if (result.exitCode !== 0) throw helperFailure(helper, 'store', serverUrl, result, [secret, input]);
}

/**
 * Erases what helper `helper` holds for `serverUrl`. Resolves `false` when it held nothing;
 * rejects with `AUTH_HELPER_FAILED` on any other failure.
 */
export async function helperErase(
  run: CredentialHelperRunner,
  helper: string,
  serverUrl: string,
): Promise<boolean> {
  const result = await run({ helper, action: 'erase', input: serverUrl });
  if (result.exitCode === 0) return true;
  if (isNotFound(result)) return false;
  throw helperFailure(helper, 'erase', serverUrl, result, []);
}

function isNotFound(result: CredentialHelperResult): boolean {
  return `${result.stdout}\n${result.stderr}`.toLowerCase().includes(NOT_FOUND_MESSAGE);
}

function helperFailure(
  helper: string,
  action: CredentialHelperAction,
  serverUrl: string,
  result: CredentialHelperResult,
  secrets: readonly string[],
): GantryError {
  const status = result.exitCode === null ? 'killed by a signal' : `exit status ${result.exitCode}`;
  const line = diagnosticLine(result, secrets);
  const program = helperProgram(helper);
  return new GantryError(
    'AUTH_HELPER_FAILED',
    `credential helper ${program} ${action} failed for ${serverUrl} (${status})${line === '' ? '' : `: ${line}`}`,
    { details: { helper: program, action, serverUrl, exitCode: result.exitCode ?? undefined } },
  );
}

/**
 * The first meaningful line the helper printed: stderr first, then stdout (helpers built on
 * docker-credential-helpers report errors on stdout). Lines that look like JSON answers are
 * skipped and known secrets are masked, so the line is safe to print.
 */
function diagnosticLine(result: CredentialHelperResult, secrets: readonly string[]): string {
  for (const text of [result.stderr, result.stdout]) {
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.trim();
      if (line === '' || line.startsWith('{') || line.startsWith('[')) continue;
      const masked = secrets.reduce((acc, s) => (s === '' ? acc : acc.split(s).join('***')), line);
      return masked.length > 200 ? `${masked.slice(0, 197)}...` : masked;
    }
  }
  return '';
}

function stringField(value: unknown, name: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const field = (value as Record<string, unknown>)[name];
  return typeof field === 'string' ? field : undefined;
}

function quote(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
}
