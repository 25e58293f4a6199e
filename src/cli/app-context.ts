/**
 * Loading `gantry.yaml` and wiring the application for pipeline commands (promote, plan, status,
 * …). Reads the environment: GANTRY_CONFIG, credentials and keys named in the configuration, and
 * who is acting (GANTRY_ACTOR, or the CI system's user variable, or USER).
 */
import { createApp, type App } from '../app.js';
import { findConfigFile, loadConfigOrThrow } from '../config/index.js';
import { GantryError, isGantryError } from '../core/index.js';
import { authFilePath } from './registry-options.js';

/** Options every pipeline command accepts. */
export interface AppCommandOptions {
  readonly config?: string;
  readonly authfile?: string;
  readonly actor?: string;
  readonly json?: boolean;
}

/** Who is acting, from the flag or the CI environment. */
export function actorOf(flag: string | undefined): string {
  const e = process.env;
  return (
    flag ?? e.GANTRY_ACTOR ?? e.GITHUB_ACTOR ?? e.GITLAB_USER_LOGIN ?? e.BUILD_USER_ID ?? e.USER ?? 'unknown'
  );
}

/** Loads the configuration and wires the app; the caller must `close()` it. */
export async function openApp(options: AppCommandOptions): Promise<App> {
  const config = await loadConfigOrThrow(findConfigFile(options.config));
  return createApp({
    config,
    env: process.env,
    authFile: authFilePath(options.authfile),
    actor: actorOf(options.actor),
  });
}

/** Runs `fn` with a wired app and closes it afterwards; domain errors get the flag that fixes them. */
export async function withApp<T>(options: AppCommandOptions, fn: (app: App) => Promise<T>): Promise<T> {
  const app = await openApp(options);
  try {
    return await fn(app);
  } catch (err) {
    throw withFlagHint(err);
  } finally {
    await app.close();
  }
}

/** The domain names what is missing (`details.missing`); the CLI names its flag. */
function withFlagHint(err: unknown): unknown {
  if (isGantryError(err, 'PROMOTION_UNRECORDED')) {
    return new GantryError(
      err.code,
      err.message.replace(
        /accept unrecorded digests to take the registry as it is$/,
        'pass --allow-unrecorded to accept the registry as it is',
      ),
      { cause: err, details: err.details },
    );
  }
  if (!isGantryError(err, 'USAGE_INVALID')) return err;
  const d = err.details;
  if (d.missing === 'from' && Array.isArray(d.choices)) {
    return new GantryError(
      'USAGE_INVALID',
      `${String(d.environment)} can be promoted from ${d.choices.join(' or ')}: pass --from`,
      { cause: err },
    );
  }
  if (d.missing === 'reason')
    return new GantryError('USAGE_INVALID', '--override needs --reason TEXT saying why', { cause: err });
  return err;
}
