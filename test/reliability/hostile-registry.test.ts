/**
 * Hostile input, registry responses (issue 15, item 3), from a SCRIPTED FAKE source registry
 * (test/helpers/fake-registry.ts) into a REAL destination registry. The fake serves one image
 * faithfully except for one fast-check generated fault on one kind of answer (manifest, blob,
 * tag list, referrers, the `/v2/` ping): truncated or malformed JSON, a mutated manifest, the
 * wrong or no Content-Type, huge headers (`Link`, `WWW-Authenticate`, any), a wrong or malformed
 * `Docker-Content-Digest`, bytes that do not match their digest, a short body, an absurd
 * `Content-Length`, odd statuses, a bearer challenge whose realm is not http(s) or points at the
 * canary in a form Gantry must not call. `copyImage` runs in process with quick retries.
 *
 * Each copy either succeeds, and then the destination holds exactly the manifest the source
 * served under the tag, or fails with a GantryError whose code is not INTERNAL and whose message
 * is one line; then the destination has no tag and no manifest in that repository. The canary
 * is never called.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGantryError } from '../../src/core/index.js';
import { copyImage } from '../../src/copy/index.js';
import { RegistryClient } from '../../src/registry/index.js';
import {
  makeImage,
  registryRequest,
  sendBytes,
  startFakeRegistry,
  startRegistry,
  type FakeRegistry,
  type FakeRequest,
  type RegistryProcess,
  type TestImage,
} from '../helpers/index.js';
import { recordFigures, scale, seedOf } from '../helpers/reliability.js';
import { target } from '../integration/copy-helpers.js';
import { hostileString, messageProblem, startCanary, type Canary } from './hostile-values.js';

const SEED = seedOf();
const RUNS = scale(400, 4_000);
const REPO = 'src/app';

type Where = 'manifest' | 'blob' | 'tags' | 'referrers' | 'ping';
type Fault =
  | { kind: 'truncate'; at: number }
  | { kind: 'short'; at: number }
  | { kind: 'garbage'; text: string }
  | { kind: 'mutate'; key: string; value: unknown }
  | { kind: 'content-type'; value: string | undefined }
  | { kind: 'huge-header'; name: string; size: number }
  | { kind: 'digest-header'; value: string | undefined }
  | { kind: 'flip'; at: number }
  | { kind: 'absurd-length'; value: string }
  | { kind: 'status'; status: number }
  | { kind: 'realm'; realm: string };

interface Case {
  readonly where: Where;
  readonly fault: Fault;
}

let fake: FakeRegistry;
let dst: RegistryProcess;
let canary: Canary;
let image: TestImage;
let current: Case | undefined;
/** The manifest bytes the fake last served for a GET (after the fault). */
let servedManifest: Buffer | undefined;
let runIndex = 0;

const figures = {
  inputsTried: 0,
  copiesSucceeded: 0,
  copiesRefused: 0,
  internalErrors: 0,
  otherExceptions: 0,
  refusedThatWrote: 0,
  wrongContentWritten: 0,
  canaryHits: 0,
  slowestCopyMs: 0,
  realmElsewhereCalls: 0,
};
const codes: Record<string, number> = {};
const slowest: Record<string, number> = {};

const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Sends `body` under `headers`, damaged by `fault` when this answer is the one it aims at. */
function answer(
  req: FakeRequest,
  res: ServerResponse,
  where: Where,
  body: Buffer,
  headers: Record<string, string>,
): void {
  const c = current;
  if (!c || c.where !== where) {
    sendBytes(res, 200, body, headers);
    return;
  }
  const f = c.fault;
  const h = { ...headers };
  let b = body;
  let status = 200;
  switch (f.kind) {
    case 'truncate':
      b = body.subarray(0, f.at % Math.max(1, body.length));
      break;
    case 'short': {
      res.writeHead(200, { ...h, 'Content-Length': String(body.length) });
      if (req.method === 'HEAD') res.end();
      else {
        res.write(body.subarray(0, f.at % Math.max(1, body.length)));
        res.destroy();
      }
      return;
    }
    case 'garbage':
      b = Buffer.from(f.text);
      if (where === 'manifest') h['Docker-Content-Digest'] = digestOf(b);
      break;
    case 'mutate': {
      try {
        const json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
        json[f.key] = f.value;
        b = Buffer.from(JSON.stringify(json));
      } catch {
        b = body;
      }
      if (where === 'manifest') h['Docker-Content-Digest'] = digestOf(b);
      break;
    }
    case 'content-type':
      delete h['Content-Type'];
      if (f.value !== undefined) h['Content-Type'] = f.value;
      break;
    case 'huge-header':
      h[f.name] = f.name === 'Link' ? `<${'/v2/x'.repeat(f.size / 5)}>; rel="next"` : 'x'.repeat(f.size);
      break;
    case 'digest-header':
      delete h['Docker-Content-Digest'];
      if (f.value !== undefined) h['Docker-Content-Digest'] = f.value;
      break;
    case 'flip': {
      b = Buffer.from(body);
      const i = f.at % Math.max(1, b.length);
      b[i] = (b[i] ?? 0) ^ 0x5a;
      break;
    }
    case 'absurd-length':
      // A HEAD may claim anything; a GET cannot send more than it has, so it closes early.
      res.writeHead(200, { ...h, 'Content-Length': f.value });
      if (req.method === 'HEAD') res.end();
      else {
        res.write(body);
        res.destroy();
      }
      return;
    case 'status':
      status = f.status;
      if (status === 401) h['WWW-Authenticate'] = 'Bearer realm="nowhere"';
      break;
    case 'realm':
      sendBytes(res, 401, '{"errors":[{"code":"UNAUTHORIZED","message":"auth"}]}', {
        'Content-Type': 'application/json',
        'WWW-Authenticate': `Bearer realm="${f.realm}",service="fake",scope="repository:${REPO}:pull"`,
      });
      return;
  }
  if (where === 'manifest' && req.method === 'GET') servedManifest = b;
  try {
    sendBytes(res, status, b, h);
  } catch {
    // A header value Node itself will not send (e.g. a control character): the connection just ends.
    res.destroy();
  }
}

