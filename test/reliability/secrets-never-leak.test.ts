/**
 * Proof that secrets never leak (issue 15): a real `gantry serve` (PostgreSQL store with a password
 * in its URL, trace-level JSON logs) promotes between htpasswd- and bearer-token-protected
 * distribution registries with KNOWN, distinctive secrets planted everywhere a secret goes in: the
 * bootstrap token and every API token created, the registry password (and a wrong one for two more
 * registries), the webhook signing secret, the registry-events HMAC secret, the database password,
 * the attestation signing key, a wrong API token. A realistic scenario runs (tokens, promotions, an
 * approval, promotions refused at once and failing mid-copy, refused requests, a revoked token, a
 * signed and a forged registry event, the ledger, the event stream, metrics, OpenAPI, the CLI
 * against the server and on its own, a reload, a graceful stop); everything written anywhere is
 * captured (the server's stdout and stderr, every API answer with its headers, every webhook
 * request with its headers, the attestation pushed to the registry, CLI output) and none of it may
 * hold any planted secret in plain, base64 (any alignment), base64url, URL-encoded or Basic-auth
 * form, nor a token's stored hash. Error paths (unreachable store, credentials in URLs) too.
 */
import { createHash, createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeImage,
  pushImage,
  recordFigures,
  startGantryServer,
  startRegistry,
  type GantryServerProcess,
  type RegistryProcess,
  waitUntil,
} from '../helpers/index.js';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { registryRequest } from '../helpers/registry-http.js';
import { runCli } from '../integration/run-cli.js';

/** A distinctive random string: nothing else could contain it by chance. */
const rand = (n = 24): string => randomBytes(n).toString('hex');

const BOOTSTRAP = `gty_boot${rand()}`;
const WRONG_TOKEN = `gty_wrong${rand()}`;
const REG_USER = `gantry-${rand(4)}`;
const REG_PASSWORD = `regpw-${rand()}`;
const BAD_REG_PASSWORD = `badpw-${rand()}`;
const WEBHOOK_KEY = randomBytes(32);
const WEBHOOK_SECRET = `whsec_${WEBHOOK_KEY.toString('base64')}`;
const EVENTS_SECRET = `evsec-${rand()}`;
const DB_PASSWORD = `dbpw-${rand()}`;
const SIGNING_KEY_PEM = String(
  generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
);
/** The random part of the signing key's PEM (its first characters are the same for every Ed25519 key). */
const SIGNING_KEY_BODY = (SIGNING_KEY_PEM.split('\n')[1] ?? '').slice(24);

/** One captured piece of output: where it came from and what it said. */
interface Captured {
  readonly source: string;
  readonly text: string;
  /** The one secret this text is meant to hold (a token's creation answer holds its token). */
  allow?: string;
}

const captured: Captured[] = [];
/** Every planted secret, by name (API tokens are added as they are created). */
const planted = new Map<string, string>([
  ['bootstrap token', BOOTSTRAP],
  ['wrong API token', WRONG_TOKEN],
  ['registry password', REG_PASSWORD],
  ['wrong registry password', BAD_REG_PASSWORD],
  ['webhook secret', WEBHOOK_SECRET],
  ['events HMAC secret', EVENTS_SECRET],
  ['database password', DB_PASSWORD],
  ['attestation signing key', SIGNING_KEY_BODY],
]);

/**
 * The middle of `secret`'s base64 (or base64url) encoding at each of the three alignments it can
 * have inside a longer encoded text (the first and last four characters depend on the neighbours).
 */
function encodedCores(secret: string, encoding: 'base64' | 'base64url'): string[] {
  return [0, 1, 2].map((k) =>
    Buffer.from('x'.repeat(k) + secret)
      .toString(encoding)
      .slice(k === 0 ? 0 : 4, -4),
  );
}

