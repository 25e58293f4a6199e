/**
 * Found by the faults suite (test/reliability/faults.test.ts, long run): a promotion whose record
 * upload met one transient fault failed after its tags were written, leaving a version tag that
 * distribution cannot delete. The record's blobs were uploaded with a one-shot PUT that nothing
 * retried (an upload session is not retried in place); they are now uploaded again with a fresh
 * session under the transport's retry policy and budget. And the promotion service's blob reads
 * (image configs read while planning, records, approvals, SBOMs) streamed without a second read,
 * so one flipped byte refused a promotion: they are now read whole and read again when damaged.
 *
 * Real registries; the prod one behind a fault proxy that damages exactly the scripted request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryPort } from '../../src/app.js';
import type { Digest } from '../../src/core/index.js';
import { RegistryClient } from '../../src/registry/index.js';
import {
  fetchManifest,
  makeImage,
  pushImage,
  startFaultProxy,
  type FaultDecision,
  type FaultProxy,
  type FaultRequest,
  type RegistryProcess,
} from '../helpers/index.js';
import { gantryAs, startPromotionFixture, writeConfig, type PromotionFixture } from './promotion-fixture.js';

let fixture: PromotionFixture;
let dev: RegistryProcess;
let prod: RegistryProcess;
let proxy: FaultProxy;
let config = '';
/** Requests the script damaged, as `METHOD path`. */
const damaged: string[] = [];
/** The next fault and the requests it is for; used once. */
let next: { match: (req: FaultRequest) => boolean; fault: FaultDecision } | undefined;

const gantry = gantryAs(() => config, 'ci-bot');

/** The record's envelope blob: the only upload whose bytes are a DSSE envelope. */
const recordBlobPut = (req: FaultRequest): boolean =>
  req.method === 'PUT' && req.url.includes('/blobs/uploads/') && req.body.includes('vnd.in-toto+json');
/** The record's manifest (an artifact with a subject, pushed by digest). */
const recordManifestPut = (req: FaultRequest): boolean =>
  req.method === 'PUT' &&
  /\/manifests\/sha256:/.test(req.url) &&
  req.body.includes('application/vnd.dev.gantry.promotion.v1+json');

beforeAll(async () => {
  fixture = await startPromotionFixture('record-faults');
  ({ dev, prod } = fixture);
  proxy = await startFaultProxy({
    target: prod.url,
    fault: (req) => {
      if (!next?.match(req)) return 'pass';
      const { fault } = next;
      next = undefined;
      damaged.push(`${req.method} ${new URL(req.url, 'http://x').pathname}`);
      return fault;
    },
  });
  config = await writeConfig(
    `${fixture.dir}/gantry.yaml`,
    { dev: dev.host, prod: proxy.host },
    `environments:
  dev: { registry: dev, prefix: team }
  prod: { registry: prod, prefix: team, from: [dev], tags: { floating: [current] } }
applications: [web]
`,
  );
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await fixture?.stop();
});

const cases: { name: string; match: (req: FaultRequest) => boolean; fault: FaultDecision }[] = [
  {
    name: 'a 503 with Retry-After on the record blob upload',
    match: recordBlobPut,
    fault: { status: 503, headers: { 'Retry-After': '1' }, body: 'maintenance' },
  },
  {
    name: 'a 429 on the record blob upload',
    match: recordBlobPut,
    fault: {
      status: 429,
      headers: { 'Retry-After': '0' },
      body: { errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] },
    },
  },
  { name: 'a connection reset on the record blob upload', match: recordBlobPut, fault: 'reset' },
  { name: 'a 503 on the record manifest push', match: recordManifestPut, fault: { status: 503 } },
];

describe('a promotion whose record upload meets one transient fault completes', () => {
  cases.forEach((c, i) => {
    it(
      c.name,
      async () => {
        const version = `1.${i}.0`;
        const image = makeImage({ seed: `record-faults-${i}` });
        await pushImage(dev, 'team/web', image, version);
        next = { match: c.match, fault: c.fault };
        const before = damaged.length;
        const r = await gantry('promote', 'web', version, '--to', 'prod', '--json');
        expect(damaged.length - before, 'the fault was injected').toBe(1);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ status: 'completed', digest: image.digest });
        for (const tag of [version, 'current'])
          expect((await fetchManifest(prod, 'team/web', tag)).digest).toBe(image.digest);
        // The record is attached: history (which reads the records) lists the promotion.
        const history = await gantry('history', 'web', '--env', 'prod', '--json');
        expect(history.code, history.stderr).toBe(0);
        expect(history.stdout).toContain(image.digest);
      },
      60_000,
    );
  });
});

describe("the promotion service's blob reads are read again when damaged", () => {
  it('an image config whose first read has a flipped byte (then a cut body) is read again', async () => {
    const image = makeImage({ seed: 'record-faults-config' });
    await pushImage(prod, 'team/config', image, '1.0.0');
    const client = new RegistryClient({ hostSettings: () => ({ scheme: 'http' }) });
    try {
      const registry = registryPort(client);
      const repo = { registry: proxy.host, repository: 'team/config' };
      const descriptor = {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: image.configDigest as Digest,
        size: image.config.length,
      };
      const configGet = (req: FaultRequest): boolean =>
        req.method === 'GET' && req.url.endsWith(`/blobs/${image.configDigest}`);
      next = { match: configGet, fault: 'corrupt-byte' };
      const before = damaged.length;
      const bytes = await registry.blob(repo, descriptor);
      expect(damaged.length - before, 'the fault was injected').toBe(1);
      expect(Buffer.compare(bytes, image.config)).toBe(0);
      next = { match: configGet, fault: 'reset-mid-body' };
      expect(Buffer.compare(await registry.blob(repo, descriptor), image.config)).toBe(0);
      expect(damaged.length - before).toBe(2);
    } finally {
      await client.close();
    }
  });
});
