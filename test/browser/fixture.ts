/**
 * One dashboard world for the browser suites: two real distribution registries (`dev` holds the dev
 * and staging repositories, `prod` sits behind a fault proxy so a test can hold or slow its blob
 * uploads), a real `gantry serve` with the embedded store, a pipeline dev → staging → prod whose
 * prod needs one approval, three applications with two versions each, tokens for every role, and
 * real Chromium.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Browser } from 'playwright-core';
import {
  api,
  makeImage,
  pushImage,
  startFaultProxy,
  startGantryServer,
  startRegistry,
  type FaultFunction,
  type FaultProxy,
  type GantryServerProcess,
  type RegistryProcess,
} from '../helpers/index.js';
import { launchBrowser } from '../helpers/browser.js';

export const ADMIN_TOKEN = `gty_${'a'.repeat(64)}`;
export const APPS = ['web', 'api', 'worker'] as const;
export const VERSIONS = ['1.0.0', '1.1.0'] as const;

/** The running world. */
export interface DashboardWorld {
  readonly dev: RegistryProcess;
  readonly prod: RegistryProcess;
  /** Between the server and `prod`: `setFault` holds or fails its requests. */
  readonly proxy: FaultProxy;
  readonly server: GantryServerProcess;
  readonly browser: Browser;
  /** `digests[app][version]` in dev. */
  readonly digests: Record<string, Record<string, string>>;
  /** Secrets of tokens by name: `admin` (bootstrap), `ci`, `alice` (approver of staging and prod), `victor` (viewer). */
  readonly tokens: Record<'admin' | 'ci' | 'alice' | 'victor', string>;
  /** Creates another token; returns its secret. */
  token(name: string, roles: string[], groups?: string[]): Promise<string>;
  /** `api()` against the server. */
  call<T = Record<string, unknown>>(
    token: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }>;
  /** Promotes through the API as `ci` and waits for one of `states`; returns the promotion. */
  promote(
    app: string,
    version: string,
    to: string,
    states?: readonly string[],
  ): Promise<{ id: string; state: string }>;
  /** Polls a promotion until it is in one of `states`. */
  waitFor(id: string, states: readonly string[], timeoutMs?: number): Promise<{ id: string; state: string }>;
  stop(): Promise<void>;
}

/** Options of {@link startDashboardWorld}. */
export interface WorldOptions {
  /** A name for temp dirs and image seeds. */
  readonly name: string;
  /** Size of each image's one layer (default 4 KiB); big layers make copy progress visible. */
  readonly layerBytes?: Partial<Record<(typeof APPS)[number], number>>;
  /** The prod proxy's initial fault script. */
  readonly fault?: FaultFunction;
  /** The dev environment's `retention:` (flow YAML, e.g. `{ keep: 0, schedule: "0 3 * * *" }`). */
  readonly devRetention?: string;
  /** YAML appended to gantry.yaml (e.g. a `webhooks:` section). */
  readonly extraConfig?: string;
  /** More environment variables of the server (e.g. a webhook secret). */
  readonly serverEnv?: Readonly<Record<string, string>>;
}

/** Starts registries, images, config, server, tokens and Chromium. */
export async function startDashboardWorld(options: WorldOptions): Promise<DashboardWorld> {
  const [dev, prod, browser] = await Promise.all([startRegistry(), startRegistry(), launchBrowser()]);
  const proxy = await startFaultProxy({ target: prod.url, ...(options.fault && { fault: options.fault }) });
  const digests: Record<string, Record<string, string>> = {};
  for (const app of APPS) {
    digests[app] = {};
    for (const version of VERSIONS) {
      const image = makeImage({
        seed: `${options.name}-${app}-${version}`,
        labels: {
          'org.opencontainers.image.version': version,
          'org.opencontainers.image.revision': `${app}${version}`.replace(/\W/g, '').padEnd(12, '0'),
          'org.opencontainers.image.source': `https://git.example.com/shop/${app}`,
        },
        layers: [
          { size: options.layerBytes?.[app] ?? 4096, seed: `${options.name}-${app}-${version}-layer` },
        ],
      });
      digests[app][version] = await pushImage(dev, `dev/${app}`, image, version);
    }
  }
  const dir = await mkdtemp(join(tmpdir(), `gantry-browser-${options.name}-`));
  const config = join(dir, 'gantry.yaml');
  await writeFile(
    config,
    `registries:
  dev: { url: "${dev.url}" }
  prod: { url: "${proxy.url}" }
environments:
  dev: { registry: dev, prefix: dev${options.devRetention ? `, retention: ${options.devRetention}` : ''} }
  staging:
    registry: dev
    prefix: staging
    from: [dev]
    tags: { floating: [current] }
  prod:
    registry: prod
    prefix: prod
    from: [staging]
    tags: { floating: [current] }
    gates:
      - approval: { count: 1 }
applications: [${APPS.join(', ')}]
${options.extraConfig ?? ''}`,
  );
  const server = await startGantryServer({
    config,
    dataDir: join(dir, 'data'),
    bootstrapToken: ADMIN_TOKEN,
    ...(options.serverEnv && { env: options.serverEnv }),
  });
  const call = <T = Record<string, unknown>>(token: string, method: string, path: string, body?: unknown) =>
    api<T>(server, token, method, path, body);
  const token = async (name: string, roles: string[], groups: string[] = []): Promise<string> => {
    const r = await call<{ token: string }>(ADMIN_TOKEN, 'POST', '/api/v1/tokens', {
      name,
      roles,
      ...(groups.length > 0 && { groups }),
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body.token;
  };
  const tokens = {
    admin: ADMIN_TOKEN,
    ci: await token('ci', ['ci']),
    alice: await token('alice', ['approver:staging', 'approver:prod']),
    victor: await token('victor', ['viewer']),
  };
  const waitFor = async (id: string, states: readonly string[], timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await call<{ id: string; state: string }>(ADMIN_TOKEN, 'GET', `/api/v1/promotions/${id}`);
      if (r.status === 200 && states.includes(r.body.state)) return r.body;
      if (Date.now() > deadline)
        throw new Error(`promotion ${id} is ${r.body.state}, not ${states.join('|')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  return {
    dev,
    prod,
    proxy,
    server,
    browser,
    digests,
    tokens,
    token,
    call,
    waitFor,
    async promote(app, version, to, states = ['completed', 'awaiting-approval', 'failed', 'rejected']) {
      const r = await call<{ id: string; state: string }>(tokens.ci, 'POST', '/api/v1/promotions', {
        app,
        version,
        to,
      });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      return waitFor(r.body.id, states);
    },
    async stop() {
      await browser.close().catch(() => undefined);
      await server.stop();
      await proxy.stop();
      await Promise.all([dev.stop(), prod.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
