/**
 * `gantry login` / `gantry logout`: storing and removing a registry login in a docker config
 * file, or in the credential helper the file names, the way `docker login` does.
 */
import { GantryError } from '../../core/index.js';
import { AuthKeyIndex, normalizeRegistryHost, parseAuthKey, serverUrlForHost } from './auth-key.js';
import { writeFileAtomic } from './atomic-write.js';
import {
  assertHelperName,
  helperErase,
  helperProgram,
  helperStore,
  type CredentialHelperRunner,
} from './credential-helper.js';
import {
  CREDENTIAL_FIELDS,
  authsOf,
  credHelpersOf,
  credsStoreOf,
  encodeAuth,
  isObject,
  readDockerConfig,
  type DockerConfigObject,
} from './docker-config-file.js';
import { DEFAULT_HELPER_ENV, DEFAULT_HELPER_TIMEOUT_MS, spawnHelperRunner } from './helper-process.js';

/** Options shared by {@link saveLogin} and {@link removeLogin}. */
export interface LoginFileOptions {
  /** Path of the config file (resolved by the CLI, see `DockerConfigCredentialsOptions.path`). Required. */
  readonly path: string;
  /** Registry host in any spelling (`docker.io`, `host:5000`, `https://host:5000`). Required. */
  readonly host: string;
  /** Runs credential helpers. Default: {@link spawnHelperRunner} with `helperEnv` and `timeoutMs`. */
  readonly runHelper?: CredentialHelperRunner;
  /** Complete environment of credential helpers. Default: {@link DEFAULT_HELPER_ENV}. Ignored with `runHelper`. */
  readonly helperEnv?: Readonly<Record<string, string>>;
  /** Milliseconds a helper may run. Default: {@link DEFAULT_HELPER_TIMEOUT_MS}. Ignored with `runHelper`. */
  readonly timeoutMs?: number;
}

/** Options of {@link saveLogin}. */
export interface SaveLoginOptions extends LoginFileOptions {
  /** User name; must not be empty nor contain `:`. Required. */
  readonly username: string;
  /** Password or access token; must not be empty. Required. */
  readonly password: string;
}

/** Where {@link saveLogin} put the credentials, for the CLI's message. */
export type LoginStorage =
  | { readonly kind: 'helper'; /** e.g. `docker-credential-desktop` */ readonly program: string }
  | {
      readonly kind: 'file';
      /** the config file, holding the password base64-encoded */ readonly path: string;
    };

/**
 * Stores a login. When the file names a helper for the host (`credHelpers[host]`, else
 * `credsStore`) the helper's `store` gets it; then stale plaintext credentials for the host are
 * stripped from `auths` so they cannot shadow it. Otherwise `auths[key] = {auth}` is written with
 * docker's key (`https://index.docker.io/v1/` for Docker Hub, the host otherwise), other spellings
 * of the same host lose their credential fields, and every other key is kept as it was.
 * Throws `CREDENTIALS_INVALID`, `AUTH_CONFIG_INVALID` or `AUTH_HELPER_FAILED`.
 */
export async function saveLogin(options: SaveLoginOptions): Promise<LoginStorage> {
  const opts = Object.freeze({ ...options });
  if (opts.username === '' || opts.username.includes(':')) {
    throw new GantryError('CREDENTIALS_INVALID', 'username must be non-empty and must not contain ":"');
  }
  if (opts.password === '') throw new GantryError('CREDENTIALS_INVALID', 'password must not be empty');
  const host = requireHost(opts.host);
  const config = (await readDockerConfig(opts.path)) ?? {};
  const serverUrl = serverUrlForHost(host);
  const helper = helperFor(config, host, opts.path);
  if (helper !== undefined) {
    await helperStore(runnerFor(opts), helper, serverUrl, opts.username, opts.password);
    if (stripHostEntries(config, host, opts.path, 'credentials').hadCredentials)
      await save(opts.path, config);
    return Object.freeze({ kind: 'helper', program: helperProgram(helper) });
  }
  const auths = authsOf(config, opts.path);
  stripHostEntries(config, host, opts.path, 'credentials', serverUrl);
  const existing = isObject(auths[serverUrl]) ? auths[serverUrl] : {};
  const kept = Object.entries(existing).filter(([field]) => !CREDENTIAL_FIELDS.includes(field));
  // Assigning an existing key keeps its position in the file.
  auths[serverUrl] = { ...Object.fromEntries(kept), auth: encodeAuth(opts.username, opts.password) };
  config.auths = auths;
  await save(opts.path, config);
  return Object.freeze({ kind: 'file', path: opts.path });
}

