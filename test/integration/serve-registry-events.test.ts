/**
 * End to end with real processes: a CNCF distribution registry configured with `notifications:`
 * (a Gantry API token with the `registry` role in its endpoint headers) posts its events to a
 * running `gantry serve`, which accepts the push of a tagged image (202, logged with its counts)
 * and hands the candidate on; an environment with `poll:` is found by the poller. Until a
 * candidate store is wired, what the server handed on is observed in its log.
 */
import { createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { getFreePort } from '../helpers/free-port.js';
import { startGantryServer, type GantryServerProcess } from '../helpers/gantry-server.js';
import { makeImage } from '../helpers/images.js';
import { pushImage } from '../helpers/push.js';
import { startRegistry, type RegistryProcess } from '../helpers/registry.js';

const BOOTSTRAP = `gty_${'e'.repeat(64)}`;
const SECRET = 'registry-events-e2e-secret';

interface LogLine {
  readonly msg?: string;
  readonly [key: string]: unknown;
}

let dir = '';
let config = '';
let registry: RegistryProcess;
let server: GantryServerProcess;

function logLines(): LogLine[] {
  return server
    .output()
    .stdout.split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

function gantryYaml(registryUrl: string): string {
  return `registries:
  local: { url: "${registryUrl}" }
environments:
  dev: { registry: local, prefix: dev }
  polled: { registry: local, prefix: polled, poll: 10s }
  prod: { registry: local, prefix: prod, from: [dev] }
applications: [web, api]
events: { secretEnv: GANTRY_E2E_EVENTS_SECRET }
`;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gantry-serve-registry-events-'));
  config = join(dir, 'gantry.yaml');
  // The registry's address is known only once it runs, and it needs Gantry's token to start:
  // Gantry starts first and learns the registry's address by a reload (SIGHUP).
  await writeFile(config, gantryYaml('http://127.0.0.1:1'));
  const port = await getFreePort();
  server = await startGantryServer({
    config,
    dataDir: join(dir, 'data'),
    bootstrapToken: BOOTSTRAP,
    port,
    env: { GANTRY_E2E_EVENTS_SECRET: SECRET },
  });
  const created = await fetch(`${server.url}/api/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${BOOTSTRAP}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'registry-local', roles: ['registry'] }),
  });
  expect(created.status).toBe(201);
  const { token } = (await created.json()) as { token: string };
  registry = await startRegistry({
    extraConfig: {
      notifications: {
        endpoints: [
          {
            name: 'gantry',
            url: `${server.url}/api/v1/registry-events`,
            headers: { Authorization: [`Bearer ${token}`] },
            timeout: '2s',
            threshold: 3,
            backoff: '1s',
          },
        ],
      },
    },
  });
  await writeFile(config, gantryYaml(registry.url));
  server.child.kill('SIGHUP');
  await vi.waitFor(() => expect(logLines().some((l) => l.msg === 'configuration reloaded')).toBe(true), {
    timeout: 15_000,
    interval: 100,
  });
}, 180_000);

afterAll(async () => {
  await server?.kill();
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('registry notifications into gantry serve', () => {
  it("accepts the registry's notification of a tagged push and hands on the candidate", async () => {
    const image = makeImage({ seed: 'serve-registry-events-web' });
    await pushImage(registry, 'dev/web', image, '1.0.0');
    await vi.waitFor(
      () =>
        expect(logLines().filter((l) => l.msg === 'registry event accepted')).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ source: 'notification:distribution', accepted: 1 }),
          ]),
        ),
      { timeout: 20_000, interval: 200 },
    );
    expect(logLines()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          msg: 'no candidate store: candidate dropped',
          app: 'web',
          environment: 'dev',
          digest: image.digest,
          source: 'notification:distribution',
        }),
      ]),
    );
    // The registry's token was accepted on every delivery.
    expect(server.output().stdout).not.toContain('"statusCode":401');
  });

  it('accepts a generic event signed with the HMAC secret over real HTTP', async () => {
    const body = JSON.stringify({
      repository: `${registry.host}/prod/api`,
      tag: '2.0.0',
      digest: `sha256:${'a'.repeat(64)}`,
    });
    const res = await fetch(`${server.url}/api/v1/registry-events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-gantry-signature': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
      },
      body,
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 1, ignored: 0 });
    const forged = await fetch(`${server.url}/api/v1/registry-events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gantry-signature': `sha256=${'0'.repeat(64)}` },
      body,
    });
    expect(forged.status).toBe(401);
  });

  it('finds a push to an environment with poll: without any notification', async () => {
    const image = makeImage({ seed: 'serve-registry-events-polled' });
    await pushImage(registry, 'polled/api', image, '3.0.0');
    await vi.waitFor(
      () =>
        expect(logLines()).toEqual(
          expect.arrayContaining([
            expect.objectContaining({
              msg: 'no candidate store: candidate dropped',
              app: 'api',
              environment: 'polled',
              digest: image.digest,
              source: 'poll',
            }),
          ]),
        ),
      { timeout: 30_000, interval: 250 },
    );
  }, 40_000);
});
