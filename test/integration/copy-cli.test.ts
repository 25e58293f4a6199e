/**
 * `gantry copy` as a CI pipeline runs it, as a child process between real registries: the `--json`
 * summary, default tags, no-op re-runs, dry runs, platform narrowing, referrers, `docker://`
 * prefixes, `--all-tags` with and without `--keep-going`, per-side credentials that never show in
 * the output, and bad input answered with one line and exit 2.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaTypes } from '../../src/core/index.js';
import {
  ALL_MANIFEST_TYPES,
  fetchBlob,
  fetchManifest,
  listTags,
  makeArtifact,
  makeImage,
  makeIndex,
  pushImage,
  pushManifest,
  registryRequest,
  startRegistry,
  type RegistryProcess,
  type TestImage,
  type TestUser,
} from '../helpers/index.js';
import { runCli, type CliResult } from './run-cli.js';

let src: RegistryProcess;
let dst: RegistryProcess;
let dir: string;
const insecure = '--tls-verify=false';

const web = makeImage({
  seed: 'copy-cli-web',
  layers: [
    { size: 200_000, seed: 'copy-cli-web:0' },
    { size: 5_000, seed: 'copy-cli-web:1' },
  ],
});
const amd = makeImage({ seed: 'copy-cli-amd', platform: { os: 'linux', architecture: 'amd64' } });
const arm = makeImage({
  seed: 'copy-cli-arm',
  platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
});
const multi = makeIndex([amd, arm]);
const signed = makeImage({ seed: 'copy-cli-signed' });
const sbom = makeArtifact({
  subject: { mediaType: signed.mediaType, digest: signed.digest, size: signed.size },
  artifactType: 'application/spdx+json',
  content: '{"spdxVersion":"SPDX-2.3"}',
});
const bulk = Array.from({ length: 15 }, (_, i) =>
  makeImage({ seed: `copy-cli-bulk-${i}`, layers: [{ size: 2_000 + i, seed: `copy-cli-bulk-${i}:0` }] }),
);
const bulkTag = (i: number) => `t${String(i + 1).padStart(2, '0')}`;

/** Lists `subject`'s referrers in distribution 2.8's tag-schema fallback index (it has no referrers API). */
async function registerReferrer(
  registry: RegistryProcess,
  repo: string,
  subject: TestImage,
  artifact: TestImage,
): Promise<void> {
  const fallback = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: [
      {
        mediaType: artifact.mediaType,
        digest: artifact.digest,
        size: artifact.size,
        artifactType: artifact.artifactType,
      },
    ],
  };
  await pushManifest(
    registry,
    repo,
    Buffer.from(JSON.stringify(fallback)),
    MediaTypes.ociIndex,
    `sha256-${subject.digest.slice(7)}`,
  );
}

