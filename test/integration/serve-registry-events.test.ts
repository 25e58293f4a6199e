/**
 * End to end with real processes: a CNCF distribution registry configured with `notifications:`
 * (its pushes become candidates that auto-promote into an `auto: true` environment, held after a
 * rollback until released). The registry sends a Gantry API token with the `registry` role in
 * its endpoint headers; a generic event is signed with the HMAC secret; an environment with
 * `poll:` is found by the poller.
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
  uat: { registry: local, prefix: uat, from: [dev], auto: true, tags: { floating: [current] } }
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

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${BOOTSTRAP}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

interface Entry {
  type: string;
  actor: string;
  payload: Record<string, unknown>;
}

async function ledger(type: string): Promise<Entry[]> {
  const { entries } = await api<{ entries: Entry[] }>('GET', '/api/v1/ledger?limit=1000');
  return entries.filter((e) => e.type === type);
}

interface View {
  id: string;
  state: string;
  requestedBy: string;
  applications: { digest: string }[];
}

/** The promotions of web into uat of `digest`. */
async function uatPromotionsOf(digest: string): Promise<View[]> {
  const { promotions } = await api<{ promotions: View[] }>(
    'GET',
    '/api/v1/promotions?app=web&env=uat&limit=500',
  );
  return promotions.filter((p) => p.applications[0]?.digest === digest);
}

/** Pushes web `version` to dev and waits until the registry's notification registered it. */
async function pushNotified(version: string): Promise<string> {
  const image = makeImage({
    seed: `serve-registry-events-web-${version}`,
    labels: { 'org.opencontainers.image.version': version },
  });
  await pushImage(registry, 'dev/web', image, version);
  await vi.waitFor(
    async () =>
      expect((await ledger('candidate.registered')).map((e) => e.payload.digest)).toContain(image.digest),
    { timeout: 20_000, interval: 200 },
  );
  return image.digest;
}

async function completedInUat(digest: string): Promise<View> {
  let done: View | undefined;
  await vi.waitFor(
    async () => {
      done = (await uatPromotionsOf(digest)).find((p) => p.state === 'completed');
      expect(done).toBeDefined();
    },
    { timeout: 30_000, interval: 200 },
  );
  return done as View;
}

describe('registry notifications into gantry serve', () => {
  it("registers the registry's notified push as a candidate and auto-promotes it; a rollback holds auto-promotion until released", async () => {
    const v1 = await pushNotified('1.0.0');
    // The request's log line may reach this process a moment after the ledger entry is visible.
    await vi.waitFor(
      () =>
        expect(logLines().filter((l) => l.msg === 'registry event accepted')).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ source: 'notification:distribution', accepted: 1 }),
          ]),
        ),
      { timeout: 10_000, interval: 100 },
    );
    // The registry's token was accepted on every delivery.
    expect(server.output().stdout).not.toContain('"statusCode":401');
    expect((await completedInUat(v1)).requestedBy).toContain('gantry auto');

    const v2 = await pushNotified('1.1.0');
    await completedInUat(v2);

    // A rollback in uat holds auto-promotion of web there.
    const back = await api<{ digest: string }>('POST', '/api/v1/rollbacks', { app: 'web', env: 'uat' });
    expect(back.digest).toBe(v1);
    expect(await ledger('hold.created')).toHaveLength(1);
    const v3 = await pushNotified('1.2.0');
    // Registered, and deliberately not promoted: the hold stands.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await uatPromotionsOf(v3)).toEqual([]);

    await api('POST', '/api/v1/holds/release', { app: 'web', env: 'uat' });
    const v4 = await pushNotified('1.3.0');
    await completedInUat(v4);
    expect(await uatPromotionsOf(v3)).toEqual([]);
  }, 120_000);

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
    // The registry notifies this push too; the poller finds it on its own (its round hands the
    // tag on), and the candidate is registered once, whichever came first.
    await vi.waitFor(
      () =>
        expect(logLines()).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ msg: 'registry poll round', environment: 'polled', registered: 1 }),
          ]),
        ),
      { timeout: 30_000, interval: 250 },
    );
    const registered = (await ledger('candidate.registered')).filter(
      (e) => e.payload.digest === image.digest,
    );
    expect(registered.map((e) => e.payload)).toEqual([
      expect.objectContaining({ application: 'api', environment: 'polled', digest: image.digest }),
    ]);
  }, 40_000);
});
