/**
 * `POST /api/v1/registry-events` in process on a real embedded store: the recorded notifications
 * (test/fixtures/registry-events/), a candidate sink that keeps what the route registers, and the
 * world the route suites share: a config with a distribution registry (`dev`, at
 * registry.example.com:5000) and a Harbor (`staging`, at harbor.example.com), the HMAC secret in
 * an environment variable, and `registry`, `ci` and `viewer` tokens made with the bootstrap token.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App } from '../../src/app.js';
import type { CandidateSink, NewCandidate } from '../../src/jobs/index.js';
import { buildServer, type GantryServer } from '../../src/server/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { injectApiToken, parseTestConfig } from './in-process.js';

/** A candidate sink that keeps every candidate it is given (in `seen`) and registers each. */
export class MemorySink implements CandidateSink {
  readonly seen: NewCandidate[] = [];
  register(candidate: NewCandidate): Promise<{ registered: boolean }> {
    this.seen.push(candidate);
    return Promise.resolve({ registered: true });
  }
}

/** The text of a recorded notification in test/fixtures/registry-events/ (e.g. `distribution-push.json`). */
export const registryEventFixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/registry-events/${name}`, import.meta.url), 'utf8');

/** The gantry.yaml of {@link startRegistryEventsWorld}, its HMAC secret read from `secretEnv`. */
export const registryEventsConfig = (secretEnv: string): string => `registries:
  dev: { url: "http://registry.example.com:5000" }
  harbor: { url: "https://harbor.example.com" }
environments:
  dev: { registry: dev, prefix: dev }
  staging: { registry: harbor, prefix: dev, from: [dev] }
applications: [web, api]
events: { secretEnv: ${secretEnv} }
`;

/** Options of {@link startRegistryEventsWorld}. */
export interface RegistryEventsWorldOptions {
  /** Prefix of the temporary directory that holds the store. */
  readonly tmpPrefix: string;
  /** The bootstrap (admin) token seeded into the store. */
  readonly bootstrapToken: string;
  /** The environment variable the config names for the HMAC secret, and the secret. */
  readonly secretEnv: string;
  readonly secret: string;
  /** The server's clock, when a suite pins it. */
  readonly now?: () => Date;
}

/** The running world: close it in `afterAll`. */
export interface RegistryEventsWorld {
  readonly store: Store;
  readonly app: App;
  readonly sink: MemorySink;
  readonly server: GantryServer;
  /** Secrets of the tokens `registry-token`, `ci-token` and `viewer-token`, by role. */
  readonly tokens: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

/** Opens a store, builds the in-process server with a {@link MemorySink} and makes the tokens. */
export async function startRegistryEventsWorld(
  options: RegistryEventsWorldOptions,
): Promise<RegistryEventsWorld> {
  const root = await mkdtemp(join(tmpdir(), options.tmpPrefix));
  let store: Store | undefined;
  try {
    store = await openStore({ dataDir: join(root, 'data') });
    return await serve(root, store, options);
  } catch (error) {
    await store?.close().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

async function serve(
  root: string,
  store: Store,
  options: RegistryEventsWorldOptions,
): Promise<RegistryEventsWorld> {
  const config = parseTestConfig(registryEventsConfig(options.secretEnv));
  const app = createApp({
    config,
    env: { [options.secretEnv]: options.secret },
    authFile: '/nonexistent/auth.json',
  });
  const sink = new MemorySink();
  const server = await buildServer({
    store,
    app: () => app,
    candidates: sink,
    ...(options.now !== undefined && { now: options.now }),
  });
  await server.tokens.seedBootstrap(options.bootstrapToken, { actor: 'test', time: new Date() });
  const tokens: Record<string, string> = {};
  for (const [name, roles] of Object.entries({ registry: ['registry'], ci: ['ci'], viewer: ['viewer'] }))
    tokens[name] = (
      await injectApiToken(server, options.bootstrapToken, { name: `${name}-token`, roles })
    ).token;
  return {
    store,
    app,
    sink,
    server,
    tokens,
    async close() {
      await server.http.close();
      await app.close();
      await store.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
