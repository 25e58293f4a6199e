/**
 * Hostile input, the API (issue 15, item 3; item 4 "webhook and policy URLs are only the
 * configured ones"). One real `gantry serve` (embedded store, real registries, the bootstrap admin
 * token, a webhook and a policy gate pointing at a configured receiver) is sent, for EVERY
 * operation its own `/openapi.json` lists, fast-check generated requests: schema-shaped bodies
 * with fields of the wrong type, huge strings, unicode and control characters, `__proto__` and
 * `constructor` keys, deep nesting, huge arrays and numbers such as `1e309` and `-0`; garbage
 * bodies (invalid, truncated, binary, empty, the wrong content type, past the body limit); hostile
 * path parameters and query strings (percent-encoding, `..`, very long, repeated keys). Every
 * string may be one of the canary's URLs.
 *
 * Every answer: status < 500; a 4xx carries `{error: {code, message}}` with a one-line message and
 * no stack frame. Writes are generated invalid (a wrong type in a field, a name that does not
 * exist), so any 2xx to a write is a finding; and after every refused write the ledger, the
 * promotions, tokens, webhook deliveries, deployments, holds and lifecycle runs are unchanged.
 * At the end: the server logged no error or uncaught exception, still answers, and the canary
 * received nothing. Admin token throughout, so authorisation is not what refuses.
 */
import { request as httpRequest, Agent } from 'node:http';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeImage,
  pushImage,
  startGantryServer,
  startRegistry,
  type GantryServerProcess,
  type RegistryProcess,
  writeDevProdConfig,
} from '../helpers/index.js';
import { recordFigures, scale, seedOf } from '../helpers/reliability.js';
import {
  fromValue,
  hostileJson,
  hostileString,
  jobj,
  messageProblem,
  serialize,
  startCanary,
  wrongTypeFor,
  type Canary,
  type J,
} from './hostile-values.js';

const BOOTSTRAP = `gty_${'f'.repeat(64)}`;
const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const SEED = seedOf();
const READ_RUNS = scale(50, 500);
const WRITE_RUNS = scale(60, 600);
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Node's own limit on a request's head: longer request lines are refused before Fastify sees them. */
const MAX_URL = 6_000;

interface Operation {
  readonly method: string;
  readonly path: string;
  readonly pathParams: readonly string[];
  readonly queryParams: readonly string[];
  readonly body?: { readonly schema: Record<string, unknown>; readonly required: boolean };
}

interface Sent {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
  /** What was generated, for failure messages. */
  readonly what: string;
  /** On a connection of its own (the server closes it after refusing the request's head). */
  readonly fresh?: boolean;
}

interface Reply {
  readonly status: number;
  readonly type: string;
  readonly text: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });
let dir = '';
let dev: RegistryProcess | undefined;
let prod: RegistryProcess | undefined;
let server: GantryServerProcess | undefined;
let receiver: Server | undefined;
let canary: Canary;
const receiverHits: string[] = [];
let redirectToCanary = false;
let operations: Operation[] = [];

const figures = {
  inputsTried: 0,
  readInputs: 0,
  writeInputs: 0,
  routesCovered: 0,
  responses5xx: 0,
  responses2xx: 0,
  responses4xx: 0,
  refusedWritesThatWrote: 0,
  writesAccepted: 0,
  canaryHits: 0,
  configuredReceiverHits: 0,
  policyGateState: '',
  /** Oversized bodies whose connection the server closed (after its 413) before the client finished writing. */
  oversizedClosedEarly: 0,
};

