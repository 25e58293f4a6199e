/**
 * Registry clients and the promotion layer's registry port, built in one place for the CLI, the
 * server and createApp: credentials (explicit ones first, then a docker config / auth.json and
 * its helpers), TLS per host, and the user agent. Part of the composition root (app.ts re-exports
 * it); nothing else constructs a RegistryClient.
 */
import { GantryError, isGantryError, type Digest } from './core/index.js';
import type { CredentialSource, RegistryConfig } from './config/index.js';
import { RegistryTarget, Scheduler, copyImage, type CopyListener, type CopyResult } from './copy/index.js';
import type { CopyProgress, RegistryPort } from './promotion/index.js';
import {
  DockerConfigCredentials,
  RegistryClient,
  chainCredentials,
  helperCredentials,
  parseCredsFlag,
  staticCredentials,
  type Credential,
  type CredentialProvider,
  type HostSettings,
  type ReferrerLock,
  type Repository,
} from './registry/index.js';

/** Options of {@link createRegistryClient}. */
export interface RegistryClientSettings {
  /** TLS and scheme per host. Default: HTTPS with the system's CAs for every host. */
  readonly hostSettings?: (host: string) => HostSettings;
  /** Credentials given explicitly, by host (`--creds`, `login`); they win over every other source. Default: none. */
  readonly explicit?: Readonly<Record<string, Credential>>;
  /** Credentials by host from other sources (gantry.yaml), asked before the auth file. Default: none. */
  readonly providers?: ReadonlyMap<string, CredentialProvider>;
  /** The docker config / auth.json for every other host. Default: none (anonymous). */
  readonly authFile?: string;
  /** The environment credential helpers run with. Default: empty. */
  readonly helperEnv?: Readonly<Record<string, string>>;
  /** `User-Agent`. Default: the client's own. */
  readonly userAgent?: string;
  /**
   * The lock every writer of a registry's referrers fallback index holds (`gantry serve`, across
   * replicas): see `RegistryClientOptions.referrerLock`. Default: none.
   */
  readonly referrerLock?: ReferrerLock;
}

/** A registry client with the given credentials and host settings; the caller must `close()` it. */
export function createRegistryClient(settings: RegistryClientSettings): RegistryClient {
  const fromFile = settings.authFile
    ? new DockerConfigCredentials({ path: settings.authFile, helperEnv: { ...settings.helperEnv } })
    : staticCredentials({});
  const providers = settings.providers;
  const configured: CredentialProvider = providers
    ? { get: (host, repository) => (providers.get(host) ?? fromFile).get(host, repository) }
    : fromFile;
  const credentials = settings.explicit
    ? chainCredentials(staticCredentials({ ...settings.explicit }), configured)
    : configured;
  return new RegistryClient({
    credentials,
    hostSettings: settings.hostSettings ?? (() => ({})),
    ...(settings.userAgent !== undefined && { userAgent: settings.userAgent }),
    ...(settings.referrerLock !== undefined && { referrerLock: settings.referrerLock }),
  });
}

/** `env` without its unset variables. */
export function definedEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/** The credential provider of a registry configured with `credentials:`. */
export function providerFor(
  r: RegistryConfig,
  source: CredentialSource,
  env: Readonly<Record<string, string | undefined>>,
): CredentialProvider {
  const where = `registries.${r.name}.credentials`;
  const fromEnv = (name: string): string => {
    const v = env[name];
    if (!v) throw new GantryError('CREDENTIALS_INVALID', `${where}: environment variable ${name} is not set`);
    return v;
  };
  switch (source.kind) {
    case 'helper':
      return helperCredentials(source.helper, { env: definedEnv(env) });
    case 'docker-config':
      return new DockerConfigCredentials({ path: source.path, helperEnv: definedEnv(env) });
    case 'env':
    case 'env-pair': {
      let cached: Credential | undefined;
      return {
        get: () => {
          cached ??=
            source.kind === 'env'
              ? parseCredsFlag(fromEnv(source.env))
              : { username: fromEnv(source.usernameEnv), password: fromEnv(source.passwordEnv) };
          return Promise.resolve(cached);
        },
      };
    }
  }
}