/**
 * Removes the login for a host: through the helper's `erase` when the file names one, and from
 * `auths` under every spelling of the host (repository-scoped keys such as `host/team` stay).
 * Resolves `true` when stored credentials were removed, `false` when there were none (the CLI
 * then says "not logged in to HOST"). A missing file is never created.
 * Throws `AUTH_CONFIG_INVALID` or `AUTH_HELPER_FAILED`.
 */
export async function removeLogin(options: LoginFileOptions): Promise<boolean> {
  const opts = Object.freeze({ ...options });
  const host = requireHost(opts.host);
  const config = await readDockerConfig(opts.path);
  if (config === undefined) return false;
  const helper = helperFor(config, host, opts.path);
  const erased = helper !== undefined && (await helperErase(runnerFor(opts), helper, serverUrlForHost(host)));
  const stripped = stripHostEntries(config, host, opts.path, 'entries');
  if (stripped.changed) await save(opts.path, config);
  return erased || stripped.hadCredentials;
}

function requireHost(host: string): string {
  const normalized = normalizeRegistryHost(host);
  if (normalized === '') throw new GantryError('CREDENTIALS_INVALID', 'registry host is empty');
  return normalized;
}

function helperFor(config: DockerConfigObject, host: string, path: string): string | undefined {
  for (const helper of new AuthKeyIndex(Object.entries(credHelpersOf(config, path))).candidates(host)) {
    assertHelperName(helper, path);
    return helper;
  }
  const store = credsStoreOf(config, path);
  if (store !== undefined) assertHelperName(store, path);
  return store;
}

function runnerFor(opts: LoginFileOptions): CredentialHelperRunner {
  return (
    opts.runHelper ??
    spawnHelperRunner({
      env: opts.helperEnv ?? DEFAULT_HELPER_ENV,
      timeoutMs: opts.timeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS,
    })
  );
}

/**
 * Removes from `auths` the credential fields (`what: 'credentials'`, keeping other fields and
 * dropping entries left empty) or the whole entries (`what: 'entries'`) stored under any
 * host-level spelling of `host` except the key `except`. Mutates `config`.
 */
function stripHostEntries(
  config: DockerConfigObject,
  host: string,
  path: string,
  what: 'credentials' | 'entries',
  except?: string,
): { changed: boolean; hadCredentials: boolean } {
  const auths = authsOf(config, path);
  let changed = false;
  let hadCredentials = false;
  for (const [key, entry] of Object.entries(auths)) {
    const parsed = parseAuthKey(key);
    if (key === except || parsed.host !== host || parsed.path !== '') continue;
    const fields = isObject(entry) ? entry : {};
    hadCredentials ||= CREDENTIAL_FIELDS.some(
      (f) => fields[f] !== undefined && fields[f] !== null && fields[f] !== '',
    );
    const rest = Object.fromEntries(Object.entries(fields).filter(([f]) => !CREDENTIAL_FIELDS.includes(f)));
    if (what === 'entries' || Object.keys(rest).length === 0) delete auths[key];
    else auths[key] = rest;
    changed = true;
  }
  if (changed) config.auths = auths;
  return { changed, hadCredentials };
}

async function save(path: string, config: DockerConfigObject): Promise<void> {
  try {
    await writeFileAtomic(path, `${JSON.stringify(config, null, '\t')}\n`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new GantryError('AUTH_CONFIG_INVALID', `auth file ${path}: cannot be written (${code})`, {
      details: { path },
    });
  }
}
