/**
 * Hostile input, registry notifications (issue 15, item 3; item 4 "webhook and policy URLs are
 * only the configured ones"). `POST /api/v1/registry-events` in process on a real store, fed by
 * fast-check: the recorded distribution envelope and Harbor webhook and a generic event with
 * fields replaced, dropped, retyped, duplicated (the canary's URLs in `target.url`,
 * `request.host`, `resource_url` and any other string), arbitrary JSON, and bytes that are not
 * JSON; each with one of several authentications (admin, registry, ci, viewer tokens; a valid
 * HMAC signature; a wrong one, one over other bytes, a malformed one; nothing).
 *
 * Every answer is below 500 with the API's one-line error on a 4xx; authentication decides
 * first (a viewer is refused 403, no credential or a bad signature 401); a refused notification
 * records no candidate and no ledger entry; an accepted one records only candidates of configured
 * applications in configured environments, each a valid digest pushed to that environment's
 * repository on that environment's registry, and as many as it says it accepted. The canary, whose
 * URLs the payloads carry, is never called.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewCandidate } from '../../src/jobs/index.js';
import type { GantryServer } from '../../src/server/index.js';
import {
  registryEventFixture,
  startRegistryEventsWorld,
  type MemorySink,
  type RegistryEventsWorld,
} from '../helpers/registry-events.js';
import { recordFigures, scale, seedOf } from '../helpers/reliability.js';
import {
  fromValue,
  hostileJson,
  hostileString,
  jstr,
  messageProblem,
  serialize,
  startCanary,
  type Canary,
  type J,
} from './hostile-values.js';

const SEED = seedOf();
const RUNS = scale(600, 6_000);
const BOOTSTRAP = `gty_${'e'.repeat(64)}`;
const SECRET = 'hostile events secret, long enough';
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Where each configured environment's applications live (see registryEventsConfig): host and repository prefix. */
const HOMES: Record<string, { host: RegExp; prefix: string }> = {
  dev: { host: /^registry\.example\.com:5000$/i, prefix: 'dev' },
  staging: { host: /^harbor\.example\.com(:443)?$/i, prefix: 'dev' },
};

const fixture = (name: string): unknown => JSON.parse(registryEventFixture(name));

let world: RegistryEventsWorld | undefined;
let server: GantryServer;
let canary: Canary;
let sink: MemorySink;
let tokens: RegistryEventsWorld['tokens'];

const figures = {
  inputsTried: 0,
  accepted: 0,
  refused: 0,
  candidatesRecorded: 0,
  responses5xx: 0,
  refusedThatWrote: 0,
  candidatesOutsideConfig: 0,
  canaryHits: 0,
};

type Auth =
  | 'admin'
  | 'registry'
  | 'ci'
  | 'viewer'
  | 'hmac'
  | 'hmac-wrong'
  | 'hmac-other-bytes'
  | 'hmac-malformed'
  | 'none';
const AUTHS: readonly Auth[] = [
  'admin',
  'registry',
  'ci',
  'viewer',
  'hmac',
  'hmac-wrong',
  'hmac-other-bytes',
  'hmac-malformed',
  'none',
];

const sign = (body: Buffer | string, secret = SECRET): string =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

function headersFor(auth: Auth, body: Buffer): Record<string, string> {
  switch (auth) {
    case 'admin':
      return { authorization: `Bearer ${BOOTSTRAP}` };
    case 'registry':
    case 'ci':
    case 'viewer':
      return { authorization: `Bearer ${tokens[auth] ?? ''}` };
    case 'hmac':
      return { 'x-gantry-signature': sign(body) };
    case 'hmac-wrong':
      return { 'x-gantry-signature': sign(body, 'another secret') };
    case 'hmac-other-bytes':
      return { 'x-gantry-signature': sign(Buffer.concat([body, Buffer.from(' ')])) };
    case 'hmac-malformed':
      return { 'x-gantry-signature': 'sha256=zz' };
    case 'none':
      return {};
  }
}

/** Every node of a tree with the path to it (as indexes into arrays and entry lists). */
function nodes(j: J, path: number[] = [], out: number[][] = []): number[][] {
  out.push(path);
  if (j.t === 'arr') j.items.forEach((x, i) => nodes(x, [...path, i], out));
  if (j.t === 'obj') j.entries.forEach(([, x], i) => nodes(x, [...path, i], out));
  return out;
}

