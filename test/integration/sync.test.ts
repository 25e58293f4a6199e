/**
 * `gantry sync` against real registries: a golden base image (a multi-platform index with a
 * signature referrer) mirrored from prod into two registries (one under a prefix) with identical
 * digests; a second run that writes nothing; a tag moved in the source moved in the targets;
 * `base/*` expanded through the catalog and `tags: ["1.*"]` filtering; `--dry-run`; targets and
 * sources that refuse, with one error line, a documented exit code and no tag written.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Digest } from '../../src/core/index.js';
import type { RegistryClient } from '../../src/registry/index.js';
import { join } from 'node:path';
import { createApp, runSync } from '../../src/app.js';
import type { LifecycleItem, LifecycleProgress, LifecycleReport } from '../../src/app-lifecycle.js';
import { loadConfigOrThrow } from '../../src/config/index.js';
import {
  makeArtifact,
  makeImage,
  makeIndex,
  pushImage,
  startFaultProxy,
  startRegistry,
  type FaultProxy,
  type RegistryProcess,
  type TestIndex,
} from '../helpers/index.js';
import { clientFor } from './clients.js';
import { startPromotionFixture, type PromotionFixture } from './promotion-fixture.js';
import { runCli, type CliResult } from './run-cli.js';

const exec = promisify(execFile);

let fixture: PromotionFixture;
let prod: RegistryProcess;
let dev: RegistryProcess;
let dev2: RegistryProcess;
let locked: RegistryProcess;
let devProxy: FaultProxy;
let refusing: FaultProxy;
let noCatalog: FaultProxy;
let config: string;
let prodClient: RegistryClient;
let devClient: RegistryClient;
let dev2Client: RegistryClient;
let alpine: TestIndex;
let signature: string;

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

beforeAll(async () => {
  [fixture, dev2, locked] = await Promise.all([
    startPromotionFixture('sync'),
    startRegistry(),
    startRegistry({ auth: 'htpasswd' }),
  ]);
  ({ prod, dev } = fixture);
  [devProxy, refusing, noCatalog] = await Promise.all([
    startFaultProxy({ target: dev.url }),
    startFaultProxy({
      target: dev2.url,
      fault: (req) =>
        WRITES.has(req.method) && req.url.startsWith('/v2/base/debian/')
          ? { status: 403, body: { errors: [{ code: 'DENIED', message: 'read-only mirror' }] } }
          : 'pass',
    }),
    startFaultProxy({
      target: prod.url,
      fault: (req) =>
        req.url.startsWith('/v2/_catalog')
          ? { status: 404, body: { errors: [{ code: 'UNSUPPORTED', message: 'no catalog' }] } }
          : 'pass',
    }),
  ]);
  prodClient = clientFor(prod);
  devClient = clientFor(dev);
  dev2Client = clientFor(dev2);

  alpine = makeIndex([
    makeImage({ seed: 'sync-alpine-amd64', platform: { os: 'linux', architecture: 'amd64' } }),
    makeImage({ seed: 'sync-alpine-arm64', platform: { os: 'linux', architecture: 'arm64' } }),
  ]);
  await pushImage(prod, 'base/alpine', alpine, '1.0');
  await pushImage(prod, 'base/alpine', alpine, '1.0.1');
  const sig = makeArtifact({
    subject: alpine,
    artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
    content: 'signature of alpine 1.0',
  });
  for (const [digest, bytes] of sig.blobs)
    await prodClient.blobUpload(repo(prod, 'base/alpine'), digest as Digest, bytes.byteLength, bytes);
  signature = (await prodClient.referrerPush(repo(prod, 'base/alpine'), sig.manifest, sig.mediaType)).digest;
  await pushImage(prod, 'base/debian', makeImage({ seed: 'sync-debian-1' }), '1.2');
  await pushImage(prod, 'base/debian', makeImage({ seed: 'sync-debian-2' }), '2.0');
  await pushImage(prod, 'tools/curl', makeImage({ seed: 'sync-curl' }), '1.0');

  config = await fixture.config(
    `environments:
  dev: { registry: dev, prefix: team }
applications: [web]
sync:
  base-images:
    from: { registry: prod, repositories: [base/*], tags: ["1.*"] }
    to: [{ registry: devp }, { registry: dev2, prefix: mirror }]
  refused:
    from: { registry: prod, repositories: [base/alpine, base/debian] }
    to: [{ registry: ro }]
  locked:
    from: { registry: prod, repositories: [base/debian] }
    to: [{ registry: locked }]
  no-catalog:
    from: { registry: nocat, repositories: [base/*] }
    to: [{ registry: dev, prefix: nocat }]
`,
    {
      hosts: {
        prod: prod.host,
        dev: dev.host,
        devp: devProxy.host,
        dev2: dev2.host,
        ro: refusing.host,
        locked: locked.host,
        nocat: noCatalog.host,
      },
    },
  );
}, 60_000);

afterAll(async () => {
  await Promise.all([prodClient?.close(), devClient?.close(), dev2Client?.close()]);
  await Promise.all([devProxy?.stop(), refusing?.stop(), noCatalog?.stop()]);
  await Promise.all([fixture?.stop(), dev2?.stop(), locked?.stop()]);
});

function repo(r: { host: string }, repository: string) {
  return { registry: r.host, repository };
}

async function sync(...args: string[]): Promise<CliResult> {
  return runCli(['sync', ...args, '--config', config]);
}

async function syncJson(code: number, ...args: string[]): Promise<LifecycleReport[]> {
  const r = await sync(...args, '--json');
  expect(r.code, `${r.stdout}${r.stderr}`).toBe(code);
  return JSON.parse(r.stdout) as LifecycleReport[];
}

async function digestAt(client: RegistryClient, r: { host: string }, repository: string, tag: string) {
  return (await client.manifestHead({ ...repo(r, repository), tag }))?.digest;
}

async function tagsOf(client: RegistryClient, r: { host: string }, repository: string): Promise<string[]> {
  try {
    return (await client.tagList(repo(r, repository))).sort();
  } catch {
    return [];
  }
}

describe('gantry sync', () => {
  it('dry run: reports the copies and tags it would make and writes nothing', async () => {
    const [report] = await syncJson(0, 'base-images', '--dry-run');
    expect(report).toMatchObject({ kind: 'sync', name: 'base-images', dryRun: true });
    expect(report?.items.length).toBeGreaterThan(0);
    expect(report?.items.every((i) => !i.done)).toBe(true);
    expect(report?.totals.copied).toBe(4); // alpine and debian 1.2, in each target
    expect(await tagsOf(devClient, dev, 'base/alpine')).toEqual([]);
    expect(await tagsOf(dev2Client, dev2, 'mirror/base/alpine')).toEqual([]);
  });

  it('mirrors base/* (catalog) tags 1.* to both targets with identical digests and the signature', async () => {
    const r = await sync('base-images');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Sync base-images: copied 4 digests \(.+\), wrote 6 tags, 0 unchanged/);
    expect(r.stderr).toMatch(/sync base-images \[\d+\/4\]/);
    for (const [client, registry, prefix] of [
      [devClient, dev, ''],
      [dev2Client, dev2, 'mirror/'],
    ] as const) {
      expect(await digestAt(client, registry, `${prefix}base/alpine`, '1.0')).toBe(alpine.digest);
      expect(await digestAt(client, registry, `${prefix}base/alpine`, '1.0.1')).toBe(alpine.digest);
      const referrers = await client.referrersList(
        repo(registry, `${prefix}base/alpine`),
        alpine.digest as Digest,
      );
      expect(referrers.descriptors.map((d) => d.digest)).toContain(signature);
      // tags: ["1.*"] leaves 2.0 out; base/* leaves tools/curl out.
      expect(
        (await tagsOf(client, registry, `${prefix}base/debian`)).filter((t) => !t.startsWith('sha256-')),
      ).toEqual(['1.2']);
      expect(await tagsOf(client, registry, `${prefix}tools/curl`)).toEqual([]);
    }
    // Interop: skopeo reads the mirror with the source's digest.
    const { stdout } = await exec(
      'skopeo',
      ['inspect', '--raw', '--tls-verify=false', `docker://${dev2.host}/mirror/base/alpine:1.0`],
      { encoding: 'buffer' },
    );
    expect(`sha256:${createHash('sha256').update(stdout).digest('hex')}`).toBe(alpine.digest);
  });

  it('a second run copies nothing and uploads no blob', async () => {
    const before = devProxy.requests.length;
    const [report] = await syncJson(0, 'base-images');
    expect(report?.items).toEqual([]);
    expect(report?.totals).toMatchObject({ copied: 0, tagged: 0, skipped: 6, bytes: 0 });
    expect(report?.kept).toEqual({ unchanged: 6 });
    const during = devProxy.requests.slice(before);
    expect(during.length).toBeGreaterThan(0);
    expect(during.filter((q) => WRITES.has(q.method))).toEqual([]);
  });

  it('a tag moved in the source moves in the targets, and the old digest stays', async () => {
    const next = makeImage({ seed: 'sync-alpine-next' });
    await pushImage(prod, 'base/alpine', next, '1.0');
    const [report] = await syncJson(0, 'base-images');
    const moved = report?.items.filter((i) => i.action === 'tag') ?? [];
    expect(moved).toEqual([
      expect.objectContaining({
        repository: `${devProxy.host}/base/alpine`,
        digest: next.digest,
        tags: ['1.0'],
        reason: `moved from ${alpine.digest}`,
        done: true,
      }),
      expect.objectContaining({ repository: `${dev2.host}/mirror/base/alpine`, tags: ['1.0'] }),
    ]);
    expect(report?.kept).toEqual({ unchanged: 4 });
    expect(await digestAt(devClient, dev, 'base/alpine', '1.0')).toBe(next.digest);
    expect(await digestAt(dev2Client, dev2, 'mirror/base/alpine', '1.0')).toBe(next.digest);
    expect(await digestAt(devClient, dev, 'base/alpine', '1.0.1')).toBe(alpine.digest);
  });

  it('a referrer added to the source later (an SBOM) follows: dry run first, then the run', async () => {
    const sbom = makeArtifact({
      subject: alpine,
      artifactType: 'application/spdx+json',
      content: '{"sbom":1}',
    });
    for (const [digest, bytes] of sbom.blobs)
      await prodClient.blobUpload(repo(prod, 'base/alpine'), digest as Digest, bytes.byteLength, bytes);
    await prodClient.referrerPush(repo(prod, 'base/alpine'), sbom.manifest, sbom.mediaType);
    const referrerCopies = (report: LifecycleReport | undefined) =>
      report?.items
        .filter((i) => i.reason === 'referrers added')
        .map((i) => [i.repository, i.digest, i.done]);
    const [planned] = await syncJson(0, 'base-images', '--dry-run');
    expect(referrerCopies(planned)).toEqual([
      [`${devProxy.host}/base/alpine`, alpine.digest, false],
      [`${dev2.host}/mirror/base/alpine`, alpine.digest, false],
    ]);
    expect(planned?.items.filter((i) => i.action === 'tag')).toEqual([]);
    const [report] = await syncJson(0, 'base-images');
    expect(referrerCopies(report)).toEqual([
      [`${devProxy.host}/base/alpine`, alpine.digest, true],
      [`${dev2.host}/mirror/base/alpine`, alpine.digest, true],
    ]);
    expect(report?.kept).toEqual({ unchanged: 6 });
    const there = await dev2Client.referrersList(repo(dev2, 'mirror/base/alpine'), alpine.digest as Digest);
    expect(there.descriptors.map((d) => d.digest).sort()).toEqual([signature, sbom.digest].sort());
  });

  it('runSync reports each item through onItem as it happens, and progress up to the total', async () => {
    const v13 = makeImage({ seed: 'sync-debian-1.3' });
    await pushImage(prod, 'base/debian', v13, '1.3');
    const app = createApp({
      config: await loadConfigOrThrow(config),
      env: {},
      authFile: join(fixture.dir, 'no-auth.json'),
    });
    const seen: LifecycleItem[] = [];
    const progress: LifecycleProgress[] = [];
    try {
      const report = await runSync(app, 'base-images', {
        dryRun: false,
        onItem: (item) => {
          seen.push(item);
        },
        onProgress: (p) => progress.push(p),
      });
      expect(report.error).toBeUndefined();
      expect(seen).toEqual(report.items);
      expect(seen.map((i) => [i.action, i.repository, i.digest])).toEqual([
        ['copy', `${devProxy.host}/base/debian`, v13.digest],
        ['tag', `${devProxy.host}/base/debian`, v13.digest],
        ['copy', `${dev2.host}/mirror/base/debian`, v13.digest],
        ['tag', `${dev2.host}/mirror/base/debian`, v13.digest],
      ]);
      expect(report.totals).toMatchObject({ copied: 2, tagged: 2, skipped: 6 });
      expect(report.totals.bytes).toBeGreaterThan(0);
      expect(progress.at(-1)).toMatchObject({ done: 8, total: 8 });
    } finally {
      await app.close();
    }
  });

  it('a target that refuses writes: one error line, exit 6, how far it got, no tag on the refused image', async () => {
    const r = await sync('refused');
    expect(r.code).toBe(6);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('gantry:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^gantry: sync refused: .*\[REGISTRY_DENIED\]$/);
    // base/alpine (two digests, 1.0 and 1.0.1) went through before base/debian was refused.
    expect(r.stdout).toMatch(
      /^Sync refused: copied 2 digests .*, wrote 2 tags, 0 unchanged, .*\(stopped early\)/,
    );
    expect((await tagsOf(dev2Client, dev2, 'base/alpine')).filter((t) => !t.startsWith('sha256-'))).toEqual([
      '1.0',
      '1.0.1',
    ]);
    expect(await tagsOf(dev2Client, dev2, 'base/debian')).toEqual([]);
    const [report] = await syncJson(6, 'refused');
    expect(report?.error?.code).toBe('REGISTRY_DENIED');
    expect(report?.items).toEqual([]);
    expect(report?.kept).toEqual({ unchanged: 2 });
  });

  it('a registry that refuses the credentials: exit 6 with REGISTRY_UNAUTHORIZED', async () => {
    const r = await sync('locked');
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^gantry: sync locked: .*\[REGISTRY_UNAUTHORIZED\]$/m);
  });

  it('a source without a catalog cannot expand a pattern: exit 1, REGISTRY_UNSUPPORTED', async () => {
    const r = await sync('no-catalog');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^gantry: sync no-catalog: cannot expand "base\/\*": .* does not list its repositories .*\[REGISTRY_UNSUPPORTED\]$/m,
    );
    expect(await tagsOf(devClient, dev, 'nocat/base/alpine')).toEqual([]);
  });

  it('an unknown job is a usage error', async () => {
    const r = await sync('nope');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /no sync job "nope" .*\(there are: base-images, refused, locked, no-catalog\) \[USAGE_INVALID\]/,
    );
  });
});