function send(req: Sent): Promise<Reply> {
  const s = server as GantryServerProcess;
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      {
        host: '127.0.0.1',
        port: s.port,
        method: req.method,
        path: req.path,
        agent: req.fresh === true ? false : agent,
        headers: {
          authorization: `Bearer ${BOOTSTRAP}`,
          ...req.headers,
          ...(req.body !== undefined && { 'content-length': String(req.body.length) }),
        },
      },
      (res) => {
        const type = String(res.headers['content-type'] ?? '');
        if (type.startsWith('text/event-stream')) {
          // An event stream never ends: its status and type are the answer.
          res.destroy();
          resolve({ status: res.statusCode ?? 0, type, text: '' });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, type, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    r.on('error', (err: NodeJS.ErrnoException) => {
      // The server may answer 413 and close while an oversized body is still being written.
      if ((req.body?.length ?? 0) > 64 * 1024 && (err.code === 'EPIPE' || err.code === 'ECONNRESET'))
        resolve({ status: 0, type: '', text: '' });
      else reject(err);
    });
    r.setTimeout(30_000, () => r.destroy(new Error(`no answer to ${req.method} ${req.path.slice(0, 200)}`)));
    r.end(req.body);
  });
}

/** Where a reply breaks the promise, or undefined. */
function replyProblem(reply: Reply): string | undefined {
  if (reply.status >= 500) return `status ${reply.status}`;
  if (reply.status >= 400) {
    if (!reply.type.startsWith('application/json')) return `a ${reply.status} of type "${reply.type}"`;
    let body: { error?: { code?: unknown; message?: unknown } };
    try {
      body = JSON.parse(reply.text) as typeof body;
    } catch {
      return `a ${reply.status} whose body is not JSON`;
    }
    if (typeof body.error?.code !== 'string' || !/^[A-Z][A-Z0-9_]+$/.test(body.error.code))
      return `a ${reply.status} without error.code`;
    if (body.error.code === 'INTERNAL') return 'error code INTERNAL';
    const m = messageProblem(body.error.message);
    if (m) return `${m}: ${JSON.stringify(body.error.message).slice(0, 300)}`;
  }
  return undefined;
}