/** Removes a blob's data from a registry's filesystem storage (the repository still links it). */
async function deleteBlobData(registry: RegistryProcess, digest: string): Promise<void> {
  const hex = digest.slice('sha256:'.length);
  const file = join(registry.dir, 'storage/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  await stat(file); // fails loudly if the storage layout is not what this test assumes
  await rm(file);
}

/** HEADs `repo:reference` on `registry`: the digest it resolves to, or undefined. */
async function headDigest(
  registry: RegistryProcess,
  repo: string,
  reference: string,
): Promise<string | undefined> {
  const res = await registryRequest(registry, `/v2/${repo}/manifests/${reference}`, {
    method: 'HEAD',
    headers: { accept: ALL_MANIFEST_TYPES.join(', ') },
  });
  return res.status === 200 ? res.header('docker-content-digest') : undefined;
}

async function tagsOf(registry: RegistryProcess, repo: string): Promise<string[]> {
  const res = await registryRequest(registry, `/v2/${repo}/tags/list`);
  if (res.status === 404) return [];
  return (await listTags(registry, repo)).tags.sort();
}

function json<T = Record<string, unknown>>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout}\nstderr: ${r.stderr}`);
  }
}

function expectOk(r: CliResult): void {
  expect(r.code, r.stderr).toBe(0);
}

const ref = (registry: RegistryProcess, repo: string, tag?: string) =>
  `${registry.host}/${repo}${tag !== undefined ? `:${tag}` : ''}`;

beforeAll(async () => {
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  dir = await mkdtemp(join(tmpdir(), 'gantry-copy-cli-'));
  await pushImage(src, 'team/web', web, '1.4.2');
  await pushImage(src, 'team/multi', multi, 'v1');
  await pushImage(src, 'team/signed', signed, 'v1');
  await pushImage(src, 'team/signed', sbom);
  await registerReferrer(src, 'team/signed', signed, sbom);
  for (const [i, image] of bulk.entries()) await pushImage(src, 'bulk/app', image, bulkTag(i));
});
afterAll(async () => {
  await Promise.all([src?.stop(), dst?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('gantry copy between two registries', () => {
  it('copies byte-exact, defaults the destination tag to the source tag, and prints a JSON summary', async () => {
    const r = await runCli(['copy', ref(src, 'team/web', '1.4.2'), ref(dst, 'team/web'), insecure, '--json']);
    expectOk(r);
    const summary = json<{
      digest: string;
      sourceDigest: string;
      bytesTransferred: number;
      blobs: { copied: number; mounted: number; skipped: number; foreign: number };
      durationMs: number;
      tags: string[];
      alreadyComplete: boolean;
      dryRun: boolean;
      platformNarrowed: boolean;
    }>(r);
    expect(summary.digest).toBe(web.digest);
    expect(summary.sourceDigest).toBe(web.digest);
    expect(summary.bytesTransferred).toBe([...web.blobs.values()].reduce((n, b) => n + b.length, 0));
    expect(summary.blobs).toEqual({ copied: 3, mounted: 0, skipped: 0, foreign: 0 });
    expect(summary.durationMs).toBeGreaterThanOrEqual(0);
    expect(summary.tags).toEqual(['1.4.2']);
    expect(summary).toMatchObject({ alreadyComplete: false, dryRun: false, platformNarrowed: false });
    // With --json nothing but the document is printed.
    expect(r.stderr).toBe('');

    const got = await fetchManifest(dst, 'team/web', '1.4.2');
    expect(got.digest).toBe(web.digest);
    expect(got.bytes.equals(web.manifest)).toBe(true);
    for (const [digest, bytes] of web.blobs)
      expect((await fetchBlob(dst, 'team/web', digest)).equals(bytes)).toBe(true);
  });

  it('says already up to date on a re-run, with bytesTransferred 0', async () => {
    const human = await runCli(['copy', ref(src, 'team/web', '1.4.2'), ref(dst, 'team/web'), insecure]);
    expectOk(human);
    expect(human.stdout).toContain(`Already up to date: ${ref(dst, 'team/web', '1.4.2')} is ${web.digest}`);
    const again = await runCli([
      'copy',
      ref(src, 'team/web', '1.4.2'),
      ref(dst, 'team/web'),
      insecure,
      '--json',
    ]);
    expectOk(again);
    expect(json(again)).toMatchObject({
      digest: web.digest,
      alreadyComplete: true,
      bytesTransferred: 0,
      blobs: { copied: 0, mounted: 0, skipped: 0 },
    });
  });

  it('prints a human summary and progress lines on stderr when piped', async () => {
    const r = await runCli(['copy', ref(src, 'team/web', '1.4.2'), ref(dst, 'human/web', 'rc'), insecure]);
    expectOk(r);
    expect(r.stdout).toMatch(
      new RegExp(
        `^Copied ${ref(dst, 'human/web', 'rc').replace(/\./g, '\\.')} ${web.digest}: 3 blobs copied`,
      ),
    );
    expect(r.stderr).toContain(`Copying blob ${web.layers[0]!.digest.slice(7, 19)}`);
    expect(await headDigest(dst, 'human/web', 'rc')).toBe(web.digest);
    expect(await headDigest(dst, 'human/web', '1.4.2')).toBeUndefined();
  });

  it('--dry-run prints the plan and writes nothing', async () => {
    const human = await runCli([
      'copy',
      ref(src, 'team/web', '1.4.2'),
      ref(dst, 'dry/web'),
      insecure,
      '--dry-run',
    ]);
    expectOk(human);
    expect(human.stdout).toContain(`Plan: ${src.host}/team/web → ${dst.host}/dry/web (${web.digest})`);
    for (const layer of web.layers) expect(human.stdout).toMatch(new RegExp(`copy\\s+${layer.digest}`));
    expect(human.stdout).toMatch(/Would copy 3 blobs/);

    const r = await runCli([
      'copy',
      ref(src, 'team/web', '1.4.2'),
      ref(dst, 'dry/web'),
      insecure,
      '--dry-run',
      '--json',
    ]);
    expectOk(r);
    const plan = json<{
      dryRun: boolean;
      bytesTransferred: number;
      plan: { digest: string; action: string }[];
    }>(r);
    expect(plan.dryRun).toBe(true);
    expect(plan.bytesTransferred).toBe(0);
    expect(plan.plan.map((p) => p.action)).toEqual(['copy', 'copy', 'copy']);
    expect(await headDigest(dst, 'dry/web', '1.4.2')).toBeUndefined();
    expect(await headDigest(dst, 'dry/web', web.digest)).toBeUndefined();
    for (const digest of web.blobs.keys()) {
      expect((await registryRequest(dst, `/v2/dry/web/blobs/${digest}`, { method: 'HEAD' })).status).toBe(
        404,
      );
    }
    expect(await tagsOf(dst, 'dry/web')).toEqual([]);
  });

  it('--platform linux/arm64 copies that platform and notes that the result is a new digest', async () => {
    const human = await runCli([
      'copy',
      ref(src, 'team/multi', 'v1'),
      ref(dst, 'arm/app', 'v1'),
      insecure,
      '--platform',
      'linux/arm64',
    ]);
    expectOk(human);
    expect(human.stdout).toContain(
      `Note: --platform linux/arm64 selected part of ${multi.digest}; the result is a new digest ${arm.digest}.`,
    );
    expect(await headDigest(dst, 'arm/app', 'v1')).toBe(arm.digest);

    const r = await runCli([
      'copy',
      ref(src, 'team/multi', 'v1'),
      ref(dst, 'arm/json', 'v1'),
      insecure,
      '--platform',
      'linux/arm64',
      '--json',
    ]);
    expectOk(r);
    expect(json(r)).toMatchObject({ digest: arm.digest, sourceDigest: multi.digest, platformNarrowed: true });
  });

  it('copies referrers by default and leaves them behind with --no-referrers', async () => {
    const fallbackTag = `sha256-${signed.digest.slice(7)}`;
    const withRefs = await runCli([
      'copy',
      ref(src, 'team/signed', 'v1'),
      ref(dst, 'signed/all'),
      insecure,
      '--json',
    ]);
    expectOk(withRefs);
    expect(json(withRefs)).toMatchObject({ digest: signed.digest, referrers: { copied: 1 } });
    expect(await headDigest(dst, 'signed/all', sbom.digest)).toBe(sbom.digest);
    const index = await fetchManifest(dst, 'signed/all', fallbackTag);
    expect(
      (JSON.parse(index.bytes.toString()) as { manifests: { digest: string }[] }).manifests.map(
        (m) => m.digest,
      ),
    ).toEqual([sbom.digest]);

    const without = await runCli([
      'copy',
      ref(src, 'team/signed', 'v1'),
      ref(dst, 'signed/none'),
      insecure,
      '--no-referrers',
      '--json',
    ]);
    expectOk(without);
    expect(json(without)).toMatchObject({ digest: signed.digest, referrers: { copied: 0 } });
    expect(await headDigest(dst, 'signed/none', 'v1')).toBe(signed.digest);
    expect(await headDigest(dst, 'signed/none', sbom.digest)).toBeUndefined();
    expect(await headDigest(dst, 'signed/none', fallbackTag)).toBeUndefined();
  });

  it('accepts docker:// prefixes on both sides and separate --src/--dest-tls-verify', async () => {
    const r = await runCli([
      'copy',
      `docker://${ref(src, 'team/web', '1.4.2')}`,
      `docker://${ref(dst, 'prefixed/web', 'copied')}`,
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      '--json',
    ]);
    expectOk(r);
    expect(json(r)).toMatchObject({ digest: web.digest, tags: ['copied'] });
    expect(await headDigest(dst, 'prefixed/web', 'copied')).toBe(web.digest);
  });

  it('copies by digest: no tag unless the destination names one', async () => {
    const r = await runCli([
      'copy',
      `${ref(src, 'team/web')}@${web.digest}`,
      ref(dst, 'bydigest/web'),
      insecure,
      '--json',
    ]);
    expectOk(r);
    expect(json(r)).toMatchObject({ digest: web.digest, tags: [] });
    expect(await headDigest(dst, 'bydigest/web', web.digest)).toBe(web.digest);
    expect(await tagsOf(dst, 'bydigest/web')).toEqual([]);
  });
});