/** The forms a secret could leak in: plain, base64, base64url, URL-encoded, hashed, Basic auth. */
function formsOf(name: string, secret: string): [string, string][] {
  const forms: [string, string][] = [[name, secret]];
  for (const encoding of ['base64', 'base64url'] as const)
    for (const [i, core] of encodedCores(secret, encoding).entries())
      forms.push([`${name} (${encoding} ${i})`, core]);
  if (encodeURIComponent(secret) !== secret)
    forms.push([`${name} (URL-encoded)`, encodeURIComponent(secret)]);
  if (secret.startsWith('gty_'))
    forms.push([`${name} (stored hash)`, createHash('sha256').update(secret).digest('hex')]);
  if (secret.startsWith('whsec_')) forms.push([`${name} (key, hex)`, WEBHOOK_KEY.toString('hex')]);
  if (secret === REG_PASSWORD || secret === BAD_REG_PASSWORD)
    forms.push([`${name} (Basic auth)`, Buffer.from(`${REG_USER}:${secret}`).toString('base64')]);
  return forms;
}

/** True when `text` holds some form of `secret`. */
const holds = (text: string, secret: string): boolean =>
  formsOf('', secret).some(([, f]) => text.includes(f));

let pgc: PostgresCluster;
let dev: RegistryProcess;
let prod: RegistryProcess;
let other: RegistryProcess;
let tokened: RegistryProcess;
let receiver: Server;
let server: GantryServerProcess | undefined;
let dir = '';
let config = '';
/** The secrets' environment variables (the server's and the local CLI's). */
let cliEnv: Record<string, string> = {};
/** Bytes of CLI output scanned by the error-path test (runs first; reported in the summary). */
let errorPathBytes = 0;

