/**
 * `gantry gc` end to end against real registries (issue 14): dev → staging (tag mode, dev's
 * repository) → prod, several versions of web in dev, some promoted, referrers on a promoted and
 * an unpromoted image, multi-platform indexes, an immutable tag and a deployed digest. A dry run
 * changes nothing; `--yes` deletes exactly the old, unpromoted images beyond the newest N with
 * their referrers and children; a protected environment and a registry without deletes are refused.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeArtifact,
  makeImage,
  makeIndex,
  pushBlob,
  pushImage,
  startFaultProxy,
  startRegistry,
  type RegistryProcess,
  type TestImage,
  type TestIndex,
} from '../helpers/index.js';
import { createApp, runGc, type LifecycleItem, type LifecycleReport } from '../../src/app.js';
import { loadConfigOrThrow } from '../../src/config/index.js';
import type { Digest } from '../../src/core/index.js';
import { clientFor } from './clients.js';
import { writeConfig } from './promotion-fixture.js';
import { expectMatchesSchema } from './json-schemas.js';
import { runCli } from './run-cli.js';

const deletes = { storage: { delete: { enabled: true } } };
let dev: RegistryProcess;
let prod: RegistryProcess;
let locked: RegistryProcess;
let dir: string;
let config: string;
let lockedConfig: string;

const platform = (architecture: string) => ({ os: 'linux', architecture });
const old = (seed: string, created: string, arch = 'amd64'): TestImage =>
  makeImage({ seed, created, platform: platform(arch) });

// web in dev (team/web). Ages: 2024 is old; `young` is a day old.
const young = new Date(Date.now() - 86_400_000).toISOString();
const v1Amd = old('gc-v1-amd', '2024-01-01T00:00:00Z');
const v1 = makeIndex([v1Amd, old('gc-v1-arm', '2024-01-01T00:00:00Z', 'arm64')]); // promoted to staging and prod
const v2 = old('gc-v2', '2024-01-02T00:00:00Z'); // promoted to staging
const v3 = old('gc-v3', '2024-03-01T00:00:00Z'); // unpromoted, signed, with an SBOM: deleted
const v4 = makeIndex([
  old('gc-v4-amd', '2024-02-01T00:00:00Z'),
  old('gc-v4-arm', '2024-02-01T00:00:00Z', 'arm64'),
]); // deleted
const frozenAmd = old('gc-frozen-amd', '2024-01-03T00:00:00Z');
const frozen = makeIndex([frozenAmd, old('gc-frozen-arm', '2024-01-03T00:00:00Z', 'arm64')]); // immutable tag keep-1
const deployed = old('gc-deployed', '2024-01-04T00:00:00Z'); // in keepDigests
const v9 = old('gc-v9', '2024-06-01T00:00:00Z'); // newest old image: within --keep 2
const fresh = makeImage({ seed: 'gc-fresh', created: young }); // too young
const sig = (subject: TestImage | TestIndex, name: string): TestImage =>
  makeArtifact({
    subject,
    artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
    content: `sig ${name}`,
  });
const sbom = (subject: TestImage | TestIndex): TestImage =>
  makeArtifact({ subject, artifactType: 'application/spdx+json', content: '{"spdxVersion":"SPDX-2.3"}' });
const v1Sig = sig(v1, 'v1');
const v3Sig = sig(v3, 'v3');
const v3Sbom = sbom(v3);

/** Pushes an artifact's blobs, then the artifact as a referrer (the tag schema on distribution 2.8). */
async function attach(registry: RegistryProcess, repository: string, artifact: TestImage): Promise<void> {
  for (const [, data] of artifact.blobs) await pushBlob(registry, repository, data);
  const client = clientFor(registry);
  try {
    await client.referrerPush({ registry: registry.host, repository }, artifact.manifest, artifact.mediaType);
  } finally {
    await client.close();
  }
}

/** Tags → digests of a repository, and which of `digests` the registry still has. */
async function snapshot(registry: RegistryProcess, repository: string, digests: readonly string[]) {
  const client = clientFor(registry);
  const repo = { registry: registry.host, repository };
  try {
    const tags = (await client.tagList(repo)).sort();
    const byTag: Record<string, string | undefined> = {};
    for (const t of tags) byTag[t] = (await client.manifestHead({ ...repo, tag: t }))?.digest;
    const present: string[] = [];
    for (const d of digests) {
      const head = await client.manifestHead({ ...repo, digest: d as Digest });
      if (head) present.push(d);
    }
    return { byTag, present };
  } finally {
    await client.close();
  }
}

const gantry = (...args: string[]) =>
  runCli([...args, '--config', config], { env: { GANTRY_ACTOR: 'ci-bot' } });

