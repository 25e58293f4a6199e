/**
 * What the promotion runtime suites share: an app wired from a gantry.yaml with the store's
 * approvals (as `gantry serve` wires it), runtimes over a store, callers, and waiting for a
 * promotion to reach a state. Also used by the child process of the kill -9 test.
 */
import { readFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/index.js';
import {
  PromotionRuntime,
  storeApprovals,
  type DeskCaller,
  type PromotionRuntimeOptions,
  type PromotionView,
} from '../../src/jobs/index.js';
import type { PromotionProgress } from '../../src/promotion/promotion-plan.js';
import type { Store } from '../../src/store/index.js';

/** The requester (a CI token). */
export const CI: DeskCaller = { actor: 'ci-bot (tok-1)', identity: 'ci-bot', groups: [] };
/** An approver. */
export const ALICE: DeskCaller = { actor: 'alice (tok-2)', identity: 'alice', groups: ['ops'] };

/** Wires the app of `configFile` with the store's approvals. */
export async function loadApp(configFile: string, store: () => Store): Promise<App> {
  const { config, problems } = parseConfig(configFile, await readFile(configFile, 'utf8'));
  if (!config) throw new Error(`bad test config: ${JSON.stringify(problems)}`);
  return createApp({
    config,
    env: {},
    authFile: join(dirname(configFile), 'no-auth.json'),
    actor: 'gantry serve',
    approvals: storeApprovals(() => store().db),
  });
}

/** A runtime over `store` with fast test timings (overridable). */
export function runtimeOf(
  store: Store,
  app: App | (() => App),
  options: Partial<PromotionRuntimeOptions> = {},
): PromotionRuntime {
  return new PromotionRuntime({
    workers: 2,
    leaseMs: 3_000,
    idleMs: 50,
    retryMs: 50,
    watchPollMs: 100,
    approvalRecheckMs: 60_000,
    ...options,
    store,
    app: typeof app === 'function' ? app : () => app,
  });
}

/** Polls `get` until the promotion is in one of `states` (or throws after `timeoutMs`). */
export async function waitForState(
  get: (id: string) => Promise<PromotionView | undefined>,
  id: string,
  states: readonly string[],
  timeoutMs = 30_000,
): Promise<PromotionView> {
  const end = Date.now() + timeoutMs;
  let last: PromotionView | undefined;
  while (Date.now() < end) {
    last = await get(id);
    if (last && states.includes(last.state)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`promotion ${id} did not reach ${states.join('|')}: ${JSON.stringify(last)}`);
}

/** An app whose applier holds every step from `state` until `release()`, recording each step's signal. */
export interface HoldingApp {
  readonly app: App;
  /** The signal of each held step, in order. */
  readonly signals: AbortSignal[];
  /** Lets held steps (and later ones) go on. */
  release(): void;
  /** Resolves when the first step is held. */
  held(): Promise<AbortSignal>;
}

/**
 * Wraps `app` so that applier steps from `state` (or from a progress `state` accepts) wait for
 * `release()` (see {@link HoldingApp}).
 */
export function holdingApp(app: App, state: string | ((progress: PromotionProgress) => boolean)): HoldingApp {
  const holds = typeof state === 'string' ? (p: PromotionProgress) => p.state === state : state;
  const signals: AbortSignal[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  let first: (s: AbortSignal) => void = () => undefined;
  const firstHeld = new Promise<AbortSignal>((r) => (first = r));
  const bind = <T extends object>(target: T, key: string | symbol): unknown => {
    const v = Reflect.get(target, key, target) as unknown;
    return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
  };
  const promotions = new Proxy(app.promotions, {
    get(target, key) {
      if (key !== 'applier') return bind(target, key);
      return (o: Parameters<App['promotions']['applier']>[0]) => {
        const applier = target.applier(o);
        return new Proxy(applier, {
          get(t, k) {
            if (k !== 'step') return bind(t, k);
            return async (...a: Parameters<typeof t.step>) => {
              const signal = a[2]?.signal;
              if (holds(a[1]) && signal) {
                signals.push(signal);
                first(signal);
                await gate;
              }
              return t.step(...a);
            };
          },
        });
      };
    },
  });
  return {
    app: { ...app, promotions },
    signals,
    release: () => release(),
    held: () => firstHeld,
  };
}