/** What the server has written, in a form that changes whenever it writes anything. */
async function writtenState(): Promise<string> {
  const reads = [
    '/api/v1/ledger?order=desc&limit=1',
    '/api/v1/promotions?limit=1',
    '/api/v1/tokens',
    '/api/v1/webhooks/deliveries?limit=1',
    '/api/v1/deployments?limit=1',
    '/api/v1/holds?all=true',
    '/api/v1/lifecycle/runs',
  ];
  const parts = await Promise.all(
    reads.map(async (path) => {
      const r = await send({ method: 'GET', path, headers: {}, what: 'state' });
      if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.text.slice(0, 200)}`);
      return idsOf(JSON.parse(r.text));
    }),
  );
  return JSON.stringify(parts);
}

/** The identities in a list answer (ids, sequence numbers), ignoring fields like lastUsedAt. */
function idsOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(idsOf);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if ('seq' in o) return o.seq;
    if ('id' in o) return [o.id, o.state ?? o.status ?? o.revokedAt ?? null];
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, idsOf(v)]));
  }
  return value;
}

/** Characters a request line cannot carry are escaped; `..`, `/`, `%`, `?`, `#`, `&` stay raw. */
function rawish(s: string): string {
  return pct(s, /[\x21-\x7e]/);
}

/** Percent-encodes the UTF-8 bytes of `s` except those `keep` matches (lone surrogates become U+FFFD). */
function pct(s: string, keep = /[A-Za-z0-9\-_.~]/): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) =>
      b < 0x80 && keep.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).padStart(2, '0').toUpperCase()}`,
    )
    .join('');
}

const encoded = (strings: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc
    .tuple(strings, fc.constantFrom('component', 'raw', 'double'))
    .map(([s, how]) => (how === 'component' ? pct(s) : how === 'raw' ? rawish(s) : pct(pct(s))))
    .filter((s) => s.length <= MAX_URL / 2);

function pathArb(op: Operation, strings: fc.Arbitrary<string>): fc.Arbitrary<string> {
  if (op.pathParams.length === 0) return fc.constant(op.path);
  const value = fc.oneof(
    encoded(strings),
    fc.constantFrom('..', '%2e%2e', '.', '%2F', 'a%zz', '%', 'web/../../tokens', `${'a'.repeat(5000)}`),
  );
  return fc
    .array(value, { minLength: op.pathParams.length, maxLength: op.pathParams.length })
    .map((values) => op.pathParams.reduce((p, name, i) => p.replace(`{${name}}`, values[i] ?? ''), op.path));
}

function queryArb(op: Operation, strings: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const key = fc.oneof(
    fc.constantFrom(...op.queryParams, '__proto__', 'constructor', 'a[b][c]', 'limit', 'env', ''),
    encoded(strings),
  );
  const pair = fc.tuple(key, encoded(strings), fc.boolean()).map(([k, v, eq]) => (eq ? `${k}=${v}` : k));
  return fc.oneof(
    fc.constant(''),
    fc.constantFrom('?', '?&&&', '?=', '?%', '?limit=1&limit=2&limit=x'),
    fc.array(pair, { minLength: 1, maxLength: 6 }).map((pairs) => `?${pairs.join('&')}`),
  );
}

/** Plausible values of the fields, so a single wrong field is what the server has to catch. */
function plausible(name: string, schema: Record<string, unknown>): unknown {
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  switch (schema.type) {
    case 'array':
      return [];
    case 'boolean':
      return true;
    case 'number':
    case 'integer':
      return 1;
    case 'object':
      return {};
    default:
      return (
        (
          {
            app: 'web',
            to: 'prod',
            env: 'prod',
            from: 'dev',
            version: '1.0.0',
            digest: `sha256:${'d'.repeat(64)}`,
            name: 'fuzz',
            target: 'cluster-a',
            kind: 'gc',
            reason: 'fuzz',
          } as Record<string, unknown>
        )[name] ?? 'x'
      );
  }
}

/** A body of the operation's shape with hostile fields, one of them certainly of the wrong type. */
function shapedBody(
  op: Operation,
  strings: fc.Arbitrary<string>,
): fc.Arbitrary<{ text: string; what: string }> {
  const schema = op.body?.schema ?? {};
  const props = (schema.properties as Record<string, Record<string, unknown>> | undefined) ?? {};
  const names = Object.keys(props);
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const hostile = hostileJson(strings);
  if (names.length === 0)
    return fc.oneof(hostile, wrongTypeFor('object')).map((j) => ({ text: serialize(j), what: 'shapeless' }));
  const victims = names.filter((n) => required.has(n) && props[n]?.type !== undefined);
  const typed = names.filter((n) => props[n]?.type !== undefined);
  const pool = victims.length > 0 ? victims : typed;
  return fc
    .record({
      victim: pool.length > 0 ? fc.constantFrom(...pool) : fc.constant(undefined),
      others: fc.array(fc.tuple(fc.constantFrom(...names), hostile), { maxLength: names.length }),
      extra: fc.array(fc.tuple(fc.constantFrom('__proto__', 'constructor', 'prototype', 'x'), hostile), {
        maxLength: 2,
      }),
      duplicate: fc.boolean(),
    })
    .chain(({ victim, others, extra, duplicate }) =>
      (victim !== undefined ? wrongTypeFor(props[victim]?.type) : fc.constant<J | undefined>(undefined)).map(
        (wrong) => {
          const entries = new Map<string, J>(names.map((n) => [n, fromValue(plausible(n, props[n] ?? {}))]));
          for (const [k, v] of others) entries.set(k, v);
          if (victim !== undefined && wrong) entries.set(victim, wrong);
          const list: (readonly [string, J])[] = [...entries, ...extra];
          // A duplicate key whose LAST value is the wrong one: parsers keep the last.
          if (duplicate && victim !== undefined && wrong) list.push([victim, wrong]);
          const body = victim === undefined ? hostileBodyOfWrongShape(list) : jobj(list);
          return { text: serialize(body), what: `shaped, ${victim ?? 'no typed field'} wrong` };
        },
      ),
    );
}

/** Without a typed field to break, the body itself is of the wrong type (an array of the entries). */
const hostileBodyOfWrongShape = (list: readonly (readonly [string, J])[]): J => ({
  t: 'arr',
  items: list.map(([k, v]) => jobj([[k, v]])),
});

/** Bodies that are not the operation's JSON at all. */
const garbageBody: fc.Arbitrary<{ body: Buffer; type?: string; what: string }> = fc.oneof(
  fc
    .string({ maxLength: 200 })
    .map((s) => ({ body: Buffer.from(s), type: 'application/json', what: 'text as JSON' })),
  fc
    .tuple(fc.json({ maxDepth: 3 }), fc.nat())
    .filter(([j]) => j.length > 1)
    .map(([j, n]) => ({
      body: Buffer.from(j.slice(0, 1 + (n % (j.length - 1)))),
      type: 'application/json',
      what: 'truncated JSON',
    })),
  fc.uint8Array({ maxLength: 300 }).map((b) => ({
    body: Buffer.from(b),
    type: 'application/json',
    what: 'binary as JSON',
  })),
  fc.constant({ body: Buffer.alloc(0), type: 'application/json', what: 'empty JSON body' }),
  fc.constant({ body: Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), type: 'application/json', what: 'not UTF-8' }),
  fc
    .constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/json; charset=utf-16',
      'application/octet-stream',
      '',
    )
    .map((type) => ({ body: Buffer.from('{"app":"web"}'), type, what: `content-type "${type}"` })),
  fc.constant({ body: Buffer.from('{"app":"web"}'), what: 'no content-type' }),
  fc.integer({ min: 65 * 1024, max: 2 * 1024 * 1024 }).map((n) => ({
    body: Buffer.from(`{"app":"${'x'.repeat(n)}"}`),
    type: 'application/json',
    what: `oversized ${n} B`,
  })),
);

function requestArb(op: Operation, strings: fc.Arbitrary<string>): fc.Arbitrary<Sent> {
  const where = fc.tuple(pathArb(op, strings), queryArb(op, strings)).map(([p, q]) => `${p}${q}`);
  if (!WRITES.has(op.method))
    return where.map((path) => ({ method: op.method, path, headers: {}, what: 'hostile path and query' }));
  const bodies = fc.oneof(
    {
      weight: 3,
      arbitrary: shapedBody(op, strings).map((b) => ({
        body: Buffer.from(b.text),
        type: 'application/json',
        what: b.what,
      })),
    },
    { weight: 2, arbitrary: garbageBody },
  );
  // Writes keep the real path when they have none to fuzz, hostile ones (which name nothing) otherwise.
  return fc.tuple(where, bodies).map(([path, b]) => ({
    method: op.method,
    path:
      op.pathParams.length === 0 ? op.path + (path.includes('?') ? path.slice(path.indexOf('?')) : '') : path,
    headers: headersOf(b.type),
    body: b.body,
    what: b.what,
  }));
}

const headersOf = (type: string | undefined): Record<string, string> =>
  type !== undefined ? { 'content-type': type } : {};

const describeSent = (s: Sent): string =>
  `${s.method} ${s.path.slice(0, 300)} [${s.what}] ${s.body ? s.body.subarray(0, 300).toString('utf8') : ''}`;

beforeAll(async () => {
  canary = await startCanary();
  receiver = createServer((req, res) => {
    receiverHits.push(`${req.method} ${req.url}`);
    req.resume();
    if (redirectToCanary) {
      // The configured policy service and webhook receiver try to send Gantry elsewhere.
      res.writeHead(req.url === '/policy' ? 307 : 308, {
        location: canary.urls[receiverHits.length % 3] ?? '',
      });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"result":true}');
  });
  await new Promise<void>((resolve) => receiver?.listen(0, '127.0.0.1', resolve));
  const receiverPort = (receiver.address() as AddressInfo).port;
  [dev, prod] = await Promise.all([startRegistry(), startRegistry()]);
  await pushImage(dev, 'dev/web', makeImage({ seed: 'hostile-api-web' }), '1.0.0');
  dir = await mkdtemp(join(tmpdir(), 'gantry-hostile-api-'));
  const config = await writeDevProdConfig(dir, {
    dev: dev.url,
    prod: prod.url,
    applications: ['web', 'api'],
    floating: false,
    gates: [`policy: { url: "http://127.0.0.1:${receiverPort}/policy", timeout: 2s }`],
    rest: `teams:
  payments: [web]
