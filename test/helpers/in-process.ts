/**
 * For suites that run the server in process (`buildServer`, requests through Fastify's
 * `inject`): a gantry.yaml parsed as the suite's fixture (it must be valid), and API tokens made
 * through `POST /api/v1/tokens`.
 */
import { parseConfig, type Config } from '../../src/config/index.js';
import type { GantryServer } from '../../src/server/index.js';

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
