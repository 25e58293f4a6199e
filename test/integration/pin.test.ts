/**
 * `gantry pin` end to end through the CLI against real registries: promote web and api to prod,
 * pin the real-world-shaped deployment files of test/fixtures/pin to what prod runs (comments and
 * formatting kept), `--check` passing afterwards and failing after a newer promotion, `--json`,
 * an application prod does not run, and a file that cannot be parsed.
 */
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeImage, pushImage, type RegistryProcess, type TestImage } from '../helpers/index.js';
import {
  expectOk,
  gantryAs,
  startPromotionFixture,
  devToProdYaml,
  type PromotionFixture,
} from './promotion-fixture.js';

const FIXTURES = new URL('../fixtures/pin/', import.meta.url);
/** The host and digests the fixtures are written with. */
const FIXTURE_HOST = 'prod.registry.example.com';
const FIXTURE_WEB = 'sha256:4315c8fd5a82533f56a83922bc1d5a2cff2b1f1e76117f66673abbcffd6c9fff';
const FIXTURE_API = 'sha256:87c9c8ffa0c78f2fda594e64737f8a2b61745474f69dd0434eedc712727a1b0e';

/** Fixture → its pinned twin, as they are laid out in the deployment directory. */
const FILES: readonly (readonly [string, string])[] = [
  ['k8s/shop.yaml', 'k8s/shop.pinned.yaml'],
  ['kustomize/kustomization.yaml', 'kustomize/kustomization.pinned.yaml'],
  ['helm/values-bitnami.yaml', 'helm/values-bitnami.pinned.yaml'],
  ['ecs/task-definition.json', 'ecs/task-definition.pinned.json'],
  ['ecs/task-definition.4-space.json', 'ecs/task-definition.pinned.4-space.json'],
];

let registries: PromotionFixture;
let dev: RegistryProcess;
let prod: RegistryProcess;
let dir: string;
let deploy: string;
let config: string;
let web: TestImage;
let web150: TestImage;
let api: TestImage;

const gantry = gantryAs(() => config, 'ci-bot');
const files = (): string[] => FILES.map(([f]) => join(deploy, f));

/** A fixture as it reads for this test's registry and images. */
async function fixture(name: string): Promise<string> {
  return (await readFile(new URL(name, FIXTURES), 'utf8'))
    .replaceAll(FIXTURE_HOST, prod.host)
    .replaceAll(FIXTURE_WEB, web.digest)
    .replaceAll(FIXTURE_API, api.digest);
}

async function promote(app: string, version: string): Promise<void> {
  expectOk(await gantry('promote', app, version, '--to', 'prod'));
}

beforeAll(async () => {
  registries = await startPromotionFixture('pin');
  ({ dev, prod, dir } = registries);
  config = await registries.config(
    `${devToProdYaml('team-a', ['^v?\\d+\\.\\d+\\.\\d+$'])}applications: [web, api, worker]\n`,
  );
  const labelled = (seed: string, version: string): TestImage =>
    makeImage({ seed, labels: { 'org.opencontainers.image.version': version } });
  web = labelled('pin-web-1.4.2', '1.4.2');
  web150 = labelled('pin-web-1.5.0', '1.5.0');
  api = labelled('pin-api-2.1.0', '2.1.0');
  await pushImage(dev, 'team-a/web', web, '1.4.2');
  await pushImage(dev, 'team-a/web', web150, '1.5.0');
  await pushImage(dev, 'team-a/api', api, '2.1.0');
  await pushImage(dev, 'team-a/worker', labelled('pin-worker-0.9.0', '0.9.0'), '0.9.0');
  await promote('web', '1.4.2');
  await promote('api', '2.1.0');

  deploy = join(dir, 'deploy');
  for (const [name] of [...FILES, ['helm/values.yaml']]) {
    await mkdir(join(deploy, name, '..'), { recursive: true });
    await writeFile(join(deploy, name), await fixture(name));
  }
});
afterAll(async () => {
  await registries?.stop();
});

interface PinJson {
  environment: string;
  check: boolean;
  references: number;
  changes: { file: string; line: number; path: string; application: string; from: string; to: string }[];
  unpinned: {
    file: string;
    line: number;
    application: string;
    reference: string;
    reason: string;
    expected?: string;
  }[];
  files: { file: string; references: number; changed: boolean }[];
  error?: { code: string; message: string };
}