webhooks:
  hook:
    url: http://127.0.0.1:${receiverPort}/hook
    secretEnv: HOSTILE_API_WEBHOOK_SECRET
`,
  });
  server = await startGantryServer({
    config,
    dataDir: join(dir, 'data'),
    bootstrapToken: BOOTSTRAP,
    env: { HOSTILE_API_WEBHOOK_SECRET: SECRET },
  });
  const doc = JSON.parse(
    (await send({ method: 'GET', path: '/openapi.json', headers: {}, what: 'doc' })).text,
  ) as {
    paths: Record<
      string,
      Record<string, { parameters?: { name: string; in: string }[]; requestBody?: unknown }>
    >;
  };
  operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => {
      const rb = op.requestBody as
        { required?: boolean; content?: Record<string, { schema?: Record<string, unknown> }> } | undefined;
      const schema = rb?.content?.['application/json']?.schema;
      return {
        method: method.toUpperCase(),
        path,
        pathParams: (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
        ...(schema && { body: { schema, required: rb?.required ?? false } }),
      };
    }),
  );
}, 180_000);

afterAll(async () => {
  agent.destroy();
  await server?.kill();
  await Promise.all([dev?.stop(), prod?.stop(), canary?.stop()]);
  if (receiver) {
    receiver.closeAllConnections();
    await new Promise((r) => receiver?.close(r));
  }
  if (dir !== '') await rm(dir, { recursive: true, force: true });
}, 60_000);

describe(`hostile API input against a real gantry serve (seed ${SEED})`, () => {
  it('enumerates the operations from /openapi.json, writes among them', () => {
    expect(operations.length).toBeGreaterThan(30);
    expect(operations.filter((o) => WRITES.has(o.method)).length).toBeGreaterThan(8);
  });

  it('answers every hostile request below 500 with a one-line JSON error, and refused writes write nothing', async () => {
    const strings = hostileString(canary.urls);
    let baseline = await writtenState();
    let index = 0;
    for (const op of operations) {
      const write = WRITES.has(op.method);
      const property = fc.asyncProperty(requestArb(op, strings), async (sent) => {
        figures.inputsTried++;
        if (write) figures.writeInputs++;
        else figures.readInputs++;
        const reply = await send(sent);
        if (reply.status === 0) figures.oversizedClosedEarly++;
        else if (reply.status >= 500) figures.responses5xx++;
        else if (reply.status >= 400) figures.responses4xx++;
        else figures.responses2xx++;
        const problem = reply.status === 0 ? undefined : replyProblem(reply);
        if (problem) throw new Error(`${problem} for ${describeSent(sent)}: ${reply.text.slice(0, 400)}`);
        if (!write) return;
        const after = await writtenState();
        const wrote = after !== baseline;
        baseline = after;
        if (reply.status >= 200 && reply.status < 300) {
          figures.writesAccepted++;
          // The notification route accepts well-formed pushes of images nobody knows (it records nothing).
          if (op.path !== '/api/v1/registry-events' || wrote)
            throw new Error(
              `a generated-invalid write was accepted (${reply.status}): ${describeSent(sent)}`,
            );
        } else if (wrote) {
          figures.refusedWritesThatWrote++;
          throw new Error(`refused with ${reply.status} but wrote: ${describeSent(sent)}`);
        }
      });
      await fc.assert(property, {
        seed: SEED + index++,
        numRuns: write ? WRITE_RUNS : READ_RUNS,
        endOnFailure: false,
      });
      figures.routesCovered++;
    }
    expect(figures.routesCovered).toBe(operations.length);
  }, 600_000);

  it('regression: a malformed percent-encoding in the path gets the API error body (was Fastify’s own FST_ERR_BAD_URL body)', async () => {
    for (const path of ['/api/v1/tokens/%', '/api/v1/promotions/%zz', '/api/v1/lifecycle/runs/a%?x=1']) {
      const reply = await send({
        method: path.includes('tokens') ? 'DELETE' : 'GET',
        path,
        headers: {},
        what: 'bad url',
      });
      figures.inputsTried++;
      expect(reply.status, path).toBe(400);
      expect(replyProblem(reply), reply.text).toBeUndefined();
      expect((JSON.parse(reply.text) as { error: { code: string } }).error.code).toBe('API_REQUEST_INVALID');
    }
  });

  it('regression: a request line past Node’s 16 KB header limit gets 431 with the API error body (was Node’s bare 431)', async () => {
    const reply = await send({
      method: 'GET',
      path: `/api/v1/promotions?app=${'a'.repeat(20_000)}`,
      headers: {},
      what: 'huge URL',
      fresh: true,
    });
    figures.inputsTried++;
    expect(reply.status).toBe(431);
    expect(replyProblem(reply), reply.text).toBeUndefined();
    expect((JSON.parse(reply.text) as { error: { code: string } }).error.code).toBe('API_REQUEST_INVALID');
  });

  it('answers bytes that are not HTTP with 400 and the API error body (was Node’s bare 400)', async () => {
    const url = new URL(server?.url ?? '');
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => socket.end('GARBAGE \x00\x01\r\n\r\n'));
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    figures.inputsTried++;
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    expect(head).toMatch(/^content-type: application\/json/im);
    const reply: Reply = { status: 400, type: 'application/json', text: body };
    expect(replyProblem(reply), body).toBeUndefined();
  });

  it('a real promotion: the configured policy service and webhook receiver redirect to the canary, and are not followed (the gate fails closed)', async () => {
    redirectToCanary = true;
    const before = receiverHits.length;
    const posted = await send({
      method: 'POST',
      path: '/api/v1/promotions',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ app: 'web', version: '1.0.0', to: 'prod' })),
      what: 'valid promotion',
    });
    expect(posted.status, posted.text).toBe(202);
    const id = (JSON.parse(posted.text) as { id: string }).id;
    let view: { state: string; pending?: unknown } = { state: '' };
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const got = await send({ method: 'GET', path: `/api/v1/promotions/${id}`, headers: {}, what: 'poll' });
      view = JSON.parse(got.text) as typeof view;
      const asked = receiverHits.slice(before);
      if (asked.includes('POST /policy') && asked.includes('POST /hook') && view.state !== 'requested') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const asked = receiverHits.slice(before);
    expect(asked, JSON.stringify(view)).toContain('POST /policy');
    expect(asked).toContain('POST /hook');
    // A policy that answered with a redirect allowed nothing: the only gate failed, nothing was copied.
    expect(view.state, JSON.stringify(view)).not.toMatch(/approved|copying|completed/);
    figures.policyGateState = view.state;
    await new Promise((r) => setTimeout(r, 1_000));
    expect(canary.hits, JSON.stringify(canary.hits.slice(0, 3))).toEqual([]);
  }, 90_000);

  it('logged no error or uncaught exception, still answers, and no unconfigured URL was called', async () => {
    const s = server as GantryServerProcess;
    const health = await fetch(`${s.url}/healthz`);
    expect(health.status).toBe(200);
    // Deliveries and gate evaluations are asynchronous: give them a moment to happen (they should not).
    await new Promise((r) => setTimeout(r, 1_500));
    const { stdout, stderr } = s.output();
    const log = `${stdout}\n${stderr}`;
    expect(log).not.toMatch(/"level":(50|60)/);
    expect(log).not.toMatch(/uncaught|unhandled/i);
    expect(log).not.toMatch(/\n\s+at \S+ \(/);
    figures.canaryHits = canary.hits.length;
    figures.configuredReceiverHits = receiverHits.length;
    expect(canary.hits, JSON.stringify(canary.hits.slice(0, 5))).toEqual([]);
    expect(s.child.exitCode).toBeNull();
    const recorded = recordFigures('hostile-api', figures, SEED);
    expect(recorded.figures.responses5xx).toBe(0);
  });
});