function handle(req: FakeRequest, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://fake').pathname;
  if (path === '/v2/' || path === '/v2') {
    answer(req, res, 'ping', Buffer.from('{}'), { 'Content-Type': 'application/json' });
    return;
  }
  // Every other answer goes through the ping's fault too when it is a challenge.
  if (current?.fault.kind === 'realm' && current.where === 'ping') {
    answer(req, res, 'ping', Buffer.alloc(0), {});
    return;
  }
  const manifest = new RegExp(`^/v2/${REPO}/manifests/(.+)$`).exec(path);
  if (manifest) {
    const ref = decodeURIComponent(manifest[1] ?? '');
    if (ref !== 'v1' && ref !== image.digest && ref !== digestOf(servedManifest ?? image.manifest)) {
      sendBytes(res, 404, '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no"}]}', {
        'Content-Type': 'application/json',
      });
      return;
    }
    answer(req, res, 'manifest', image.manifest, {
      'Content-Type': image.mediaType,
      'Docker-Content-Digest': image.digest,
    });
    return;
  }
  const blob = new RegExp(`^/v2/${REPO}/blobs/(sha256:[0-9a-f]{64})$`).exec(path);
  if (blob) {
    const bytes = image.blobs.get(blob[1] ?? '');
    if (!bytes) {
      sendBytes(res, 404, '{"errors":[{"code":"BLOB_UNKNOWN","message":"no"}]}', {
        'Content-Type': 'application/json',
      });
      return;
    }
    answer(req, res, 'blob', bytes, {
      'Content-Type': 'application/octet-stream',
      'Docker-Content-Digest': blob[1] ?? '',
    });
    return;
  }
  if (path === `/v2/${REPO}/tags/list`) {
    answer(req, res, 'tags', Buffer.from(JSON.stringify({ name: REPO, tags: ['v1'] })), {
      'Content-Type': 'application/json',
    });
    return;
  }
  if (path.startsWith(`/v2/${REPO}/referrers/`)) {
    answer(
      req,
      res,
      'referrers',
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: [],
        }),
      ),
      { 'Content-Type': 'application/vnd.oci.image.index.v1+json' },
    );
    return;
  }
  sendBytes(res, 404, '{"errors":[{"code":"NAME_UNKNOWN","message":"no"}]}', {
    'Content-Type': 'application/json',
  });
}