type Mutation = { kind: 'replace' | 'drop' | 'duplicate' | 'wrap'; at: number; value: J };

/** `j` with the node at `path` replaced (or dropped, duplicated, wrapped in an array). */
function apply(j: J, path: readonly number[], m: Mutation): J {
  if (path.length === 0)
    return m.kind === 'wrap' ? { t: 'arr', items: [j] } : m.kind === 'replace' ? m.value : j;
  const [i = 0, ...rest] = path;
  if (j.t === 'arr') {
    const items = [...j.items];
    if (rest.length === 0 && m.kind === 'drop') items.splice(i, 1);
    else if (rest.length === 0 && m.kind === 'duplicate') items.splice(i, 0, items[i] ?? m.value);
    else items[i] = apply(items[i] ?? m.value, rest, m);
    return { t: 'arr', items };
  }
  if (j.t === 'obj') {
    const entries = [...j.entries];
    const entry = entries[i];
    if (!entry) return j;
    if (rest.length === 0 && m.kind === 'drop') entries.splice(i, 1);
    else if (rest.length === 0 && m.kind === 'duplicate') entries.push([entry[0], m.value]);
    else entries[i] = [entry[0], apply(entry[1], rest, m)];
    return { t: 'obj', entries };
  }
  return j;
}

const generic = {
  registry: 'registry.example.com:5000',
  repository: 'dev/web',
  tag: '1.4.2',
  digest: `sha256:${'c'.repeat(64)}`,
};

function payloadArb(strings: fc.Arbitrary<string>): fc.Arbitrary<{ body: Buffer; what: string }> {
  const base = fc.constantFrom(
    { name: 'distribution', j: fromValue(fixture('distribution-push.json')) },
    { name: 'harbor', j: fromValue(fixture('harbor-push.json')) },
    { name: 'generic', j: fromValue(generic) },
  );
  const value = fc.oneof(strings.map(jstr), hostileJson(strings, 1));
  const mutation = fc.record({
    kind: fc.constantFrom<Mutation['kind']>('replace', 'replace', 'replace', 'drop', 'duplicate', 'wrap'),
    at: fc.nat(),
    value,
  });
  const mutated = fc.tuple(base, fc.array(mutation, { minLength: 0, maxLength: 4 })).map(([b, ms]) => {
    let j = b.j;
    for (const m of ms) {
      const all = nodes(j);
      j = apply(j, all[m.at % all.length] ?? [], m);
    }
    return {
      body: Buffer.from(serialize(j)),
      what: `${b.name} with ${ms.map((m) => m.kind).join(',') || 'nothing'} mutated`,
    };
  });
  return fc.oneof(
    { weight: 6, arbitrary: mutated },
    {
      weight: 1,
      arbitrary: hostileJson(strings).map((j) => ({ body: Buffer.from(serialize(j)), what: 'any JSON' })),
    },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => ({ body: Buffer.from(b), what: 'bytes' })),
    },
    {
      weight: 1,
      arbitrary: fc.nat().map((n) => {
        const text = JSON.stringify(fixture('distribution-push.json'));
        return { body: Buffer.from(text.slice(0, n % text.length)), what: 'truncated envelope' };
      }),
    },
  );
}

async function ledgerLength(): Promise<number> {
  const res = await server.http.inject({
    method: 'GET',
    url: '/api/v1/ledger?order=desc&limit=1',
    headers: { authorization: `Bearer ${BOOTSTRAP}` },
  });
  return res.json<{ entries: { seq: number }[] }>().entries[0]?.seq ?? 0;
}

/** Why a recorded candidate should not have been, or undefined. */
function candidateProblem(c: NewCandidate, payload: string): string | undefined {
  const home = HOMES[c.environment];
  if (!home) return `environment ${c.environment} is not configured`;
  if (c.app !== 'web' && c.app !== 'api') return `application ${c.app} is not configured`;
  if (!DIGEST_RE.test(c.digest)) return `digest ${c.digest}`;
  if (c.tag !== undefined && !TAG_RE.test(c.tag)) return `tag ${JSON.stringify(c.tag)}`;
  if (!payload.includes(c.digest)) return 'a digest the payload does not hold';
  const repo = `${home.prefix}/${c.app}`;
  if (!payload.includes(repo) && !payload.includes(c.app)) return `repository ${repo} not in the payload`;
  return undefined;
}

