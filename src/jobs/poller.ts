/**
 * Polling for registries that cannot send notifications: every environment with `poll:` has its
 * repositories looked at once per interval. A round lists each application repository's tags
 * once, resolves each tag to its digest (HEAD), and registers the tags that are new or moved
 * since the last round as candidates (`source: 'poll'`). Across replicas one holder of the lease
 * `registry-poll:<env>` polls an environment; the lease lasts one interval, so another replica
 * takes over only when the holder stops polling. What was seen is kept in the store
 * (`registry_polls`), so neither a restart nor a replica taking over reports every tag again.
 */
import { randomUUID } from 'node:crypto';
import type { App } from '../app.js';
import { repositoryOf, type EnvironmentConfig } from '../config/index.js';
import { isValidTag, silentLogger, type Logger } from '../core/index.js';
import { Leases, RegistryPolls, type HeldLease, type Store } from '../store/index.js';
import type { CandidateSink } from './candidates.js';

/** Options of {@link RegistryPoller}. */
export interface RegistryPollerOptions {
  /** The open store (its leases). */
  readonly store: Store;
  /** The app of the current configuration (read every tick: reloads take effect). */
  readonly app: () => App;
  /** Where candidates go. */
  readonly sink: CandidateSink;
  /** Logs. Default: none. */
  readonly logger?: Logger;
  /** The clock. Default `() => new Date()`. */
  readonly now?: () => Date;
  /** How often due environments are looked for, ms. Default 1000. */
  readonly tickMs?: number;
  /** Tags resolved at once per repository. Default 4. */
  readonly concurrency?: number;
}

/** What one round of an environment did. */
export interface PollRound {
  /** False when another replica holds the environment's lease (nothing was polled). */
  readonly polled: boolean;
  /** Tags seen across the environment's repositories. */
  readonly tags: number;
  /** Candidates handed to the sink (new or moved tags). */
  readonly registered: number;
  /** Repositories whose listing or resolving failed (logged; tried again next round). */
  readonly failed: number;
}

/** Polls the environments that ask for it, while started. */
export class RegistryPoller {
  readonly #o: RegistryPollerOptions;
  readonly #leases: Leases;
  readonly #owner = `poller:${randomUUID()}`;
  readonly #log: Logger;
  readonly #now: () => Date;
  readonly #polls: RegistryPolls;
  /** Environment → when its last round started (ms). */
  readonly #last = new Map<string, number>();
  /** Leases this poller took (released on stop, so another replica takes over at once). */
  readonly #held = new Map<string, HeldLease>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: RegistryPollerOptions) {
    this.#o = Object.freeze({ ...options });
    this.#leases = new Leases(options.store.db);
    this.#polls = new RegistryPolls(options.store.db);
    this.#log = options.logger ?? silentLogger;
    this.#now = options.now ?? (() => new Date());
  }

  /** Starts polling (each due environment, one tick at a time). */
  start(): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setInterval(() => {
      this.#running ??= this.#tick().finally(() => (this.#running = undefined));
    }, this.#o.tickMs ?? 1000);
    this.#timer.unref();
  }

  /**
   * Stops polling: waits up to `graceMs` (default 5000) for a round under way, then gives up the
   * environments' leases.
   */
  async stop(graceMs = 5000): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#running) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.#running,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
    }
    await Promise.allSettled([...this.#held.values()].map((l) => this.#leases.release(l)));
    this.#held.clear();
  }

  async #tick(): Promise<void> {
    const app = this.#o.app();
    for (const env of app.config.environments.values()) {
      if (this.#stopped) return;
      if (env.poll === undefined) continue;
      const now = this.#now().getTime();
      const last = this.#last.get(env.name);
      if (last !== undefined && now - last < env.poll) continue;
      this.#last.set(env.name, now);
      try {
        await this.poll(env.name);
      } catch (error) {
        this.#log.warn({ environment: env.name, err: error }, 'registry poll failed');
      }
    }
  }

  /**
   * One round of `environment` (when this replica holds or takes its lease): lists each
   * application repository's tags once and registers the new and moved ones.
   */
  async poll(environment: string): Promise<PollRound> {
    const app = this.#o.app();
    const env = app.config.environments.get(environment);
    if (!env) return { polled: false, tags: 0, registered: 0, failed: 0 };
    const ttl = Math.max(1000, Math.round(env.poll ?? 60_000));
    const lease = await this.#leases.acquire(`registry-poll:${env.name}`, this.#owner, ttl);
    if (!lease) return { polled: false, tags: 0, registered: 0, failed: 0 };
    this.#held.set(lease.name, lease);
    let tags = 0;
    let registered = 0;
    let failed = 0;
    for (const application of app.config.applications.values()) {
      if (this.#stopped) break;
      try {
        const r = await this.#pollRepository(app, env, application.name);
        tags += r.tags;
        registered += r.registered;
      } catch (error) {
        failed += 1;
        this.#log.warn(
          { environment: env.name, app: application.name, err: error },
          'registry poll of a repository failed',
        );
      }
    }
    if (registered > 0 || failed > 0)
      this.#log.info({ environment: env.name, tags, registered, failed }, 'registry poll round');
    return { polled: true, tags, registered, failed };
  }

  async #pollRepository(
    app: App,
    env: EnvironmentConfig,
    appName: string,
  ): Promise<{ tags: number; registered: number }> {
    const application = app.config.applications.get(appName);
    if (!application) return { tags: 0, registered: 0 };
    const repo = repositoryOf(env, application);
    // One listing per repository and round; then one HEAD per tag.
    const listed = (await app.registry.tags(repo)).filter(
      (t) => isValidTag(t) && !/^sha256-[0-9a-f]{64}/.test(t),
    );
    const before = await this.#polls.seen(env.name, appName);
    const now = new Map<string, string>();
    const digests = await mapLimit(listed, this.#o.concurrency ?? 4, (tag) =>
      app.registry.resolve(repo, tag),
    );
    let registered = 0;
    for (const [i, tag] of listed.entries()) {
      const digest = digests[i];
      if (digest === undefined) continue; // deleted since the listing
      if (before.get(tag) !== digest) {
        await this.#o.sink.register({
          app: appName,
          environment: env.name,
          digest,
          tag,
          source: 'poll',
          seenAt: this.#now().toISOString(),
          reportedBy: `poll ${env.registry.host}`,
        });
        registered += 1;
      }
      now.set(tag, digest);
    }
    // Only once every new tag was handed on: a failure leaves them new for the next round.
    await this.#polls.replace(env.name, appName, now, this.#now());
    return { tags: listed.length, registered };
  }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/**
 * A sink for a server without a candidate store: each candidate is logged (warn) and dropped.
 * Notifications are still answered and polls still run, so their wiring can be checked.
 */
export function unwiredCandidateSink(logger: Logger = silentLogger): CandidateSink {
  return {
    register: (candidate) => {
      logger.warn(
        {
          app: candidate.app,
          environment: candidate.environment,
          digest: candidate.digest,
          source: candidate.source,
        },
        'no candidate store: candidate dropped',
      );
      return Promise.resolve({ registered: false });
    },
  };
}