const all = [
  v1,
  ...v1.images,
  v1Sig,
  v2,
  v3,
  v3Sig,
  v3Sbom,
  v4,
  ...v4.images,
  frozen,
  ...frozen.images,
  deployed,
  v9,
  fresh,
];
const allDigests = all.map((i) => i.digest);
/** The referrers index (tag schema) listing v3's signature and SBOM: it goes with v3. */
let v3Referrers: string;

beforeAll(async () => {
  [dev, prod, locked, dir] = await Promise.all([
    startRegistry({ extraConfig: deletes }),
    startRegistry({ extraConfig: deletes }),
    startRegistry({ extraConfig: { storage: { delete: { enabled: false } } } }),
    mkdtemp(join(tmpdir(), 'gantry-gc-')),
  ]);
  const environments = (devRegistry: string) => `environments:
  dev: { registry: ${devRegistry}, prefix: team, tags: { immutable: ['^keep-'] } }
  staging: { registry: ${devRegistry}, prefix: team, mode: tag, tag: staging, from: [dev] }
  prod: { registry: prod, prefix: team, from: [staging] }
applications: [web]
`;
  config = await writeConfig(
    join(dir, 'gantry.yaml'),
    { dev: dev.host, prod: prod.host },
    environments('dev'),
  );
  lockedConfig = await writeConfig(
    join(dir, 'locked.yaml'),
    { locked: locked.host, prod: prod.host },
    environments('locked'),
  );
  const push: [TestImage | TestIndex, string][] = [
    [v1, '1.0.0'],
    [v1Amd, 'amd64-1.0.0'], // a tagged child of a promoted index
    [v2, '1.1.0'],
    [v3, '1.2.0'],
    [v4, '1.3.0'],
    [frozen, 'keep-1'],
    [frozenAmd, 'amd64-keep'], // old, unpromoted, tagged: kept only as a child of a kept index
    [deployed, '1.5.0'],
    [v9, '1.6.0'],
    [fresh, '2.0.0'],
  ];
  for (const [image, tag] of push) await pushImage(dev, 'team/web', image, tag);
  for (const a of [v1Sig, v3Sig, v3Sbom]) await attach(dev, 'team/web', a);
  const tags = (await snapshot(dev, 'team/web', [])).byTag;
  v3Referrers = tags[`sha256-${v3.digest.slice(7)}`] ?? '';
  expect(v3Referrers).toMatch(/^sha256:/);
  allDigests.push(v3Referrers);
  for (const [version, to] of [
    ['1.0.0', 'staging'],
    ['1.0.0', 'prod'],
    ['1.1.0', 'staging'],
  ] as const) {
    const r = await gantry('promote', 'web', version, '--to', to);
    expect(r.code, `${r.stderr}${r.stdout}`).toBe(0);
  }
  await pushImage(locked, 'team/web', v3, '1.2.0');
}, 120_000);

