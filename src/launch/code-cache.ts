/**
 * Loads the bundled CLI (one CommonJS file) through `vm.Script` with a V8 code cache, so a
 * `gantry` run deserialises the bytecode compiled by an earlier run instead of parsing and
 * compiling ~1 MB of JavaScript again (about 35 ms of a ~250 ms no-op copy on the benchmark
 * machine). Node 20 has no `module.enableCompileCache()` and no code cache for ES modules, which
 * is why the bundle is CommonJS (docs/decisions/0004-startup-time.md).
 *
 * The cache lives in the user's own cache directory (`$XDG_CACHE_HOME/gantry/code-cache` or
 * `~/.cache/gantry/code-cache`), never in a shared temp directory: bytecode is code, so it is
 * only read from a directory owned by the current user that nobody else may write to. Its file
 * name is the SHA-256 of the bundle's source plus the Node version and architecture; V8 itself
 * rejects data made by another V8 build or with other flags, and the cache is then rewritten.
 * Set `GANTRY_NO_CODE_CACHE=1` to switch it off. Nothing here may make the CLI fail: every cache
 * error means "run without the cache".
 *
 * The bundle must not contain a dynamic `import()`: V8 drops a script's dynamic-import callback
 * when the script comes from cached data, and the import then fails at run time.
 *
 * Only Node built-ins may be imported here: this module is built on its own (as CommonJS, like
 * `bin/gantry.js`) and runs before the bundle is loaded.
 */
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import Module, { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { Script } from 'node:vm';

/** What the CLI bundle exports. */
export interface CliBundle {
  main(argv: readonly string[]): Promise<void>;
}

/** The code-cache directory for this user, or undefined when it is switched off or unknown. */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.GANTRY_NO_CODE_CACHE && env.GANTRY_NO_CODE_CACHE !== '0') return undefined;
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'gantry', 'code-cache');
  let home: string;
  try {
    home = env.HOME ?? homedir();
  } catch {
    return undefined;
  }
  return home && isAbsolute(home) ? join(home, '.cache', 'gantry', 'code-cache') : undefined;
}

/**
 * The cache file for `source` in `dir`, one per command: a cache holds the functions the run that
 * made it compiled, so `gantry --version` must not leave `gantry copy` with a cache that lacks
 * the copy engine.
 */
export function codeCacheFile(dir: string, key: string, argv: readonly string[]): string {
  const command = argv.slice(2).find((a) => !a.startsWith('-')) ?? '';
  const name = /^[a-z][a-z-]{0,30}$/.test(command) ? command : 'other';
  return join(dir, `${key}.${name}.v8`);
}

// Set by scripts/build.mjs: the SHA-256 and length of the bundle it built, so a start does not
// hash 1 MB of source. A bundle that no longer has that length (edited by hand) is hashed instead.
declare const __GANTRY_BUNDLE_SHA256__: string | undefined;
declare const __GANTRY_BUNDLE_LENGTH__: number | undefined;
const BUILT =
  typeof __GANTRY_BUNDLE_SHA256__ === 'string' && typeof __GANTRY_BUNDLE_LENGTH__ === 'number'
    ? { sha256: __GANTRY_BUNDLE_SHA256__, length: __GANTRY_BUNDLE_LENGTH__ }
    : undefined;

/** Names the bundle's source and the V8 build that may use its cache. */
export function bundleKey(source: string): string {
  const hash = BUILT !== undefined && BUILT.length === source.length ? BUILT.sha256 : sha256(source);
  return `${hash.slice(0, 32)}-${process.version}-${process.arch}`;
}

/** Hex SHA-256 of `text` (the bundle loads `node:crypto` at once anyway). */
function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** True when `dir` exists, belongs to this user and only this user may write to it. */
function trustedDir(dir: string): boolean {
  if (typeof process.getuid !== 'function') return false;
  try {
    const st = statSync(dir);
    return st.isDirectory() && st.uid === process.getuid() && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

function readCache(file: string): Buffer | undefined {
  if (!trustedDir(dirname(file))) return undefined;
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Writes the cache atomically and removes entries of other bundles or Node versions. */
function writeCache(file: string, data: Buffer, prefix: string): void {
  const dir = dirname(file);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!trustedDir(dir)) return;
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, file);
    for (const name of readdirSync(dir)) {
      if (name.endsWith('.v8') && !name.startsWith(prefix)) unlinkSync(join(dir, name));
    }
  } catch {
    // a cache that cannot be written is only a slower next start
  }
}

/**
 * Loads the CommonJS bundle at `bundlePath` with the code cache, runs its `main(argv)`, and
 * afterwards stores a fresh cache when there was none or V8 rejected it. The cache is made after
 * the run, so it also holds the functions this command compiled lazily.
 */
export async function launch(bundlePath: string, argv: readonly string[]): Promise<void> {
  const source = readFileSync(bundlePath, 'utf8');
  const dir = codeCacheDir();
  const key = dir === undefined ? '' : bundleKey(source);
  const file = dir === undefined ? undefined : codeCacheFile(dir, key, argv);
  const cachedData = file === undefined ? undefined : readCache(file);
  // No `importModuleDynamically`: a script restored from cached data loses that callback, so the
  // bundle is built without any `import()` (scripts/build.mjs compiles them to `require()`).
  const script = new Script(Module.wrap(source), { filename: bundlePath, cachedData });
  const bundle = { exports: {} as CliBundle };
  const init = script.runInThisContext() as (...args: unknown[]) => void;
  init.call(
    bundle.exports,
    bundle.exports,
    createRequire(bundlePath),
    bundle,
    bundlePath,
    dirname(bundlePath),
  );
  await bundle.exports.main(argv);
  if (file !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    writeCache(file, script.createCachedData(), `${key}.`);
  }
}