/** The promotion service's view of registries, implemented with the registry client and the copy engine. */
export function registryPort(client: RegistryClient, scheduler: Scheduler = new Scheduler()): RegistryPort {
  return {
    manifest: (repo, reference) => client.manifestGet(ref(repo, reference)),
    resolve: async (repo, reference) => (await client.manifestHead(ref(repo, reference)))?.digest,
    // Read whole and verified, and read again when the body arrives damaged (a flipped byte, a
    // cut body), as manifests are: image configs, promotion records, SBOMs, approvals.
    blob: (repo, descriptor) => client.blobBytes(repo, descriptor.digest, descriptor.size),
    tags: async (repo) => {
      try {
        return await client.tagList(repo);
      } catch (err) {
        if (isGantryError(err, 'REGISTRY_NAME_UNKNOWN', 'REGISTRY_NOT_FOUND')) return [];
        throw err;
      }
    },
    referrers: async (repo, digest, artifactType) =>
      (await client.referrersList(repo, digest, artifactType)).descriptors,
    copy: async (source, target, digest, opts) => {
      const signal = opts?.signal;
      const sides = signal ? { signal } : {};
      const progress = opts?.onProgress && !opts.dryRun ? copyProgress(opts.onProgress) : undefined;
      const r = await copyImage(
        new RegistryTarget(client, source, sides),
        digest,
        new RegistryTarget(client, target, sides),
        {
          scheduler,
          ...(opts?.dryRun && { dryRun: true }),
          ...(signal && { signal }),
          ...(progress && { onEvent: progress.onEvent }),
        },
      );
      progress?.done(r);
      return {
        bytesTransferred: r.dryRun ? r.bytesPlanned : r.bytesTransferred,
        blobsCopied: r.blobs.copied,
        blobsMounted: r.blobs.mounted,
        blobsSkipped: r.blobs.skipped,
      };
    },
    tag: async (repo, tag, manifest) => {
      await client.manifestPut(repo, tag, manifest.bytes, manifest.mediaType);
    },
    deleteTag: (repo, tag) => client.tagDelete(repo, tag),
    attach: async (repo, artifact) => {
      for (const [digest, bytes] of artifact.blobs) {
        if ((await client.blobHead(repo, digest)) === undefined)
          await client.blobUpload(repo, digest, bytes.byteLength, bytes, { restart: true });
      }
      await client.referrerPush(repo, artifact.manifest, artifact.mediaType);
    },
  };
}

/** Options of {@link copyProgress}. */
export interface CopyProgressOptions {
  /** Least time between two reports, in ms (the final report is always made). Default 250. */
  readonly intervalMs?: number;
  /** Clock. Default `Date.now`. */
  readonly now?: () => number;
  /** Runs `fn` after `ms` and returns its cancel. Default `setTimeout` (unref'd). */
  readonly later?: (fn: () => void, ms: number) => () => void;
}

function laterByTimer(fn: () => void, ms: number): () => void {
  const timer = setTimeout(fn, ms);
  timer.unref();
  return () => clearTimeout(timer);
}

/**
 * The copy engine's events as {@link CopyProgress} reports, at most one per `intervalMs` plus
 * one final report (from the copy's result) in which `bytesTransferred` equals `bytesTotal`.
 * Events held back by the interval are reported when it ends (a trailing report), so a pause in
 * the copy never leaves a watcher with a stale figure.
 * Blobs mounted or already present leave the total (nothing of them is transferred), and a
 * restarted blob's bytes count once. A throwing `report` is ignored: progress never breaks a copy.
 */
export function copyProgress(
  report: (progress: CopyProgress) => void,
  options: CopyProgressOptions = {},
): { readonly onEvent: CopyListener; done(result: CopyResult): void } {
  const interval = options.intervalMs ?? 250;
  const now = options.now ?? Date.now;
  const later = options.later ?? laterByTimer;
  let last = -Infinity;
  let trailing: (() => void) | undefined;
  let finished = false;
  const moved = new Map<Digest, number>();
  const p = { bytesTransferred: 0, bytesTotal: 0, blobsDone: 0, blobsTotal: 0 };
  const emit = (force: boolean): void => {
    if (finished && !force) return;
    const t = now();
    if (!force && t - last < interval) {
      trailing ??= later(
        () => {
          trailing = undefined;
          emit(false);
        },
        interval - (t - last),
      );
      return;
    }
    trailing?.();
    trailing = undefined;
    last = t;
    try {
      report({ ...p });
    } catch {
      // see the doc comment
    }
  };
  const onEvent: CopyListener = (e) => {
    switch (e.type) {
      case 'plan':
        p.bytesTotal += e.bytes;
        p.blobsTotal += e.blobs;
        break;
      case 'blob-bytes':
        moved.set(e.digest, (moved.get(e.digest) ?? 0) + e.bytes);
        p.bytesTransferred += e.bytes;
        break;
      case 'blob-retry':
        p.bytesTransferred -= moved.get(e.digest) ?? 0;
        moved.delete(e.digest);
        break;
      case 'blob-done':
        p.blobsDone++;
        if (e.action !== 'copied') p.bytesTotal -= e.size;
        break;
      default:
        return;
    }
    emit(false);
  };
  return {
    onEvent,
    done: (r) => {
      const blobs = r.blobs.copied + r.blobs.mounted + r.blobs.skipped;
      Object.assign(p, {
        bytesTransferred: r.bytesTransferred,
        bytesTotal: r.bytesTransferred,
        blobsDone: blobs,
        blobsTotal: blobs,
      });
      emit(true);
      finished = true;
    },
  };
}

function ref(repo: Repository, reference: string) {
  return reference.includes(':')
    ? { registry: repo.registry, repository: repo.repository, digest: reference as Digest }
    : { registry: repo.registry, repository: repo.repository, tag: reference };
}
