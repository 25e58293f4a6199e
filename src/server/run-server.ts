/**
 * A running `gantry serve`: opens the store, records the loaded configuration in the ledger,
 * seeds the bootstrap admin token, listens, reloads the configuration on request, and shuts
 * down in order (stop accepting, finish requests, close the apps, close the store and release
 * its data-dir lock). Signals and the process environment stay in the CLI.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { App, ApprovalSource } from '../app.js';
import { GantryError } from '../core/index.js';
import type { WebhookTarget } from '../config/index.js';
import {
  AutoPromoter,
  LifecycleScheduler,
  PromotionRuntime,
  RegistryPoller,
  storeApprovals,
  webhookOutbox,
  WebhookWorker,
  unavailableRunners,
  type CandidateSink,
  type LifecycleRunners,
  type PromotionRuntimeOptions,
  type RuntimeObserver,
} from '../jobs/index.js';
import { JobQueue, Ledger, openStore, type Store, type StoreOptions } from '../store/index.js';
import { buildServer, type GantryServer } from './server.js';
import { createServerMetrics } from './metrics.js';

/** A configuration loaded and wired into an app, with the hash of the file it came from. */
export interface LoadedApp {
  readonly app: App;
  /** The configuration file. */
  readonly file: string;
  /** SHA-256 (hex) of the file's bytes, as parsed. */
  readonly sha256: string;
  /** The webhook endpoints with their secrets (`webhookTargets`). Default: none. */
  readonly webhooks?: readonly WebhookTarget[];
}

/** What the server gives the app it loads. */
export interface AppDeps {
  /** Approvals given through the API (the store's), for `createApp({approvals})`. */
  readonly approvals: ApprovalSource;
  /**
   * Holds the named lease across replicas while `task` runs (its signal aborts when the lease is
   * lost), e.g. a lock around a registry's tag-schema referrer index. Usable once the server runs.
   */
  withLease<T>(name: string, ttlMs: number, task: (signal: AbortSignal) => Promise<T>): Promise<T>;
}

/** Runtime settings of `runServer` (job lease, workers, registry concurrency…); see `PromotionRuntimeOptions`. */
export type ServerRuntimeOptions = Omit<
  PromotionRuntimeOptions,
  'store' | 'app' | 'observer' | 'logger' | 'now' | 'ledger'
>;

/** Options of {@link runServer}. */
export interface RunServerOptions {
  readonly store: StoreOptions;
  /**
   * Loads the configuration and wires the app (at start and on every reload), with `deps.approvals`
   * passed to `createApp({approvals})` so approval gates count approvals given through the API.
   */
  readonly loadApp: (deps: AppDeps) => Promise<LoadedApp>;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly logger: FastifyBaseLogger;
  /** `GANTRY_BOOTSTRAP_TOKEN`: seeds an admin token with this secret when none has it. */
  readonly bootstrapToken?: string;
  readonly version: string;
  /** The clock. Default `() => new Date()`. */
  readonly now?: () => Date;
  /** Promotion metrics (step durations, states, bytes copied, registry errors). Default: none. */
  readonly observer?: RuntimeObserver;
  /** Settings of the promotion runtime. Default: its defaults. */
  readonly runtime?: ServerRuntimeOptions;
  /** How long an idle webhook worker waits before looking for deliveries again, ms. Default 1000. */
  readonly webhookIdleMs?: number;
  /**
   * Where registry notifications and polls put candidates. Default: the server's own store with
   * auto-promotion (`RunningServer.candidates`).
   */
  readonly candidates?: CandidateSink;
  /** The built dashboard to serve at `/` (dist/web). Default: none. */
  readonly dashboardDir?: string;
  /**
   * What performs gc and sync runs (schedules and `POST /api/v1/lifecycle/runs`): `runGc` and
   * `runSync`. Default {@link unavailableRunners} (every run fails: not available in this build).
   */
  readonly lifecycleRunners?: LifecycleRunners;
  /** How often lifecycle schedules are looked at, ms. Default 30000. */
  readonly lifecycleTickMs?: number;
  /** How long an idle lifecycle worker waits before looking for runs again, ms. Default 1000. */
  readonly lifecycleIdleMs?: number;
}

