/**
 * For suites that run the server in process (`buildServer`, requests through Fastify's
 * `inject`): a gantry.yaml parsed as the suite's fixture (it must be valid), API tokens made
 * through `POST /api/v1/tokens`, one request, and the usual world (a temporary embedded store,
 * the app, the server with a seeded bootstrap token, and the suite's tokens).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { parseConfig, type Config } from '../../src/config/index.js';
import { buildServer, type GantryServer, type ServerOptions } from '../../src/server/index.js';
import { openStore, type Store } from '../../src/store/index.js';

/** `text` parsed as a gantry.yaml at `path`; throws with every problem when it is not valid. */
export function parseTestConfig(text: string, path = '/etc/gantry/gantry.yaml'): Config {
  const { config, problems } = parseConfig(path, text);
  if (!config) throw new Error(problems.map((p) => p.message).join('; '));
  return config;
}

/**
 * A new API token made in process (`POST /api/v1/tokens` with `adminToken`, usually the
 * bootstrap token): the answer's body, with the token's id and secret. Throws with the status
 * and the body unless the answer is 201.
 */
export async function injectApiToken(
  server: GantryServer,
  adminToken: string,
  spec: Readonly<Record<string, unknown>>,
): Promise<{ id: string; token: string }> {
  const res = await server.http.inject({
    method: 'POST',
    url: '/api/v1/tokens',
    headers: { authorization: `Bearer ${adminToken}` },
    payload: spec,
  });
  if (res.statusCode !== 201) throw new Error(`POST /api/v1/tokens: ${res.statusCode} ${res.body}`);
  return res.json<{ id: string; token: string }>();
}

/** What {@link injectRequest} sends besides the method and URL. */
export interface InjectRequestOptions {
  /** Sent as `authorization: Bearer …`. */
  readonly token?: string;
  /** A JSON body. */
  readonly body?: unknown;
  /** A raw body (sent as is). */
  readonly payload?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** An answer of {@link injectRequest}: `body` is the parsed JSON when the answer is JSON. */
export interface InjectReply<T> {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  readonly body: T | undefined;
  readonly text: string;
}

/** One request to an in-process server through Fastify's `inject` (never throws on an HTTP error status). */
export async function injectRequest<T = Record<string, unknown>>(
  server: GantryServer,
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  options: InjectRequestOptions = {},
): Promise<InjectReply<T>> {
  const res = await server.http.inject({
    method,
    url,
    headers: {
      ...(options.token !== undefined && { authorization: `Bearer ${options.token}` }),
      ...options.headers,
    },
    ...(options.body !== undefined && { payload: options.body as Record<string, unknown> }),
    ...(options.payload !== undefined && { payload: options.payload }),
  });
  const type = String(res.headers['content-type'] ?? '');
  return {
    status: res.statusCode,
    headers: res.headers,
    body: type.startsWith('application/json') ? res.json<T>() : undefined,
    text: res.body,
  };
}

/** Options of {@link startInProcessServer}. */
export interface InProcessServerOptions {
  /** Prefix of the temporary directory that holds the store. */
  readonly tmpPrefix: string;
  /** The gantry.yaml (text). */
  readonly config: string;
  /** The bootstrap (admin) token seeded into the store, at the server's time. */
  readonly bootstrapToken: string;
  /** The server's clock. */
  readonly now: () => Date;
  /** More options of `buildServer` (a desk, metrics, …). */
  readonly server?: Omit<Partial<ServerOptions>, 'store' | 'app' | 'now'>;
  /** The tokens to make with the bootstrap token: a body of `POST /api/v1/tokens` by key. */
  readonly tokens?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** The running world of {@link startInProcessServer}: close it in `afterAll`. */
export interface InProcessServer {
  readonly store: Store;
  readonly app: App;
  readonly server: GantryServer;
  /** The tokens made, by the key given in the options. */
  readonly tokens: Record<string, { id: string; token: string }>;
  close(): Promise<void>;
}

/**
 * A temporary embedded store, the app (no credentials: `/nonexistent/auth.json`, actor `test`)
 * and the in-process server (version `test`), with the bootstrap token seeded and the tokens made.
 */
export async function startInProcessServer(options: InProcessServerOptions): Promise<InProcessServer> {
  const root = await mkdtemp(join(tmpdir(), options.tmpPrefix));
  const store = await openStore({ dataDir: join(root, 'data') });
  const app = createApp({
    config: parseTestConfig(options.config),
    env: {},
    authFile: '/nonexistent/auth.json',
    actor: 'test',
  });
  const server = await buildServer({
    store,
    app: () => app,
    now: options.now,
    version: 'test',
    ...options.server,
  });
  const close = async (): Promise<void> => {
    await server.http.close();
    await app.close();
    await store.close();
    await rm(root, { recursive: true, force: true });
  };
  try {
    await server.tokens.seedBootstrap(options.bootstrapToken, { actor: 'test', time: options.now() });
    const tokens: Record<string, { id: string; token: string }> = {};
    for (const [key, spec] of Object.entries(options.tokens ?? {}))
      tokens[key] = await injectApiToken(server, options.bootstrapToken, spec);
    return { store, app, server, tokens, close };
  } catch (error) {
    await close();
    throw error;
  }
}