function faultArb(strings: fc.Arbitrary<string>, canaryUrls: readonly string[]): fc.Arbitrary<Fault> {
  return fc.oneof(
    fc.nat().map((at): Fault => ({ kind: 'truncate', at })),
    fc.nat().map((at): Fault => ({ kind: 'short', at })),
    fc
      .oneof(
        fc.string({ maxLength: 200 }),
        fc.json({ maxDepth: 3 }),
        fc.constantFrom(
          '{',
          '{"schemaVersion":2',
          '[]',
          'null',
          '{"schemaVersion":1}',
          '{"manifests":{}}',
          '\u0000',
        ),
      )
      .map((text): Fault => ({ kind: 'garbage', text })),
    fc
      .record({
        key: fc.constantFrom(
          'schemaVersion',
          'mediaType',
          'config',
          'layers',
          'manifests',
          'subject',
          'annotations',
          'tags',
          'name',
        ),
        value: fc.oneof(
          strings,
          fc.constantFrom(null, 1e308, -0, [], {}, [{}], [null], { digest: 'sha256:zz', size: -1 }, 2, true),
          fc.constant([
            {
              mediaType: 'application/vnd.oci.image.layer.v1.tar',
              digest: `sha256:${'0'.repeat(64)}`,
              size: 1e15,
            },
          ]),
          fc.constant([{ mediaType: 'x', digest: '../../../etc', size: 1 }]),
        ),
      })
      .map((r): Fault => ({ kind: 'mutate', ...r })),
    fc
      .constantFrom(
        undefined,
        'text/html',
        'application/json',
        'application/vnd.docker.distribution.manifest.v1+prettyjws',
        'application/vnd.oci.image.index.v1+json',
        'application/octet-stream',
        'application/vnd.oci.image.manifest.v1+json; charset=utf-16',
        '',
      )
      .map((value): Fault => ({ kind: 'content-type', value })),
    fc
      .record({
        name: fc.constantFrom('Link', 'WWW-Authenticate', 'X-Junk', 'Docker-Content-Digest', 'Content-Type'),
        size: fc.integer({ min: 1_000, max: 120_000 }),
      })
      .map((r): Fault => ({ kind: 'huge-header', ...r })),
    fc
      .constantFrom(
        undefined,
        `sha256:${'0'.repeat(64)}`,
        'sha256:',
        'sha512:abc',
        'md5:d41d8cd98f00b204e9800998ecf8427e',
        `sha256:${'A'.repeat(64)}`,
        'garbage',
      )
      .map((value): Fault => ({ kind: 'digest-header', value })),
    fc.nat().map((at): Fault => ({ kind: 'flip', at })),
    fc
      .constantFrom('999999999999999', '-1', '1e9', 'NaN', '18446744073709551616', '0')
      .map((value): Fault => ({ kind: 'absurd-length', value })),
    fc
      .constantFrom(200, 201, 204, 206, 301, 302, 304, 401, 403, 404, 405, 409, 416, 418, 429, 501, 505)
      .map((status): Fault => ({ kind: 'status', status })),
    fc
      .constantFrom(
        ...canaryUrls.filter((u) => !/^https?:\/\//.test(u)),
        ...canaryUrls.map((u) => `file://${u}`),
        `ftp://127.0.0.1:${canary.port}/token`,
        `javascript:fetch('http://127.0.0.1:${canary.port}')`,
        '',
      )
      .map((realm): Fault => ({ kind: 'realm', realm })),
  );
}

async function destinationHas(repo: string): Promise<{ tags: string[]; manifest: boolean }> {
  const tags = await registryRequest(dst, `/v2/${repo}/tags/list`, { authorization: null });
  const list =
    tags.status === 200 ? ((JSON.parse(tags.body.toString()) as { tags?: string[] | null }).tags ?? []) : [];
  let manifest = false;
  for (const digest of new Set([image.digest, digestOf(servedManifest ?? image.manifest)])) {
    const got = await registryRequest(dst, `/v2/${repo}/manifests/${digest}`, {
      authorization: null,
      headers: { accept: `${image.mediaType}, application/vnd.oci.image.index.v1+json, application/json` },
    });
    manifest ||= got.status === 200;
  }
  return { tags: list, manifest };
}

beforeAll(async () => {
  canary = await startCanary();
  image = makeImage({
    seed: 'hostile-registry',
    layers: [
      { size: 512, seed: 'hr-a' },
      { size: 40_000, seed: 'hr-b' },
    ],
  });
  [fake, dst] = await Promise.all([startFakeRegistry(handle), startRegistry()]);
}, 120_000);

afterAll(async () => {
  await Promise.all([fake?.stop(), dst?.stop(), canary?.stop()]);
}, 60_000);

describe(`hostile registry responses (scripted fake registry → real registry, seed ${SEED})`, () => {
  it('a faithful fake copies (the baseline the faults break)', async () => {
    current = undefined;
    const client = new RegistryClient({ hostSettings: () => ({ scheme: 'http' }) });
    try {
      const r = await copyImage(target(client, fake, REPO), 'v1', target(client, dst, 'fuzz/baseline'), {
        tags: ['v1'],
      });
      expect(r.digest).toBe(image.digest);
      expect(await destinationHas('fuzz/baseline')).toEqual({ tags: ['v1'], manifest: true });
    } finally {
      await client.close();
    }
  });

  it('(scripted fake registry) every damaged answer: a clear error code, not INTERNAL, and nothing written', async () => {
    const strings = hostileString(canary.urls);
    const where = fc.constantFrom<Where>('manifest', 'manifest', 'blob', 'blob', 'tags', 'referrers', 'ping');
    await fc.assert(
      fc.asyncProperty(where, faultArb(strings, canary.urls), async (w, fault) => {
        figures.inputsTried++;
        const repo = `fuzz/r${runIndex++}`;
        current = { where: w, fault };
        servedManifest = undefined;
        const client = new RegistryClient({
          hostSettings: () => ({ scheme: 'http' }),
          retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 50 },
        });
        const said = `${w} ${JSON.stringify(fault).slice(0, 300)}`;
        const started = performance.now();
        try {
          const result = await copyImage(target(client, fake, REPO), 'v1', target(client, dst, repo), {
            tags: ['v1'],
            retry: { maxStalls: 2, restarts: 2, backoffMs: 1 },
          });
          figures.copiesSucceeded++;
          const has = await destinationHas(repo);
          const expected = servedManifest ?? image.manifest;
          const got = await registryRequest(dst, `/v2/${repo}/manifests/v1`, {
            authorization: null,
            headers: { accept: `${image.mediaType}, application/vnd.oci.image.index.v1+json` },
          });
          if (
            !has.tags.includes('v1') ||
            got.status !== 200 ||
            result.digest !== digestOf(got.body) ||
            !got.body.equals(expected)
          ) {
            figures.wrongContentWritten++;
            throw new Error(`copied, but the destination does not hold what the source served: ${said}`);
          }
        } catch (err) {
          if (err instanceof Error && err.message.startsWith('copied, but')) throw err;
          figures.copiesRefused++;
          if (!isGantryError(err)) {
            figures.otherExceptions++;
            throw new Error(`not a GantryError for ${said}: ${String(err)}`, { cause: err });
          }
          codes[err.code] = (codes[err.code] ?? 0) + 1;
          if (err.code === 'INTERNAL') {
            figures.internalErrors++;
            throw new Error(`INTERNAL for ${said}: ${err.message}`, { cause: err });
          }
          const m = messageProblem(err.message);
          if (m) throw new Error(`${m} for ${said}: ${err.message.slice(0, 300)}`);
          const has = await destinationHas(repo);
          if (has.tags.length > 0 || has.manifest) {
            figures.refusedThatWrote++;
            throw new Error(`refused (${err.code}) but the destination has ${JSON.stringify(has)}: ${said}`);
          }
        } finally {
          const ms = performance.now() - started;
          slowest[`${w}/${fault.kind}`] = Math.max(slowest[`${w}/${fault.kind}`] ?? 0, Math.round(ms));
          current = undefined;
          await client.close();
        }
      }),
      {
        seed: SEED,
        numRuns: RUNS,
        endOnFailure: false,
        // Found by the long run: a media type holding a line break was quoted into the error as is.
        examples: [['manifest', { kind: 'mutate', key: 'mediaType', value: '\r\nX-Injected: 1' }]],
      },
    );
    expect(figures.copiesRefused).toBeGreaterThan(0);
  }, 600_000);

  it('(scripted fake registry) a token realm on another host is asked anonymously (docs/security.md: realms are checked, not trusted), and its empty answer is a clear error', async () => {
    const realm = `http://127.0.0.1:${canary.port}/token`;
    current = { where: 'ping', fault: { kind: 'realm', realm } };
    const before = canary.hits.length;
    const client = new RegistryClient({
      hostSettings: () => ({ scheme: 'http' }),
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 50 },
    });
    try {
      const err = await copyImage(target(client, fake, REPO), 'v1', target(client, dst, 'fuzz/realm'), {
        tags: ['v1'],
      }).catch((e: unknown) => e);
      expect(isGantryError(err), String(err)).toBe(true);
      expect((err as { code: string }).code).toMatch(/^REGISTRY_/);
      expect(messageProblem((err as Error).message)).toBeUndefined();
    } finally {
      current = undefined;
      await client.close();
    }
    // The realm was called (the token protocol lets a registry name its token server), with no
    // credentials (this client has none for either host), and only for a token.
    const asked = canary.hits.splice(before);
    figures.realmElsewhereCalls = asked.length;
    expect(asked.length).toBeGreaterThan(0);
    for (const h of asked) {
      expect(h.method).toBe('GET');
      expect(h.url).toMatch(/^\/token\?/);
      expect(h.headers.authorization).toBeUndefined();
    }
    expect(await destinationHas('fuzz/realm')).toEqual({ tags: [], manifest: false });
  });

  it('called no canary URL; figures', async () => {
    await new Promise((r) => setTimeout(r, 200));
    figures.canaryHits = canary.hits.length;
    figures.slowestCopyMs = Math.max(...Object.values(slowest));
    expect(canary.hits, JSON.stringify(canary.hits.slice(0, 3))).toEqual([]);
    recordFigures(
      'hostile-registry',
      {
        ...figures,
        errorCodes: Object.entries(codes)
          .map(([c, n]) => `${c}:${n}`)
          .join(' '),
      },
      SEED,
    );
  });
});