describe('gantry pin', () => {
  it('--check fails before pinning, naming each file and line, and changes nothing', async () => {
    const r = await gantry('pin', '--env', 'prod', '--check', ...files());
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(
      `${join(deploy, 'k8s/shop.yaml')}:38: ${prod.host}/team-a/web:1.4.1 is not pinned`,
    );
    expect(r.stderr).toMatch(
      /^gantry: 11 references in 5 files are not pinned to prod's current digests \[PIN_CHECK_FAILED\]\n$/,
    );
    for (const [name] of FILES) expect(await readFile(join(deploy, name), 'utf8')).toBe(await fixture(name));
  });

  it('rewrites the files to the digests prod runs, keeping comments and formatting', async () => {
    await chmod(join(deploy, 'k8s/shop.yaml'), 0o640);
    const r = await gantry('pin', '--env', 'prod', ...files());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `${join(deploy, 'kustomize/kustomization.yaml')}:13: ${prod.host}/team-a/web:1.4.1 → ${prod.host}/team-a/web:1.4.2@${web.digest}`,
    );
    expect(r.stdout).toMatch(/Pinned 11 references in 5 files to prod\.\n$/);
    for (const [name, pinned] of FILES)
      expect(await readFile(join(deploy, name), 'utf8'), name).toBe(await fixture(pinned));
    expect((await stat(join(deploy, 'k8s/shop.yaml'))).mode & 0o777).toBe(0o640);
  });

  it('--check passes afterwards, and a second run writes nothing', async () => {
    const check = await gantry('pin', '--env', 'prod', '--check', ...files());
    expect(check.code).toBe(0);
    expect(check.stdout).toBe("All 12 references in 5 files are pinned to prod's current digests.\n");
    const before = await Promise.all(files().map((f) => stat(f)));
    const again = await gantry('pin', '--env', 'prod', ...files());
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('All 12 references already pinned to prod; nothing to change.\n');
    const after = await Promise.all(files().map((f) => stat(f)));
    expect(after.map((s) => [s.ino, s.mtimeMs])).toEqual(before.map((s) => [s.ino, s.mtimeMs]));
  });

  it('--check fails with exit 3 after a newer promotion; --json lists what pin then changes', async () => {
    await promote('web', '1.5.0');
    const check = await gantry('pin', '--env', 'prod', '--check', '--json', ...files());
    expect(check.code).toBe(3);
    const report = JSON.parse(check.stdout) as PinJson;
    expect(report).toMatchObject({ environment: 'prod', check: true, error: { code: 'PIN_CHECK_FAILED' } });
    // --check changes nothing: what is not pinned is listed as unpinned, with what pin would write.
    expect(report.changes).toEqual([]);
    expect(report.unpinned).toHaveLength(7);
    expect(report.unpinned).toContainEqual({
      file: join(deploy, 'k8s/shop.yaml'),
      line: 38,
      column: 18,
      path: 'spec.template.spec.initContainers[0].image',
      application: 'web',
      repository: `${prod.host}/team-a/web`,
      reference: `${prod.host}/team-a/web:1.4.2@${web.digest}`,
      reason: 'not-pinned',
      expected: `${prod.host}/team-a/web:1.5.0@${web150.digest}`,
    });
    expect(report.files.map((f) => f.changed)).toEqual([false, false, false, false, false]);

    const r = await gantry('pin', '--env', 'prod', '--json', ...files());
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const pinned = JSON.parse(r.stdout) as PinJson;
    expect(pinned).toMatchObject({ environment: 'prod', check: false, references: 12, unpinned: [] });
    expect(pinned.error).toBeUndefined();
    expect(pinned.changes.map((c) => c.application)).toEqual(Array(7).fill('web'));
    expect(pinned.changes).toContainEqual({
      file: join(deploy, 'k8s/shop.yaml'),
      line: 38,
      column: 18,
      path: 'spec.template.spec.initContainers[0].image',
      application: 'web',
      repository: `${prod.host}/team-a/web`,
      from: `${prod.host}/team-a/web:1.4.2@${web.digest}`,
      to: `${prod.host}/team-a/web:1.5.0@${web150.digest}`,
    });
    expect(pinned.files.map((f) => f.changed)).toEqual([true, true, true, true, true]);
    const shop = await readFile(join(deploy, 'k8s/shop.yaml'), 'utf8');
    expect(shop).toBe(
      (await fixture('k8s/shop.pinned.yaml'))
        .replaceAll(`web:1.4.2@${web.digest}`, `web:1.5.0@${web150.digest}`)
        .replaceAll(`web@${web.digest}`, `web@${web150.digest}`),
    );
    expect((await gantry('pin', '--env', 'prod', '--check', ...files())).code).toBe(0);
  });

  it('leaves an application prod does not run as it is, and --check fails on it', async () => {
    const values = join(deploy, 'helm/values.yaml');
    const r = await gantry('pin', '--env', 'prod', values);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      `gantry: warning: ${values}:30: worker does not run in prod; ${prod.host}/team-a/worker:0.9.0 left as it is\n`,
    );
    const text = await readFile(values, 'utf8');
    expect(text).toContain(`  tag: '1.5.0'\n  digest: '${web150.digest}'\n`);
    expect(text).toContain(`worker:\n  image: { repository: ${prod.host}/team-a/worker, tag: 0.9.0 }\n`);
    const check = await gantry('pin', '--env', 'prod', '--check', values);
    expect(check.code).toBe(3);
    expect(check.stdout).toContain(
      // one line further down now: pinning web added its digest line
      `${values}:31: ${prod.host}/team-a/worker:0.9.0: worker does not run in prod`,
    );
  });

  it('refuses a file it cannot parse with file:line, exit 2, before writing anything', async () => {
    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, 'kind: Pod\nspec:\n  containers: [\n    image: x\n');
    const first = join(deploy, 'k8s/shop.yaml');
    const before = await readFile(first, 'utf8');
    const r = await gantry('pin', '--env', 'prod', first, broken);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^gantry: ${broken}:\\d+:\\d+: .+ \\[PIN_FILE_INVALID\\]\\n$`));
    expect(await readFile(first, 'utf8')).toBe(before);
  });

  it('names an unknown environment', async () => {
    const r = await gantry('pin', '--env', 'qa', ...files());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown environment "qa"');
  });
});
