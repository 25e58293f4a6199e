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