/** One API call with everything about the answer captured. */
async function call<T = Record<string, unknown>>(
  token: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  const s = server as GantryServerProcess;
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers: {
      ...(token !== '' && { authorization: `Bearer ${token}` }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  captured.push({
    source: `${method} ${path} → ${res.status}`,
    text: `${JSON.stringify([...res.headers])}\n${text}`,
  });
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // metrics, HTML: kept as text
  }
  return { status: res.status, body: parsed as T };
}

async function token(name: string, roles: string[], groups: string[] = []): Promise<string> {
  const r = await call<{ token: string }>(BOOTSTRAP, 'POST', '/api/v1/tokens', { name, roles, groups });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  const created = captured.at(-1) as Captured;
  // The creation answer is the one place the secret is given, by design.
  expect(created.text).toContain(r.body.token);
  created.allow = `API token ${name}`;
  planted.set(`API token ${name}`, r.body.token);
  return r.body.token;
}

const until = <T>(what: string, get: () => Promise<T | undefined>, ms = 60_000): Promise<T> =>
  waitUntil(what, get, { timeoutMs: ms, intervalMs: 150 });

async function ended(t: string, id: string): Promise<{ state: string }> {
  return until(`promotion ${id} to end`, async () => {
    const r = await call<{ state: string }>(t, 'GET', `/api/v1/promotions/${id}`);
    return ['completed', 'failed', 'rejected', 'cancelled'].includes(r.body.state) ? r.body : undefined;
  });
}

beforeAll(async () => {
  const users = [{ username: REG_USER, password: REG_PASSWORD }];
  [pgc, dev, prod, other, tokened] = await Promise.all([
    startPostgres(),
    startRegistry({ auth: 'htpasswd', users }),
    startRegistry({ auth: 'htpasswd', users }),
    startRegistry({ auth: 'htpasswd', users }),
    // tokro/* is read-only for the user: a promotion there fails while copying, not at once.
    startRegistry({
      auth: 'token',
      users,
      tokenServer: { acl: (_user, repository) => (repository.startsWith('tokro/') ? ['pull'] : ['*']) },
    }),
  ]);
  for (const app of ['web', 'api']) {
    const image = makeImage({ seed: `secrets-${app}`, layers: [{ size: 2048, seed: `secrets-l-${app}` }] });
    await pushImage(dev, `dev/${app}`, image, '1.0.0');
  }
  receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      captured.push({
        source: `webhook ${req.method} ${req.url}`,
        text: `${JSON.stringify(req.headers)}\n${body}`,
      });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as AddressInfo).port;
  dir = await mkdtemp(join(tmpdir(), 'gantry-secrets-'));
  config = join(dir, 'gantry.yaml');
  const creds = '{ usernameEnv: SECRETS_REG_USER, passwordEnv: SECRETS_REG_PASSWORD }';
  await writeFile(
    config,
    `registries:
  dev: { url: "${dev.url}", credentials: ${creds} }
  prod: { url: "${prod.url}", credentials: ${creds} }
  other: { url: "${other.url}", credentials: { usernameEnv: SECRETS_REG_USER, passwordEnv: SECRETS_BAD_PASSWORD } }
  tok: { url: "${tokened.url}", credentials: ${creds} }
  tokbad: { url: "http://localhost:${tokened.url.split(':').at(-1)}", credentials: { env: SECRETS_BAD_CREDS } }
environments:
  dev: { registry: dev, prefix: dev }
  prod: { registry: prod, prefix: prod, from: [dev] }
  gated:
    registry: prod
    prefix: gated
    from: [dev]
    gates:
      - approval: { count: 1, groups: [ops] }
  broken: { registry: other, prefix: broken, from: [dev] }
  tok: { registry: tok, prefix: tok, from: [dev] }
  tokbroken: { registry: tokbad, prefix: tokbroken, from: [dev] }
  tokro: { registry: tok, prefix: tokro, from: [dev] }
applications: [web, api]
events: { secretEnv: SECRETS_EVENTS_SECRET }
attestation: { keyEnv: SECRETS_SIGNING_KEY }
webhooks:
  hook:
    url: http://127.0.0.1:${port}/hook
    secretEnv: SECRETS_WEBHOOK_SECRET
    backoff: 300ms
`,
  );
  const databaseUrl = (await pgc.createDatabase('secrets')).replace('postgres@', `postgres:${DB_PASSWORD}@`);
  expect(databaseUrl).toContain(DB_PASSWORD);
  cliEnv = {
    SECRETS_REG_USER: REG_USER,
    SECRETS_REG_PASSWORD: REG_PASSWORD,
    SECRETS_BAD_PASSWORD: BAD_REG_PASSWORD,
    SECRETS_BAD_CREDS: `${REG_USER}:${BAD_REG_PASSWORD}`,
    SECRETS_SIGNING_KEY: SIGNING_KEY_PEM,
    SECRETS_EVENTS_SECRET: EVENTS_SECRET,
    SECRETS_WEBHOOK_SECRET: WEBHOOK_SECRET,
  };
  server = await startGantryServer({
    config,
    databaseUrl,
    bootstrapToken: BOOTSTRAP,
    readyTimeoutMs: 60_000,
    env: { GANTRY_LOG_LEVEL: 'trace', ...cliEnv },
  });
}, 180_000);