/** The running server. */
export interface RunningServer {
  /** `http://host:port`. */
  readonly url: string;
  readonly store: Store;
  readonly server: GantryServer;
  /** The promotion runtime (the routes' desk; it runs promotion jobs). */
  readonly runtime: PromotionRuntime;
  /** The candidate sink with auto-promotion, and the holds (`ctx.candidates`, `ctx.holds`). */
  readonly candidates: AutoPromoter;
  /** Creates scheduled gc and sync runs and runs them (one worker per replica). */
  readonly lifecycle: LifecycleScheduler;
  /** Loads the configuration again, records it in the ledger and serves with it. */
  reload(): Promise<LoadedApp>;
  /** Stops: no new connections, in-flight requests finish, then apps and store close. Idempotent. */
  close(): Promise<void>;
}

/** The actor of the ledger entries the server writes on its own behalf. */
export const SERVER_ACTOR = 'gantry serve';

/** Starts the server. On failure everything opened so far is closed again. */
export async function runServer(options: RunServerOptions): Promise<RunningServer> {
  const now = options.now ?? (() => new Date());
  let store: Store | undefined;
  // Approvals are read at gate evaluation, which runs only once the store is open.
  let runtime: PromotionRuntime | undefined;
  const deps: AppDeps = {
    approvals: storeApprovals(() => {
      if (!store) throw new GantryError('INTERNAL', 'the store is not open');
      return store.db;
    }),
    withLease: (name, ttlMs, task) => {
      if (!runtime) throw new GantryError('INTERNAL', 'the store is not open');
      return runtime.withLease(name, ttlMs, task);
    },
  };
  let current = await options.loadApp(deps);
  const apps: App[] = [current.app];
  let server: GantryServer | undefined;
  let webhooks: WebhookWorker | undefined;
  let poller: RegistryPoller | undefined;
  let candidates: AutoPromoter | undefined;
  let lifecycle: LifecycleScheduler | undefined;
  const closeAll = async (): Promise<void> => {
    // Polls and jobs first (running steps finish or are released), then requests, apps and the store.
    await poller?.stop();
    await lifecycle?.stop();
    await webhooks?.stop();
    await runtime?.stop();
    await server?.http.close();
    await Promise.allSettled(apps.map((a) => a.close()));
    await store?.close();
  };
  try {
    store = await openStore(options.store);
    const ledger = new Ledger(store.db);
    await recordConfig(store, ledger, current, 'start', now());
    const metrics = createServerMetrics();
    const worker = new WebhookWorker({
      store,
      targets: () => current.webhooks ?? [],
      userAgent: `gantry/${options.version}`,
      logger: options.logger,
      ...(options.webhookIdleMs !== undefined && { idleMs: options.webhookIdleMs }),
      observe: (endpoint, outcome) => metrics.webhookDelivered(endpoint, outcome),
    });
    webhooks = worker;
    // Every ledger entry (in its transaction) queues a delivery per matching endpoint: the outbox.
    ledger.onAppend(
      webhookOutbox({
        endpoints: () => current.webhooks ?? [],
        queued: () => void setTimeout(() => worker.kick(), 20).unref(),
      }),
    );
    runtime = new PromotionRuntime({
      ...options.runtime,
      store,
      ledger,
      app: () => current.app,
      logger: options.logger,
      now,
      observer: statusAware(options.observer ?? metrics.observer, () =>
        server?.statusChanged('promotion.completed'),
      ),
    });
    candidates = new AutoPromoter({
      store,
      runtime,
      app: () => current.app,
      logger: options.logger,
      now,
    });
    const scheduler = new LifecycleScheduler({
      store,
      ledger,
      app: () => current.app,
      runners: options.lifecycleRunners ?? unavailableRunners,
      logger: options.logger,
      now,
      ...(options.lifecycleTickMs !== undefined && { tickMs: options.lifecycleTickMs }),
      ...(options.lifecycleIdleMs !== undefined && { idleMs: options.lifecycleIdleMs }),
    });
    lifecycle = scheduler;
    server = await buildServer({
      metrics,
      store,
      app: () => current.app,
      logger: options.logger,
      now,
      version: options.version,
      desk: runtime,
      ledger,
      webhooks: () => current.webhooks ?? [],
      candidates: options.candidates ?? candidates,
      holds: candidates,
      ...(options.dashboardDir !== undefined && { dashboardDir: options.dashboardDir }),
      lifecycleQueued: () => scheduler.kick(),
    });
    if (options.bootstrapToken !== undefined) {
      const seeded = await server.tokens.seedBootstrap(options.bootstrapToken, {
        actor: SERVER_ACTOR,
        time: now(),
      });
      options.logger.info({ seeded }, seeded ? 'bootstrap admin token seeded' : 'bootstrap token present');
    }
    await listen(server, options.host, options.port);
    if (store.kind === 'pglite') {
      // One process holds the embedded store: jobs still running belong to one that died.
      const orphans = await new JobQueue(store.db).expireLeases();
      if (orphans > 0) options.logger.info({ jobs: orphans }, 'resuming jobs of a server that stopped');
    }
    runtime.start();
    worker.start();
    scheduler.start();
    poller = new RegistryPoller({
      store,
      app: () => current.app,
      sink: options.candidates ?? candidates,
      logger: options.logger,
      now,
    });
    poller.start();
  } catch (error) {
    await closeAll().catch(() => undefined);
    throw error;
  }
  const address = server.http.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const opened = { store, server, runtime, candidates, lifecycle };
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    store: opened.store,
    server: opened.server,
    runtime: opened.runtime,
    candidates: opened.candidates,
    lifecycle: opened.lifecycle,
    reload: async () => {
      const next = await options.loadApp(deps);
      try {
        await recordConfig(opened.store, opened.server.ledger, next, 'reload', now());
      } catch (error) {
        await next.app.close().catch(() => undefined);
        throw error;
      }
      apps.push(next.app);
      // The previous app stays open for requests still using it; it closes with the server.
      current = next;
      return next;
    },
    close: () => (closing ??= closeAll()),
  };
}

