/**
 * The docker `config.json` / podman `auth.json` file format: reading it, checking the parts
 * Gantry uses (`auths`, `credHelpers`, `credsStore`) and decoding `auths` entries. Every other
 * top-level key is left alone so writers can keep it. Errors name the file, never its secrets.
 */
import { readFile } from 'node:fs/promises';
import { GantryError } from '../../core/index.js';
import type { Credential } from './credential.js';

/** A parsed config file: a plain JSON object, unknown keys included. */
export type DockerConfigObject = Record<string, unknown>;

/** Fields of an `auths` entry that hold a secret; a login replaces or removes all of them. */
export const CREDENTIAL_FIELDS: readonly string[] = Object.freeze([
  'auth',
  'username',
  'password',
  'identitytoken',
  'registrytoken',
]);

/**
 * Reads and parses the file at `path`. Resolves `undefined` when it does not exist; an empty
 * file is an empty object (as in docker). Throws `AUTH_CONFIG_INVALID` when it cannot be read,
 * is not JSON or is not an object. The JSON parser's message is not reused, since it quotes
 * file content.
 */
export async function readDockerConfig(path: string): Promise<DockerConfigObject | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw invalid(path, `cannot be read (${code ?? 'unknown error'})`);
  }
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw invalid(path, `not valid JSON${syntaxPosition(text, err)}`);
  }
  if (!isObject(parsed)) throw invalid(path, 'the top level must be a JSON object');
  return parsed;
}

/** The `auths` object of `config` (empty when absent); throws `AUTH_CONFIG_INVALID` when not an object. */
export function authsOf(config: DockerConfigObject, path: string): Record<string, unknown> {
  const auths = config.auths;
  if (auths === undefined || auths === null) return {};
  if (!isObject(auths)) throw invalid(path, '"auths" must be an object');
  return auths;
}

/**
 * The `credHelpers` map of `config` (empty when absent), without empty names; throws
 * `AUTH_CONFIG_INVALID` when malformed.
 */
export function credHelpersOf(config: DockerConfigObject, path: string): Record<string, string> {
  const helpers = config.credHelpers;
  if (helpers === undefined || helpers === null) return {};
  if (!isObject(helpers)) throw invalid(path, '"credHelpers" must be an object');
  for (const [key, value] of Object.entries(helpers)) {
    if (typeof value !== 'string') throw invalid(path, `"credHelpers" entry ${quote(key)} must be a string`);
  }
  // docker treats an empty helper name as "no helper for this host".
  return Object.fromEntries(
    Object.entries(helpers as Record<string, string>).filter(([, name]) => name !== ''),
  );
}

/** The `credsStore` helper name of `config`, `undefined` when absent or empty. */
export function credsStoreOf(config: DockerConfigObject, path: string): string | undefined {
  const store = config.credsStore;
  if (store === undefined || store === null || store === '') return undefined;
  if (typeof store !== 'string') throw invalid(path, '"credsStore" must be a string');
  return store;
}

/**
 * Decodes one `auths` entry: `auth` (base64 `user:password`, split at the first colon) or
 * podman-style `username` / `password`, plus `identitytoken` and `registrytoken`. Resolves
 * `undefined` for entries without credentials (docker writes `{}` when a helper holds them).
 * Throws `AUTH_CONFIG_INVALID` naming the file and key, never the value.
 */
export function decodeAuthEntry(entry: unknown, key: string, path: string): Credential | undefined {
  if (!isObject(entry)) throw invalid(path, `"auths" entry ${quote(key)} must be an object`);
  const field = (name: string): string | undefined => {
    const value = entry[name];
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string')
      throw invalid(path, `field "${name}" of "auths" entry ${quote(key)} must be a string`);
    return value;
  };
  const auth = field('auth');
  let username = field('username');
  let password = field('password');
  if (auth !== undefined) {
    const decoded = decodeBase64Pair(auth);
    if (decoded === undefined) {
      throw invalid(path, `field "auth" of "auths" entry ${quote(key)} is not base64 of "username:password"`);
    }
    [username, password] = decoded;
  }
  const identityToken = field('identitytoken');
  const registryToken = field('registrytoken');
  const credential: Credential = {
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(identityToken !== undefined ? { identityToken } : {}),
    ...(registryToken !== undefined ? { registryToken } : {}),
  };
  return Object.keys(credential).length === 0 ? undefined : Object.freeze(credential);
}

/** The `auth` field value for a login: base64 of `username:password`. */
export function encodeAuth(username: string, password: string): string {
  return Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
}

/** True for a plain JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function decodeBase64Pair(value: string): [string, string] | undefined {
  const compact = value.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.replace(/=+$/, '').length % 4 === 1)
    return undefined;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(compact, 'base64'));
  } catch {
    return undefined;
  }
  const colon = text.indexOf(':');
  if (colon <= 0) return undefined;
  // docker trims NUL padding some old tools left after the password.
  return [text.slice(0, colon), text.slice(colon + 1).replace(/^\0+|\0+$/g, '')];
}

function syntaxPosition(text: string, err: unknown): string {
  const match = err instanceof Error ? /position (\d+)/.exec(err.message) : null;
  if (!match) return '';
  const before = text.slice(0, Number(match[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return ` (line ${line}, column ${column})`;
}

function invalid(path: string, problem: string): GantryError {
  return new GantryError('AUTH_CONFIG_INVALID', `auth file ${path}: ${problem}`, { details: { path } });
}

function quote(key: string): string {
  return JSON.stringify(key.length > 80 ? `${key.slice(0, 77)}...` : key);
}