afterAll(async () => {
  await server?.kill();
  await new Promise((resolve) => receiver?.close(resolve));
  await Promise.all([dev?.stop(), prod?.stop(), other?.stop(), tokened?.stop(), pgc?.stop()]);
  if (dir !== '') await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('secrets never leak (real gantry serve, planted secrets)', () => {
  it('the scan finds a secret in every form it checks, wherever it sits in a text', () => {
    for (const secret of [REG_PASSWORD, BOOTSTRAP, WEBHOOK_SECRET])
      for (const before of ['', 'a', 'ab', 'Basic user:'])
        for (const after of ['', 'z', 'yz']) {
          const inner = `${before}${secret}${after}`;
          expect(holds(`{"x":"${inner}"}`, secret)).toBe(true);
          expect(holds(`{"x":"${Buffer.from(inner).toString('base64')}"}`, secret)).toBe(true);
          expect(holds(Buffer.from(inner).toString('base64url'), secret)).toBe(true);
          expect(holds(`q=${encodeURIComponent(inner)}`, secret)).toBe(true);
        }
    expect(
      holds(
        `Authorization: Basic ${Buffer.from(`${REG_USER}:${REG_PASSWORD}`).toString('base64')}`,
        REG_PASSWORD,
      ),
    ).toBe(true);
    expect(holds(`"hash":"${createHash('sha256').update(BOOTSTRAP).digest('hex')}"`, BOOTSTRAP)).toBe(true);
    expect(holds(`{"x":"${REG_PASSWORD.slice(0, -1)}"}`, REG_PASSWORD)).toBe(false);
  });

  it('error paths name the store, registry and webhook without their passwords', async () => {
    const pw = `dbpw-${rand()}`;
    const url = `postgres://postgres:${pw}@127.0.0.1:1/gantry`;
    const credPw = `urlpw-${rand()}`;
    const bad = join(dir, 'bad.yaml');
    await writeFile(
      bad,
      `registries:
  dev: { url: "http://bob:${credPw}@127.0.0.1:1" }
environments:
  dev: { registry: dev, prefix: dev }
applications: [web]
webhooks:
  h: { url: "http://alice:${credPw}@127.0.0.1:9/x", secretEnv: SECRETS_WEBHOOK_SECRET }
`,
    );
    const runs = [
      await runCli(['serve', '--config', config, '--database-url', url, '--listen', '127.0.0.1:0'], {
        env: cliEnv,
      }),
      await runCli(['ledger', 'verify', '--database-url', url, '--json']),
      await runCli(['ledger', 'export', '--database-url', url]),
      await runCli(['status', '--config', bad, '--json'], { env: cliEnv }),
      await runCli(
        ['serve', '--config', bad, '--data-dir', join(dir, 'bad-data'), '--listen', '127.0.0.1:0'],
        {
          env: cliEnv,
        },
      ),
      // Registry clients given a wrong password: login, copy, and --creds.
      await runCli(
        ['login', other.host, '-u', REG_USER, '--authfile', join(dir, 'auth.json'), '--tls-verify=false'],
        {
          stdin: `${BAD_REG_PASSWORD}\n`,
        },
      ),
      await runCli(
        [
          'login',
          other.host,
          '-u',
          REG_USER,
          '--authfile',
          join(dir, 'auth.json'),
          '--json',
          '--tls-verify=false',
        ],
        {
          stdin: `${BAD_REG_PASSWORD}\n`,
        },
      ),
      await runCli([
        'copy',
        `docker://${dev.host}/dev/web:1.0.0`,
        `docker://${other.host}/copied/web:1.0.0`,
        '--src-creds',
        `${REG_USER}:${BAD_REG_PASSWORD}`,
        '--dest-creds',
        `${REG_USER}:${BAD_REG_PASSWORD}`,
        '--tls-verify=false',
      ]),
      await runCli([
        'inspect',
        `docker://${other.host}/dev/web:1.0.0`,
        '--creds',
        `${REG_USER}:${BAD_REG_PASSWORD}`,
        '--json',
        '--tls-verify=false',
      ]),
    ];
    const codes = runs.map((r) => r.code);
    expect(
      codes.every((c) => c !== 0),
      JSON.stringify(codes),
    ).toBe(true);
    const text = runs.map((r) => `${r.stdout}\n${r.stderr}`).join('\n');
    errorPathBytes = Buffer.byteLength(text);
    expect(text).toContain('STORE_UNREACHABLE');
    expect(text).toContain('must not contain credentials');
    expect(text.match(/REGISTRY_UNAUTHORIZED|CREDENTIALS_INVALID/g)?.length ?? 0).toBeGreaterThanOrEqual(4);
    for (const secret of [pw, credPw, WEBHOOK_SECRET, REG_PASSWORD, BAD_REG_PASSWORD])
      expect(holds(text, secret), secret).toBe(false);
  }, 120_000);

  it('a realistic scenario writes no planted secret to logs, errors, the ledger, webhooks, API answers or the CLI', async () => {
    const s = server as GantryServerProcess;
    const ci = await token('ci', ['ci']);
    const alice = await token('alice', ['ci', 'approver:gated'], ['ops']);
    const bob = await token('bob', ['approver:gated'], ['ops']);
    const viewer = await token('viewer', ['viewer']);
    // The live event stream, read through the whole scenario.
    const stream = new AbortController();
    let streamed = '';
    const streamRes = await fetch(`${s.url}/api/v1/events`, {
      headers: { authorization: `Bearer ${viewer}` },
      signal: stream.signal,
    });
    expect(streamRes.status).toBe(200);
    const reading = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of streamRes.body as unknown as AsyncIterable<Uint8Array>)
          streamed += decoder.decode(chunk, { stream: true });
      } catch {
        // aborted at the end
      }
    })();

    // A promotion through the API (authenticated registries on both sides).
    const web = await call<{ id: string }>(ci, 'POST', '/api/v1/promotions', {
      app: 'web',
      version: '1.0.0',
      to: 'prod',
    });
    expect(web.status, JSON.stringify(web.body)).toBe(202);
    expect((await ended(ci, web.body.id)).state).toBe('completed');

    // An approval.
    const gated = await call<{ id: string }>(alice, 'POST', '/api/v1/promotions', {
      app: 'api',
      version: '1.0.0',
      to: 'gated',
    });
    expect(gated.status, JSON.stringify(gated.body)).toBe(202);
    await until('awaiting approval', async () => {
      const r = await call<{ state: string }>(alice, 'GET', `/api/v1/promotions/${gated.body.id}`);
      return r.body.state === 'awaiting-approval' ? true : undefined;
    });
    const approved = await call(bob, 'POST', `/api/v1/promotions/${gated.body.id}/approvals`, {
      comment: 'fine',
    });
    expect(approved.status, JSON.stringify(approved.body)).toBe(201);
    const gatedEnd = (await ended(alice, gated.body.id)) as {
      state: string;
      applications: { attestation?: string }[];
    };
    expect(gatedEnd.state).toBe('completed');
    // The signed attestation pushed next to the image: its manifest and every blob.
    const attestation = gatedEnd.applications[0]?.attestation as string;
    expect(attestation).toMatch(/^sha256:/);
    const manifest = await registryRequest(prod, `/v2/gated/api/manifests/${attestation}`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(manifest.status).toBe(200);
    const parsed = JSON.parse(manifest.body.toString()) as {
      config: { digest: string };
      layers: { digest: string }[];
    };
    let pushed = manifest.body.toString();
    for (const blob of [parsed.config, ...parsed.layers]) {
      const got = await registryRequest(prod, `/v2/gated/api/blobs/${blob.digest}`);
      pushed += `\n${got.body.toString()}`;
    }
    expect(pushed).toContain('payload');
    captured.push({ source: 'attestation in the registry', text: pushed });

    // A promotion into a registry whose configured password is wrong: refused, with an error.
    const broken = await call<{ error: { code: string; message: string } }>(
      ci,
      'POST',
      '/api/v1/promotions',
      {
        app: 'web',
        version: '1.0.0',
        to: 'broken',
      },
    );
    expect(broken.status, JSON.stringify(broken.body)).toBe(502);
    expect(broken.body.error.code).toBe('REGISTRY_UNAUTHORIZED');

    // Through a registry with bearer-token auth (the password goes to its token server): right
    // credentials promote; wrong ones are refused with an error.
    const tok = await call<{ id: string }>(ci, 'POST', '/api/v1/promotions', {
      app: 'web',
      version: '1.0.0',
      to: 'tok',
    });
    expect(tok.status, JSON.stringify(tok.body)).toBe(202);
    expect((await ended(ci, tok.body.id)).state).toBe('completed');
    const tokBroken = await call<{ error: { code: string } }>(ci, 'POST', '/api/v1/promotions', {
      app: 'web',
      version: '1.0.0',
      to: 'tokbroken',
    });
    expect(tokBroken.status, JSON.stringify(tokBroken.body)).toBe(502);
    expect(tokBroken.body.error.code).toBe('REGISTRY_UNAUTHORIZED');

    // A registry error in the middle of the copy: the promotion fails later, with an error that
    // goes to the ledger, the API and the webhooks.
    const readOnly = await call<{ id?: string }>(ci, 'POST', '/api/v1/promotions', {
      app: 'api',
      version: '1.0.0',
      to: 'tokro',
    });
    expect(readOnly.status, JSON.stringify(readOnly.body)).toBe(202);
    const readOnlyEnd = (await ended(ci, readOnly.body.id as string)) as {
      state: string;
      error?: { code: string };
    };
    expect([readOnlyEnd.state, readOnlyEnd.error?.code]).toEqual(['failed', 'REGISTRY_UNAUTHORIZED']);

    // Refused requests: a wrong token, a malformed one, a forbidden one, a wrong HMAC, and a real
    // token a client wrongly put in the query string (Gantry never reads it there; the request
    // log must not print it either).
    expect((await call(WRONG_TOKEN, 'GET', '/api/v1/tokens')).status).toBe(401);
    expect((await call('', 'GET', `/api/v1/status?app=web&access_token=${ci}`)).status).toBe(401);
    expect((await call('', 'GET', `/api/v1/status?token=${encodeURIComponent(ci)}`)).status).toBe(401);
    const basic = Buffer.from(`admin:${WRONG_TOKEN}`).toString('base64');
    expect(
      (await call('', 'GET', '/api/v1/status', undefined, { authorization: `Basic ${basic}` })).status,
    ).toBe(401);
    expect((await call(viewer, 'POST', '/api/v1/tokens', { name: 'x', roles: ['admin'] })).status).toBe(403);
    const event = JSON.stringify({
      repository: `${dev.host}/dev/web`,
      tag: '1.0.0',
      digest: `sha256:${'a'.repeat(64)}`,
    });
    const signed = await call('', 'POST', '/api/v1/registry-events', event, {
      'x-gantry-signature': `sha256=${createHmac('sha256', EVENTS_SECRET).update(event).digest('hex')}`,
    });
    expect(signed.status, JSON.stringify(signed.body)).toBe(202);
    const forged = await call('', 'POST', '/api/v1/registry-events', event, {
      'x-gantry-signature': `sha256=${createHmac('sha256', WRONG_TOKEN).update(event).digest('hex')}`,
    });
    expect(forged.status).toBe(401);

    // Reading everything back.
    const tokens = await call<{ tokens: unknown[] }>(BOOTSTRAP, 'GET', '/api/v1/tokens');
    expect(tokens.body.tokens.length).toBeGreaterThanOrEqual(5);
    await call(viewer, 'GET', '/api/v1/session');
    await call(viewer, 'GET', '/api/v1/status');
    await call(viewer, 'GET', '/api/v1/promotions?limit=500');
    await call(viewer, 'GET', '/api/v1/ledger?limit=1000');
    await call(viewer, 'GET', '/api/v1/ledger/verify');
    await call(viewer, 'GET', '/api/v1/webhooks/deliveries?limit=500');
    await call(viewer, 'GET', '/api/v1/applications/web/candidates');
    for (const path of [
      '/api/v1/pipeline',
      '/api/v1/deployments',
      '/api/v1/holds',
      '/api/v1/lifecycle/schedules',
      '/api/v1/lifecycle/runs',
      '/api/v1/applications/web/history',
    ])
      await call(viewer, 'GET', path);
    await call('', 'GET', '/');
    await call('', 'GET', '/healthz');
    await call('', 'GET', '/readyz');
    // A revoked token is refused, and its revocation is in the ledger.
    const spare = await token('spare', ['viewer']);
    const spareId = (
      await call<{ tokens: { id: string; name: string }[] }>(BOOTSTRAP, 'GET', '/api/v1/tokens')
    ).body.tokens.find((t) => t.name === 'spare')?.id as string;
    expect(spareId).toMatch(/^tok_/);
    expect((await call(BOOTSTRAP, 'DELETE', `/api/v1/tokens/${spareId}`)).status).toBe(200);
    expect((await call(spare, 'GET', '/api/v1/status')).status).toBe(401);
    await call(BOOTSTRAP, 'GET', '/metrics');
    await call('', 'GET', '/openapi.json');
    const deliveries = await until('the webhook delivery of the failed promotion', () =>
      Promise.resolve(
        captured.some(
          (c) =>
            c.source.startsWith('webhook') &&
            c.text.includes(readOnly.body.id as string) &&
            c.text.includes('promotion.failed'),
        )
          ? true
          : undefined,
      ),
    );
    expect(deliveries).toBe(true);

    stream.abort();
    await reading;
    expect(streamed).toContain(gated.body.id);
    captured.push({
      source: 'GET /api/v1/events (stream)',
      text: `${JSON.stringify([...streamRes.headers])}\n${streamed}`,
    });

    // The CLI against the server: a ledger export, and a refused token.
    const exported = await runCli(['ledger', 'export', '--server', s.url], { env: { GANTRY_TOKEN: viewer } });
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain('promotion.approved');
    const refused = await runCli(['status', '--server', s.url], { env: { GANTRY_TOKEN: WRONG_TOKEN } });
    expect(refused.code).toBe(6);
    const status = await runCli(['status', '--server', s.url, '--json'], { env: { GANTRY_TOKEN: ci } });
    // The CLI on its own (no server), promoting into the registry with the wrong password.
    const local = await runCli(['promote', 'web', '1.0.0', '--to', 'broken', '--config', config], {
      env: cliEnv,
    });
    expect(local.code).not.toBe(0);
    expect(local.stderr).toContain('REGISTRY_UNAUTHORIZED');
    for (const [name, r] of [
      ['promote (local, wrong registry password)', local],
      ['ledger export', exported],
      ['status (wrong token)', refused],
      ['status', status],
    ] as const)
      captured.push({ source: `CLI ${name}`, text: `${r.stdout}\n${r.stderr}` });

    // A configuration reload, then a graceful stop: the server's own output, last.
    s.child.kill('SIGHUP');
    await until('the reload', () =>
      Promise.resolve(s.output().stdout.includes('configuration reloaded') ? true : undefined),
    );
    expect(await s.stop()).toBe(0);
    const out = s.output();
    captured.push({ source: 'server stdout', text: out.stdout });
    captured.push({ source: 'server stderr', text: out.stderr });
    // Debug logging is on and produced plenty.
    expect(out.stdout.split('\n').length).toBeGreaterThan(50);

    const leaks: string[] = [];
    let forms = 0;
    for (const [name, secret] of planted)
      for (const [form, value] of formsOf(name, secret)) {
        forms++;
        for (const c of captured)
          if (c.allow !== form && c.text.includes(value)) leaks.push(`${form} in ${c.source}`);
      }
    expect(leaks).toEqual([]);
    // The check itself works: the scanned text does hold what the secrets protect.
    const all = captured.map((c) => c.text).join('\n');
    expect(all).toContain('webhook-signature');
    expect(all).toContain('REGISTRY_UNAUTHORIZED');
    const bytes = captured.reduce((n, c) => n + Buffer.byteLength(c.text), 0);
    console.log(
      `secrets-never-leak: scanned ${bytes} bytes from ${captured.length} sources (${
        captured.filter((c) => c.source.startsWith('webhook')).length
      } webhook requests) + ${errorPathBytes} bytes of error-path CLI output; ${planted.size} secrets planted, ${forms} forms checked; 0 leaks`,
    );
    recordFigures('secrets', {
      secretsPlanted: planted.size,
      formsChecked: forms,
      bytesScanned: bytes + errorPathBytes,
      sources: captured.length,
      webhookRequests: captured.filter((c) => c.source.startsWith('webhook')).length,
      leaks: leaks.length,
    });
  }, 240_000);
});