/** Listens, turning the usual socket errors into one clear `USAGE_INVALID` line. */
async function listen(server: GantryServer, host: string, port: number): Promise<void> {
  try {
    await server.http.listen({ host, port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why: Record<string, string> = {
      EADDRINUSE: 'the address is already in use',
      EADDRNOTAVAIL: 'no such local address',
      EACCES: 'permission denied (ports below 1024 need privileges)',
      ENOTFOUND: 'the host name does not resolve',
      EAI_AGAIN: 'the host name does not resolve',
    };
    if (code !== undefined && why[code] !== undefined)
      throw new GantryError('USAGE_INVALID', `cannot listen on ${host}:${port}: ${why[code]}`, {
        cause: error,
      });
    throw error;
  }
}

async function recordConfig(
  store: Store,
  ledger: Ledger,
  loaded: LoadedApp,
  reason: 'start' | 'reload',
  time: Date,
): Promise<void> {
  await store.db.transaction().execute((trx) =>
    ledger.append(trx, {
      type: 'config.loaded',
      subject: loaded.file,
      actor: SERVER_ACTOR,
      time,
      payload: { sha256: loaded.sha256, reason },
    }),
  );
}

/** `observer`, also calling `changed` when a promotion completes (what environments hold changed). */
function statusAware(observer: RuntimeObserver, changed: () => void): RuntimeObserver {
  return {
    step: (state, ms) => observer.step(state, ms),
    entered: (state) => {
      observer.entered(state);
      if (state === 'completed') changed();
    },
    copied: (host, bytes) => observer.copied(host, bytes),
    registryError: (host, code) => observer.registryError(host, code),
  };
}