afterAll(async () => {
  await Promise.all([dev?.stop(), prod?.stop(), locked?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('gantry gc', () => {
  it('a dry run prints the plan and changes nothing', async () => {
    const before = await snapshot(dev, 'team/web', allDigests);
    expect([...before.present].sort()).toEqual([...allDigests].sort());
    const r = await gantry('gc', '--env', 'dev', '--keep', '2', '--json');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as LifecycleReport;
    expect(report.dryRun).toBe(true);
    expect(report.items.every((i) => !i.done)).toBe(true);
    // Without keepDigests the deployed image goes too.
    expect(new Set(report.items.map((i) => i.digest))).toEqual(
      new Set([
        v3.digest,
        v3Referrers,
        v3Sig.digest,
        v3Sbom.digest,
        v4.digest,
        ...v4.images.map((i) => i.digest),
        deployed.digest,
      ]),
    );
    const human = await gantry('gc', '--env', 'dev', '--keep', '2');
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('dry run: nothing deleted');
    expect(human.stdout).toContain('never promoted, ');
    // staging (tag mode) shares dev's repository: what is unpromoted there is dev's, not staging's.
    const staging = await gantry('gc', '--env', 'staging', '--keep', '0', '--yes', '--json');
    expect(staging.code, staging.stderr).toBe(0);
    const shared = JSON.parse(staging.stdout) as LifecycleReport;
    expect(shared.items).toEqual([]);
    expect(shared.kept['rollback-window']).toBe(2);
    expect(await snapshot(dev, 'team/web', allDigests)).toEqual(before);
  });

  it('fails closed when another environment cannot be read: nothing deleted', async () => {
    const before = await snapshot(dev, 'team/web', allDigests);
    const unreachable = await writeConfig(
      join(dir, 'unreachable.yaml'),
      { dev: dev.host, prod: '127.0.0.1:9' },
      `environments:
  dev: { registry: dev, prefix: team }
  prod: { registry: prod, prefix: team, from: [dev] }
applications: [web]
`,
    );
    const r = await runCli(['gc', '--env', 'dev', '--keep', '0', '--yes', '--config', unreachable]);
    expect(r.code).toBe(9);
    expect(r.stderr).toContain('[REGISTRY_UNREACHABLE]');
    expect(await snapshot(dev, 'team/web', allDigests)).toEqual(before);
  });

  it('--yes deletes exactly the old unpromoted images beyond the newest N, with their referrers and children', async () => {
    const app = createApp({
      config: await loadConfigOrThrow(config),
      env: {},
      authFile: join(dir, 'no-auth.json'),
    });
    const reported: LifecycleItem[] = [];
    let report: LifecycleReport;
    try {
      report = await runGc(app, 'dev', {
        dryRun: false,
        keep: 2,
        keepDigests: new Set([deployed.digest]),
        onItem: (item) => {
          reported.push(item);
        },
      });
    } finally {
      await app.close();
    }
    const gone = [v3Referrers, ...[v3, v3Sig, v3Sbom, v4, ...v4.images].map((i) => i.digest)];
    expect(report.error).toBeUndefined();
    expect(new Set(report.items.map((i) => i.digest))).toEqual(new Set(gone));
    // v3's referrers go before v3 (and the referrers index listing them), v4 before its children.
    const order = report.items.map((i) => i.digest);
    expect(order.indexOf(v3Sig.digest)).toBeLessThan(order.indexOf(v3.digest));
    expect(order.indexOf(v3Sbom.digest)).toBeLessThan(order.indexOf(v3.digest));
    expect(order.indexOf(v3Referrers)).toBeLessThan(order.indexOf(v3Sig.digest));
    for (const c of v4.images) expect(order.indexOf(v4.digest)).toBeLessThan(order.indexOf(c.digest));
    expect(reported.map((i) => i.digest)).toEqual(order);
    expect(reported.every((i) => i.done)).toBe(true);
    expect(report.totals.deleted).toBe(gone.length);
    expect(report.kept).toMatchObject({
      'rollback-window': 2, // v1 and v2 carry promotion records
      'immutable-tag': 1,
      deployed: 1,
      newest: 2, // the young image and v9, the newest old one
      'index-child': 2, // the immutable-tagged index's platforms (one of them also tagged)
      promoted: 2, // v1's platforms: prod holds them
    });
    expect(report.kept.referrer).toBeGreaterThanOrEqual(1); // v1's signature and promotion records

    const after = await snapshot(dev, 'team/web', allDigests);
    const keptDigests = allDigests.filter((d) => !gone.includes(d));
    expect(after.present.sort()).toEqual(keptDigests.sort());
    expect(Object.keys(after.byTag)).toEqual(
      expect.arrayContaining([
        '1.0.0',
        'amd64-1.0.0',
        '1.1.0',
        'keep-1',
        '1.5.0',
        '1.6.0',
        '2.0.0',
        'staging',
      ]),
    );
    expect(after.byTag['1.2.0']).toBeUndefined();
    expect(after.byTag['1.3.0']).toBeUndefined();
    expect(after.byTag[`sha256-${v3.digest.slice(7)}`]).toBeUndefined();
    expect(after.byTag[`sha256-${v1.digest.slice(7)}`]).toBeDefined();
    // prod is untouched and rollback still finds its targets.
    const prodState = await snapshot(prod, 'team/web', [v1.digest, ...v1.images.map((i) => i.digest)]);
    expect(prodState.present).toHaveLength(3);
    const history = await gantry('history', 'web', '--env', 'staging', '--json');
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).toContain(v1.digest);
    expect(history.stdout).toContain(v2.digest);

    const again = await gantry('gc', '--env', 'dev', '--keep', '2', '--json');
    const second = JSON.parse(again.stdout) as LifecycleReport;
    expectMatchesSchema('gc', second);
    expect(second.items.map((i) => i.digest)).toEqual([deployed.digest]);
  });

  it('refuses a protected environment', async () => {
    const r = await gantry('gc', '--env', 'prod', '--yes');
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('[GC_PROTECTED]');
    const prodState = await snapshot(prod, 'team/web', [v1.digest]);
    expect(prodState.present).toEqual([v1.digest]);
  });

  it('a registry without deletes: one line, exit 3, nothing deleted', async () => {
    const r = await runCli(['gc', '--env', 'dev', '--yes', '--keep', '0', '--config', lockedConfig]);
    expect(r.code, r.stdout).toBe(3);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('[REGISTRY_DELETE_REFUSED]');
    expect(lines[0]).toContain('storage.delete.enabled');
    expect(lines[0]).toContain('stopped after 0 of 1 deletions: nothing was deleted');
    const json = await runCli([
      'gc',
      '--env',
      'dev',
      '--yes',
      '--keep',
      '0',
      '--json',
      '--config',
      lockedConfig,
    ]);
    expect(json.code).toBe(3);
    const report = JSON.parse(json.stdout) as LifecycleReport;
    expectMatchesSchema('gc', report);
    expect(report.error?.code).toBe('REGISTRY_DELETE_REFUSED');
    expect(report.totals.deleted).toBe(0);
    expect(report.items.map((i) => i.done)).toEqual([false]);
    const state = await snapshot(locked, 'team/web', [v3.digest]);
    expect(state).toEqual({ byTag: { '1.2.0': v3.digest }, present: [v3.digest] });
  });

  it('a refusal half-way stops there and says how far it got', async () => {
    const proxy = await startFaultProxy({ target: dev.url });
    try {
      const first = old('gc-half-1', '2024-02-01T00:00:00Z');
      const second = old('gc-half-2', '2024-01-01T00:00:00Z');
      await pushImage(dev, 'half/web', first, '1.0.0');
      await pushImage(dev, 'half/web', second, '0.9.0');
      let deletes = 0;
      proxy.setFault((req) =>
        req.method === 'DELETE' && ++deletes > 1
          ? { status: 403, body: { errors: [{ code: 'DENIED', message: 'no deletes for you' }] } }
          : 'pass',
      );
      const half = await writeConfig(
        join(dir, 'half.yaml'),
        { dev: proxy.host, prod: prod.host },
        `environments:
  dev: { registry: dev, prefix: half }
  prod: { registry: prod, prefix: half, from: [dev] }
applications: [web]
`,
      );
      const r = await runCli(['gc', '--env', 'dev', '--keep', '0', '--yes', '--json', '--config', half]);
      expect(r.code, r.stderr).toBe(3);
      const report = JSON.parse(r.stdout) as LifecycleReport;
      expect(report.error?.code).toBe('REGISTRY_DELETE_REFUSED');
      expect(report.error?.message).toContain('stopped after 1 of 2 deletions');
      expect(report.items.map((i) => [i.digest, i.done])).toEqual([
        [first.digest, true],
        [second.digest, false],
      ]);
      expect(report.totals.deleted).toBe(1);
      const state = await snapshot(dev, 'half/web', [first.digest, second.digest]);
      expect(state).toEqual({ byTag: { '0.9.0': second.digest }, present: [second.digest] });
    } finally {
      await proxy.stop();
    }
  });

  it('re-checks each candidate before deleting it: one promoted since the plan stays', async () => {
    const first = old('gc-race-1', '2024-02-01T00:00:00Z');
    const second = old('gc-race-2', '2024-01-01T00:00:00Z');
    await pushImage(dev, 'race/web', first, '1.0.0');
    await pushImage(dev, 'race/web', second, '0.9.0');
    const race = await writeConfig(
      join(dir, 'race.yaml'),
      { dev: dev.host, prod: prod.host },
      `environments:
  dev: { registry: dev, prefix: race }
  prod: { registry: prod, prefix: race, from: [dev] }
applications: [web]
`,
    );
    const app = createApp({
      config: await loadConfigOrThrow(race),
      env: {},
      authFile: join(dir, 'no-auth.json'),
    });
    let report: LifecycleReport;
    try {
      report = await runGc(app, 'dev', {
        dryRun: false,
        keep: 0,
        // After the first deletion, the second image reaches prod (a promotion running meanwhile).
        onItem: async () => {
          await pushImage(prod, 'race/web', second, '0.9.0');
        },
      });
    } finally {
      await app.close();
    }
    expect(report.error).toBeUndefined();
    expect(report.items.map((i) => i.digest)).toEqual([first.digest]);
    expect(report.kept.promoted).toBe(1);
    const state = await snapshot(dev, 'race/web', [first.digest, second.digest]);
    expect(state).toEqual({ byTag: { '0.9.0': second.digest }, present: [second.digest] });
  });

  it('refuses bad limits with a usage error', async () => {
    const r = await gantry('gc', '--env', 'dev', '--keep', '-1');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[USAGE_INVALID]');
    const young = await gantry('gc', '--env', 'dev', '--keep', '0', '--older-than', '100000d', '--json');
    expect(young.code, young.stderr).toBe(0);
    const plan = JSON.parse(young.stdout) as LifecycleReport;
    expect(plan.items).toEqual([]);
    expect(plan.kept['too-young']).toBeGreaterThan(0);
    const d = await gantry('gc', '--env', 'dev', '--older-than', 'soon');
    expect(d.code).toBe(2);
    expect(d.stderr).toContain('--older-than');
  });
});