describe('gantry copy --all-tags', () => {
  it('copies every tag with a summary, and a re-run skips them all', async () => {
    const human = await runCli([
      'copy',
      '--all-tags',
      ref(src, 'bulk/app'),
      ref(dst, 'bulk/app'),
      insecure,
      '--quiet',
    ]);
    expectOk(human);
    expect(human.stdout).toMatch(
      new RegExp(
        `^Copied 15 of 15 tags from ${src.host}/bulk/app to ${dst.host}/bulk/app .*, 0 already up to date, 0 failed`,
      ),
    );
    expect(await tagsOf(dst, 'bulk/app')).toEqual(bulk.map((_, i) => bulkTag(i)));
    for (const [i, image] of bulk.entries())
      expect(await headDigest(dst, 'bulk/app', bulkTag(i))).toBe(image.digest);

    const again = await runCli([
      'copy',
      '--all-tags',
      ref(src, 'bulk/app'),
      ref(dst, 'bulk/app'),
      insecure,
      '--json',
    ]);
    expectOk(again);
    const summary = json<{
      tags: number;
      copied: { tags: string[]; alreadyComplete: boolean; bytesTransferred: number }[];
      failed: unknown[];
      bytesTransferred: number;
    }>(again);
    expect(summary.tags).toBe(15);
    expect(summary.failed).toEqual([]);
    expect(summary.bytesTransferred).toBe(0);
    expect(summary.copied.map((c) => c.tags[0])).toEqual(bulk.map((_, i) => bulkTag(i)));
    expect(summary.copied.every((c) => c.alreadyComplete && c.bytesTransferred === 0)).toBe(true);

    const human2 = await runCli(['copy', '--all-tags', ref(src, 'bulk/app'), ref(dst, 'bulk/app'), insecure]);
    expectOk(human2);
    expect(human2.stdout).toMatch(/^Copied 0 of 15 tags .*, 15 already up to date, 0 failed/);
  });

  describe('with one broken source tag', () => {
    const good = Array.from({ length: 5 }, (_, i) => makeImage({ seed: `copy-cli-mixed-${i}` }));
    const broken = makeImage({
      seed: 'copy-cli-broken',
      layers: [{ size: 4_000, seed: 'copy-cli-broken:0' }],
    });

    beforeAll(async () => {
      for (const [i, image] of good.entries()) await pushImage(src, 'bulk/mixed', image, `v${i + 1}`);
      // Sorts first, so a bulk copy meets it before any good tag.
      await pushImage(src, 'bulk/mixed', broken, 'a-broken');
      await deleteBlobData(src, broken.layers[0]!.digest);
    });

    it('--keep-going copies the others, lists the failed tag with its code, and exits 1', async () => {
      const r = await runCli([
        'copy',
        '--all-tags',
        '--keep-going',
        ref(src, 'bulk/mixed'),
        ref(dst, 'mixed/keep'),
        insecure,
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(1);
      const summary = json<{
        tags: number;
        copied: { tags: string[]; digest: string }[];
        failed: { tag: string; code: string; message: string }[];
      }>(r);
      expect(summary.tags).toBe(6);
      expect(summary.failed).toEqual([
        expect.objectContaining({ tag: 'a-broken', code: 'REGISTRY_BLOB_UNKNOWN' }),
      ]);
      expect(summary.failed[0]!.message).toMatch(/^source /);
      expect(summary.failed[0]!.message).toContain(broken.layers[0]!.digest);
      expect(summary.copied.map((c) => c.tags[0])).toEqual(['v1', 'v2', 'v3', 'v4', 'v5']);
      expect(await tagsOf(dst, 'mixed/keep')).toEqual(['v1', 'v2', 'v3', 'v4', 'v5']);
      for (const [i, image] of good.entries())
        expect(await headDigest(dst, 'mixed/keep', `v${i + 1}`)).toBe(image.digest);

      const human = await runCli([
        'copy',
        '--all-tags',
        '--keep-going',
        ref(src, 'bulk/mixed'),
        ref(dst, 'mixed/keep'),
        insecure,
      ]);
      expect(human.code).toBe(1);
      expect(human.stdout).toMatch(/0 of 6 tags .* 5 already up to date, 1 failed/);
      expect(human.stdout).toMatch(/\n {2}failed a-broken: source .*\[REGISTRY_[A-Z_]+\]/);
    });

    it('without --keep-going stops at the broken tag and exits non-zero', async () => {
      const r = await runCli([
        'copy',
        '--all-tags',
        '--image-concurrency',
        '1',
        ref(src, 'bulk/mixed'),
        ref(dst, 'mixed/stop'),
        insecure,
        '--json',
      ]);
      // The first failure's own exit code: 5, the source blob is unknown.
      expect(r.code).toBe(5);
      const err = json<{ error: { code: string; message: string; side: string } }>(r).error;
      expect(err.code).toBe('REGISTRY_BLOB_UNKNOWN');
      expect(err.side).toBe('source');
      expect(err.message).toContain(broken.layers[0]!.digest);
      // One image at a time and the broken tag first: nothing else was started.
      expect(await tagsOf(dst, 'mixed/stop')).toEqual([]);

      const human = await runCli([
        'copy',
        '--all-tags',
        ref(src, 'bulk/mixed'),
        ref(dst, 'mixed/stop2'),
        insecure,
        '--quiet',
      ]);
      expect(human.code).toBe(r.code);
      expect(human.stderr).toMatch(/^gantry: source .*\[REGISTRY_[A-Z_]+\]\n$/);
      expect(await tagsOf(dst, 'mixed/stop2')).not.toContain('a-broken');
    });
  });
});

describe('gantry copy with per-side credentials', () => {
  const srcUser: TestUser = { username: 'src-robot', password: 'src-Pa55-word-7f3a' };
  const dstUser: TestUser = { username: 'dst-robot', password: 'dst-Pa55-word-c81e' };
  let srcAuth: RegistryProcess;
  let dstAuth: RegistryProcess;
  const image = makeImage({ seed: 'copy-cli-private' });

  beforeAll(async () => {
    [srcAuth, dstAuth] = await Promise.all([
      startRegistry({ auth: 'htpasswd', users: [srcUser] }),
      startRegistry({ auth: 'htpasswd', users: [dstUser] }),
    ]);
    await pushImage(srcAuth, 'team/private', image, 'v1');
  });
  afterAll(async () => {
    await Promise.all([srcAuth?.stop(), dstAuth?.stop()]);
  });

  const secrets = [srcUser.password, dstUser.password];
  const expectNoSecrets = (r: CliResult) => {
    for (const s of secrets) {
      expect(r.stdout).not.toContain(s);
      expect(r.stderr).not.toContain(s);
    }
  };

  it('--src-creds and --dest-creds go to their own registries and never appear in the output', async () => {
    const authfile = join(dir, 'no-such-auth.json');
    const args = [
      'copy',
      ref(srcAuth, 'team/private', 'v1'),
      ref(dstAuth, 'team/private'),
      insecure,
      '--authfile',
      authfile,
      '--src-creds',
      `${srcUser.username}:${srcUser.password}`,
      '--dest-creds',
      `${dstUser.username}:${dstUser.password}`,
    ];
    const human = await runCli(args);
    expectOk(human);
    expectNoSecrets(human);
    expect(await headDigest(dstAuth, 'team/private', 'v1')).toBe(image.digest);
    const again = await runCli([...args, '--json']);
    expectOk(again);
    expectNoSecrets(again);
    expect(json(again)).toMatchObject({ digest: image.digest, alreadyComplete: true });
  });

  it('fails with exit 6 naming the side whose credentials are wrong or missing, without echoing them', async () => {
    const authfile = join(dir, 'no-such-auth.json');
    // The other registry's (valid) credentials given for the source: the source refuses them.
    const wrongSource = await runCli([
      'copy',
      ref(srcAuth, 'team/private', 'v1'),
      ref(dstAuth, 'team/other'),
      insecure,
      '--authfile',
      authfile,
      '--src-creds',
      `${dstUser.username}:${dstUser.password}`,
      '--dest-creds',
      `${dstUser.username}:${dstUser.password}`,
    ]);
    expect(wrongSource.code).toBe(6);
    expect(wrongSource.stderr).toMatch(/^gantry: source .*\[REGISTRY_UNAUTHORIZED\]\n$/);
    expectNoSecrets(wrongSource);

    const noDest = await runCli([
      'copy',
      ref(srcAuth, 'team/private', 'v1'),
      ref(dstAuth, 'team/other'),
      insecure,
      '--authfile',
      authfile,
      '--src-creds',
      `${srcUser.username}:${srcUser.password}`,
      '--json',
    ]);
    expect(noDest.code).toBe(6);
    expect(json(noDest)).toMatchObject({ error: { code: 'REGISTRY_UNAUTHORIZED', side: 'destination' } });
    expectNoSecrets(noDest);
    expect(await headDigest(dstAuth, 'team/other', 'v1')).toBeUndefined();
  });
});

describe('gantry copy: bad input', () => {
  // Nothing listens on port 1: a command that got past argument checks would fail with exit 9.
  const a = '127.0.0.1:1/team/app:v1';
  const b = '127.0.0.1:1/team/copy:v1';
  it.each<[string, string[], RegExp]>([
    ['a missing destination', ['copy', 'a'], /missing required argument/],
    ['no arguments', ['copy'], /missing required argument/],
    ['--platform without an architecture', ['copy', a, b, '--platform', 'linux'], /invalid platform "linux"/],
    ['--platform with too many parts', ['copy', a, b, '--platform', 'linux/arm/v7/x'], /invalid platform/],
    [
      '--concurrency 0',
      ['copy', a, b, '--concurrency', '0'],
      /--concurrency must be an integer from 1 to 256/,
    ],
    ['--per-host not a number', ['copy', a, b, '--per-host', 'many'], /--per-host must be/],
    [
      '--image-concurrency 0',
      ['copy', '--all-tags', '127.0.0.1:1/x', '127.0.0.1:1/y', '--image-concurrency', '0'],
      /--image-concurrency must be/,
    ],
    ['an invalid source reference', ['copy', 'Bad//Ref', b], /invalid reference "Bad\/\/Ref"/],
    ['an uppercase repository', ['copy', a, '127.0.0.1:1/Team/App:v1'], /must be lowercase/],
    ['a short digest', ['copy', '127.0.0.1:1/team/app@sha256:123', b], /64 lowercase hex/],
    ['an invalid tag', ['copy', a, '127.0.0.1:1/team/app:-bad'], /invalid tag/],
    ['--all-tags with a tagged source', ['copy', '--all-tags', a, '127.0.0.1:1/team/copy'], /takes no tag/],
    ['an empty OCI layout path', ['copy', a, 'oci:'], /invalid OCI layout reference/],
    ['an unknown flag', ['copy', a, b, '--frobnicate'], /unknown option/],
    ['an invalid boolean', ['copy', a, b, '--src-tls-verify=maybe'], /invalid boolean/],
    ['malformed --src-creds', ['copy', a, b, '--src-creds', 'nocolon'], /USER:PASSWORD/],
  ])('%s exits 2 with one line and no stack trace', async (_label, args, message) => {
    const r = await runCli(args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
    expect(r.stdout).toBe('');
  });

  it('reports bad input as a JSON error with --json', async () => {
    const r = await runCli(['copy', a, b, '--platform', 'linux', '--json']);
    expect(r.code).toBe(2);
    expect(json(r)).toMatchObject({ error: { code: 'USAGE_INVALID' } });
  });

  it('reports a missing source tag with exit 5 naming the source', async () => {
    const r = await runCli(['copy', ref(src, 'team/web', 'nope'), ref(dst, 'team/nope'), insecure]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^gantry: source manifest .*\[REGISTRY_MANIFEST_UNKNOWN\]\n$/);
  });
});