beforeAll(async () => {
  canary = await startCanary();
  world = await startRegistryEventsWorld({
    tmpPrefix: 'gantry-hostile-events-',
    bootstrapToken: BOOTSTRAP,
    secretEnv: 'GANTRY_HOSTILE_EVENTS_SECRET',
    secret: SECRET,
  });
  ({ server, sink, tokens } = world);
}, 120_000);

afterAll(async () => {
  await world?.close();
  await canary?.stop();
}, 60_000);

describe(`hostile registry notifications (seed ${SEED})`, () => {
  it('never 5xx; refused ones write nothing; accepted ones record only configured applications and environments', async () => {
    const strings = hostileString(canary.urls);
    const contentTypes = fc.constantFrom(
      'application/json',
      'application/vnd.docker.distribution.events.v1+json',
      'text/plain',
      'application/x-www-form-urlencoded',
      '',
    );
    await fc.assert(
      fc.asyncProperty(
        payloadArb(strings),
        fc.constantFrom(...AUTHS),
        contentTypes,
        async (p, auth, type) => {
          figures.inputsTried++;
          const before = sink.seen.length;
          const ledgerBefore = await ledgerLength();
          const res = await server.http.inject({
            method: 'POST',
            url: '/api/v1/registry-events',
            headers: { ...(type !== '' && { 'content-type': type }), ...headersFor(auth, p.body) },
            payload: p.body,
          });
          const said = `${auth} ${p.what}: ${p.body.subarray(0, 400).toString('utf8')} → ${res.statusCode} ${res.body.slice(0, 300)}`;
          const recorded = sink.seen.slice(before);
          if (res.statusCode >= 500) {
            figures.responses5xx++;
            throw new Error(`5xx for ${said}`);
          }
          if (res.statusCode >= 400) {
            figures.refused++;
            const body = res.json<{ error?: { code?: string; message?: string } }>();
            const m = messageProblem(body.error?.message);
            if (typeof body.error?.code !== 'string' || m)
              throw new Error(`error body (${m ?? 'no code'}) for ${said}`);
            if (recorded.length > 0 || (await ledgerLength()) !== ledgerBefore) {
              figures.refusedThatWrote++;
              throw new Error(`refused but recorded for ${said}`);
            }
          } else {
            figures.accepted++;
            figures.candidatesRecorded += recorded.length;
            const answer = res.json<{ accepted: number; ignored: number }>();
            if (answer.accepted !== recorded.length)
              throw new Error(`said ${answer.accepted}, recorded ${recorded.length}: ${said}`);
            const text = p.body.toString('utf8');
            for (const c of recorded) {
              const problem = candidateProblem(c, text);
              if (problem) {
                figures.candidatesOutsideConfig++;
                throw new Error(`${problem}: ${JSON.stringify(c)} for ${said}`);
              }
            }
          }
          // Authentication decides before the body is looked at.
          const expected =
            auth === 'viewer'
              ? 403
              : ['none', 'hmac-wrong', 'hmac-other-bytes', 'hmac-malformed'].includes(auth)
                ? 401
                : undefined;
          // (An empty body is refused 400 before a signature is looked at: there is nothing to verify.)
          const emptyRefused = p.body.length === 0 && res.statusCode === 400;
          if (expected !== undefined && res.statusCode !== expected && !emptyRefused)
            throw new Error(`expected ${expected} for ${said}`);
        },
      ),
      { seed: SEED, numRuns: RUNS, endOnFailure: false },
    );
    // The generators reach both sides: some notifications are accepted with candidates, most are refused.
    expect(figures.candidatesRecorded).toBeGreaterThan(0);
    expect(figures.refused).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 300));
    figures.canaryHits = canary.hits.length;
    expect(canary.hits).toEqual([]);
    recordFigures('hostile-registry-events', figures, SEED);
  }, 300_000);
});
