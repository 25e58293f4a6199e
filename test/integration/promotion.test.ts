/**
 * Promotions end to end through the CLI against real registries: dev → staging (tag mode, same
 * repository) → prod (copy mode, its own registry), immutable tags, idempotent re-runs, status,
 * history, diff, ref, rollback, and signed attestations checked with `gantry verify`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fetchManifest,
  makeImage,
  pushImage,
  type RegistryProcess,
  type TestImage,
} from '../helpers/index.js';
import { gantryAs, startPromotionFixture, writeKeyPair, type PromotionFixture } from './promotion-fixture.js';
import { runCli, type CliResult } from './run-cli.js';

let fixture: PromotionFixture;
let dev: RegistryProcess;
let prod: RegistryProcess;
let dir: string;
let config: string;
let publicKey: string;
const REV = 'a'.repeat(40);
const REV2 = 'b'.repeat(40);
let v1: TestImage;
let v2: TestImage;
let rogue: TestImage;

const gantry = gantryAs(() => config, 'ci-bot');
const json = <T>(r: CliResult): T => {
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as T;
};

beforeAll(async () => {
  fixture = await startPromotionFixture('promo');
  ({ dev, prod, dir } = fixture);
  const signing = await writeKeyPair(dir, 'signing', 'ec');
  publicKey = signing.pub;
  config = await fixture.config(
    `environments:
  dev: { registry: dev, prefix: team-a }
  staging: { registry: dev, prefix: team-a, mode: tag, tag: staging, from: [dev] }
  prod:
    registry: prod
    prefix: team-a
    from: [staging]
    tags: { immutable: ['^v?\\d+\\.\\d+\\.\\d+$', '^[0-9a-f]{40}$'], floating: [latest, prod] }
applications: [web, api]
attestation: { key: ${signing.priv} }
`,
  );
  const labels = (version: string, revision: string) => ({
    'org.opencontainers.image.version': version,
    'org.opencontainers.image.revision': revision,
  });
  v1 = makeImage({ seed: 'web-1', labels: labels('1.0.0', REV) });
  v2 = makeImage({ seed: 'web-2', labels: labels('1.1.0', REV2) });
  rogue = makeImage({ seed: 'web-rogue', labels: labels('1.0.0', 'c'.repeat(40)) });
  await pushImage(dev, 'team-a/web', v1, '1.0.0');
  await pushImage(dev, 'team-a/web', v2, '1.1.0');
  await pushImage(dev, 'team-a/api', makeImage({ seed: 'api-1' }), '3.0.0');
});
afterAll(async () => {
  await fixture?.stop();
});

interface Outcome {
  status: string;
  digest: string;
  version?: string;
  revision?: string;
  mode: string;
  tags: { changes: { tag: string; current?: string }[] };
  attestation?: string;
}

describe('dev → staging → prod', () => {
  it('plans without changing anything', async () => {
    const r = json<Outcome>(await gantry('plan', 'web', '1.0.0', '--to', 'staging', '--json'));
    expect(r).toMatchObject({ status: 'planned', digest: v1.digest, mode: 'tag' });
    expect(r.tags.changes.map((c) => c.tag)).toEqual(['staging']);
    await expect(fetchManifest(dev, 'team-a/web', 'staging')).rejects.toThrow();
  });

  it('promotes to a tag-mode environment by moving its tag', async () => {
    const r = json<Outcome>(await gantry('promote', 'web', '1.0.0', '--to', 'staging', '--json'));
    expect(r).toMatchObject({ status: 'completed', digest: v1.digest, mode: 'tag' });
    expect((await fetchManifest(dev, 'team-a/web', 'staging')).digest).toBe(v1.digest);
  });

  it('refuses to promote what never reached the source environment', async () => {
    const r = await gantry('promote', 'web', '1.1.0', '--to', 'prod');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/was never promoted to staging/);
  });

  it('refuses a source environment the target does not allow', async () => {
    const r = await gantry('promote', 'web', '1.0.0', '--to', 'prod', '--from', 'dev');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/prod may only be promoted from staging/);
  });

  it('copies to prod byte-exact, writes version, revision and floating tags, and attests', async () => {
    const r = json<Outcome>(await gantry('promote', 'web', '1.0.0', '--to', 'prod', '--json'));
    expect(r).toMatchObject({
      status: 'completed',
      digest: v1.digest,
      mode: 'copy',
      version: '1.0.0',
      revision: REV,
    });
    expect(r.tags.changes.map((c) => c.tag)).toEqual(['1.0.0', REV, 'latest', 'prod']);
    for (const tag of ['1.0.0', REV, 'latest', 'prod'])
      expect((await fetchManifest(prod, 'team-a/web', tag)).digest).toBe(v1.digest);
    const verified = await runCli([
      'verify',
      `${prod.host}/team-a/web:prod`,
      '--env',
      'prod',
      '--tls-verify=false',
      '--key',
      publicKey,
      '--json',
    ]);
    expect(verified.code).toBe(0);
    expect(
      json<{
        verified: boolean;
        attestations: { signature: string; predicate: { actor: string; from: { environment: string } } }[];
      }>(verified),
    ).toMatchObject({
      verified: true,
      attestations: [
        { signature: 'verified', predicate: { actor: 'ci-bot', from: { environment: 'staging' } } },
      ],
    });
  });

  it('is a quick no-op when re-run', async () => {
    const r = json<Outcome>(await gantry('promote', 'web', '1.0.0', '--to', 'prod', '--json'));
    expect(r.status).toBe('unchanged');
  });

  it('refuses to move an immutable tag and leaves prod unchanged', async () => {
    // Someone pushed a different image as 1.0.0 into staging's repository by hand.
    await pushImage(dev, 'team-a/web', rogue, '1.0.0');
    await gantry('promote', 'web', '1.0.0', '--to', 'staging');
    const r = await gantry('promote', 'web', '1.0.0', '--to', 'prod');
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('immutable');
    expect(r.stderr).toContain('"1.0.0"');
    expect(r.stderr).toContain(v1.digest);
    expect(r.stderr).toContain(rogue.digest);
    for (const tag of ['1.0.0', 'latest', 'prod'])
      expect((await fetchManifest(prod, 'team-a/web', tag)).digest).toBe(v1.digest);
    await expect(fetchManifest(prod, 'team-a/web', rogue.digest)).rejects.toThrow();
  });

  it('promotes the next version and shows status, history, diff and ref', async () => {
    expect((await gantry('promote', 'web', '1.1.0', '--to', 'staging')).code).toBe(0);
    expect((await gantry('promote', 'web', '1.1.0', '--to', 'prod')).code).toBe(0);
    const ref = await gantry('ref', 'web', '--env', 'prod');
    expect(ref.stdout.trim()).toBe(`${prod.host}/team-a/web@${v2.digest}`);
    const status = json<{
      cells: {
        environment: string;
        application: string;
        version?: string;
        digest?: string;
        promotedBy?: string;
      }[];
    }>(await gantry('status', '--json'));
    expect(status.cells).toContainEqual(
      expect.objectContaining({
        environment: 'prod',
        application: 'web',
        version: '1.1.0',
        digest: v2.digest,
        promotedBy: 'ci-bot',
      }),
    );
    expect(status.cells).toContainEqual(expect.objectContaining({ environment: 'prod', application: 'api' }));
    const history = json<{ entries: { version: string; kind: string }[] }>(
      await gantry('history', 'web', '--env', 'prod', '--json'),
    );
    expect(history.entries.map((e) => `${e.kind} ${e.version}`)).toEqual([
      'promotion 1.1.0',
      'promotion 1.0.0',
    ]);
    const diff = json<{ applications: { application: string; same: boolean }[] }>(
      await gantry('diff', 'staging', 'prod', '--json'),
    );
    expect(diff.applications.find((a) => a.application === 'web')?.same).toBe(true);
    const human = await gantry('status');
    // dev, an entry environment without a floating tag, shows its newest version tag (issue 9.1).
    expect(human.stdout).toMatch(/web\s+1\.1\.0 \w{12}\s+1\.1\.0 \w{12}\s+1\.1\.0 \w{12}/);
    expect(human.stdout).toMatch(/api\s+3\.0\.0 \w{12}\s+—\s+—/);
    expect(human.stdout).toContain('dev has no floating tag: its column shows the newest version tag');
    expect(human.code).toBe(0);
  });
});

describe('rollback', () => {
  it('refuses a digest that was never promoted to the environment', async () => {
    const r = await gantry('rollback', 'web', '--env', 'prod', '--to', rogue.digest);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/never promoted to prod/);
    expect((await fetchManifest(prod, 'team-a/web', 'prod')).digest).toBe(v2.digest);
  });

  it('goes back to the previous promotion, moving floating tags only', async () => {
    const r = json<{ digest: string; previousDigest: string; tags: string[] }>(
      await gantry('rollback', 'web', '--env', 'prod', '--json'),
    );
    expect(r).toMatchObject({ digest: v1.digest, previousDigest: v2.digest, tags: ['latest', 'prod'] });
    expect((await fetchManifest(prod, 'team-a/web', 'prod')).digest).toBe(v1.digest);
    expect((await fetchManifest(prod, 'team-a/web', '1.1.0')).digest).toBe(v2.digest);
    const history = json<{ entries: { kind: string }[] }>(
      await gantry('history', 'web', '--env', 'prod', '--json'),
    );
    expect(history.entries[0]?.kind).toBe('rollback');
  });
});

describe('bad configuration', () => {
  it('names file, line and key with a suggestion, exit 2', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'registries: {}\nenvironments:\n  dev: { registy: x }\napplications: [web]\n');
    const r = await runCli(['status', '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `${bad}:3:10: environments.dev.registy: unknown key "registy" (did you mean "registry"?)`,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('says where it looked when there is no configuration', async () => {
    const r = await runCli(['status'], { env: { GANTRY_CONFIG: '' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no gantry\.yaml in .*--config FILE or set GANTRY_CONFIG/);
  });
});
