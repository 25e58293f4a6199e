/**
 * What Gantry reports is proven (issues 9 and 10), end to end through the CLI against real
 * registries, with a fault proxy in front of prod:
 * - `ref` and `pin` refuse a digest with no promotion record (`--allow-unrecorded` accepts it);
 * - an unreachable registry is an error naming its host, never "absent" (`status`, `diff`, `ref`);
 * - a failed read of an immutable tag (503, 403) stops the promotion instead of overwriting it;
 * - a release whose new tags cannot be removed (distribution 2.8 does not delete tags) leaves them
 *   unrecorded, so `ref` refuses them, and a re-run completes it;
 * - promoting by the git-sha tag promotes the version too; a revision label that is not a git
 *   commit makes no tag; `plan` warns about moving back to an older version;
 * - VERSION arguments are checked before any request; `diff --exit-code`; `ref` of an environment
 *   without a floating tag.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fetchManifest,
  getFreePort,
  listTags,
  makeImage,
  pushImage,
  startFaultProxy,
  type FaultProxy,
  type RegistryProcess,
  type TestImage,
} from '../helpers/index.js';
import {
  expectOk,
  gantryAs,
  startPromotionFixture,
  devToProdYaml,
  type PromotionFixture,
} from './promotion-fixture.js';
import { runCli } from './run-cli.js';

let fixture: PromotionFixture;
let dev: RegistryProcess;
let prod: RegistryProcess;
let proxy: FaultProxy;
let devProxy: FaultProxy;
let dir: string;
let config: string;
let deadPort: number;
const REV = 'c0ffee0123456789c0ffee0123456789c0ffee01';
const images: Record<string, TestImage> = {};

const gantry = gantryAs(() => config, 'ci-bot');
const at = async (app: string, tag: string): Promise<string | undefined> =>
  (await fetchManifest(prod, `team-a/${app}`, tag)).digest;
/** prod's tags of `app`, without the referrers tag-schema tags (`sha256-…`). */
const prodTags = async (app: string): Promise<string[]> =>
  (await listTags(prod, `team-a/${app}`)).tags.filter((t) => !t.startsWith('sha256-'));

beforeAll(async () => {
  fixture = await startPromotionFixture('trust');
  ({ dev, prod, dir } = fixture);
  proxy = await startFaultProxy({ target: prod.url });
  devProxy = await startFaultProxy({ target: dev.url });
  deadPort = await getFreePort();
  config = await fixture.config(
    `${devToProdYaml('team-a', ['^\\d+\\.\\d+\\.\\d+$', '^[0-9a-f]{40}$'])}applications: [web, api, worker]\n`,
    { hosts: { dev: devProxy.host, prod: proxy.host } },
  );
  const add = async (app: string, version: string, labels: Record<string, string>, ...tags: string[]) => {
    const image = makeImage({
      seed: `trust-${app}-${version}`,
      labels: { 'org.opencontainers.image.version': version, ...labels },
    });
    images[`${app}:${version}`] = image;
    for (const t of tags) await pushImage(dev, `team-a/${app}`, image, t);
  };
  await add('web', '1.0.0', {}, '1.0.0');
  await add('web', '1.1.0', {}, '1.1.0');
  // CI tags the build with its version, its commit and its branch; its version is only a tag.
  const web12 = makeImage({ seed: 'trust-web-1.2.0', labels: { 'org.opencontainers.image.revision': REV } });
  images['web:1.2.0'] = web12;
  for (const t of ['1.2.0', REV, 'main']) await pushImage(dev, 'team-a/web', web12, t);
  await add('api', '1.0.0', { 'org.opencontainers.image.revision': '9.9.9' }, '1.0.0');
  await add('worker', '1.0.0', {}, '1.0.0');
});
afterAll(async () => {
  await Promise.all([proxy?.stop(), devProxy?.stop()]);
  await fixture?.stop();
});

describe('VERSION is checked before any request (issue 10.6)', () => {
  it.each([
    ['../../../other-team/secret/manifests/1.0', 'REFERENCE_INVALID'],
    ['1.0#x', 'REFERENCE_INVALID'],
    ['', 'REFERENCE_INVALID'],
    ['sha256:abc', 'DIGEST_INVALID'],
  ])('%j: exit 2, %s, no request', async (version, code) => {
    const before = proxy.requests.length + devProxy.requests.length;
    for (const command of ['promote', 'plan']) {
      const r = await gantry(command, 'web', version, '--to', 'prod');
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^gantry: .+ \\[${code}\\]\\n$`));
    }
    expect(proxy.requests.length + devProxy.requests.length).toBe(before);
  });
});

describe('an immutable tag whose read fails is never overwritten (issue 10.2)', () => {
  it.each([503, 403])(
    'prod answers %d for manifests/1.0.0: exit non-zero, prod unchanged',
    async (status) => {
      if ((await prodTags('web').catch(() => [])).length === 0)
        expectOk(await gantry('promote', 'web', '1.0.0', '--to', 'prod'));
      // dev now holds a rebuilt 1.0.0.
      const rebuilt = makeImage({ seed: `trust-web-rebuilt-${status}` });
      await pushImage(dev, 'team-a/web', rebuilt, '1.0.0');
      proxy.setFault((req) =>
        req.url === '/v2/team-a/web/manifests/1.0.0' && (req.method === 'GET' || req.method === 'HEAD')
          ? {
              status,
              body: { errors: [{ code: status === 403 ? 'DENIED' : 'UNAVAILABLE', message: 'injected' }] },
            }
          : 'pass',
      );
      const r = await gantry('promote', 'web', '1.0.0', '--to', 'prod');
      proxy.setFault(() => 'pass');
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(status === 403 ? /\[REGISTRY_DENIED\]/ : /\[REGISTRY_SERVER_ERROR\]/);
      for (const tag of ['1.0.0', 'latest', 'prod'])
        expect(await at('web', tag)).toBe(images['web:1.0.0']!.digest);
      await expect(fetchManifest(prod, 'team-a/web', rebuilt.digest)).rejects.toThrow(/404/);
      await pushImage(dev, 'team-a/web', images['web:1.0.0']!, '1.0.0');
    },
  );
});

describe('ref and pin report only a proven state (issue 9.1)', () => {
  it('refuse a digest with no promotion record; --allow-unrecorded accepts it', async () => {
    expectOk(await gantry('promote', 'web', '1.1.0', '--to', 'prod'));
    const ok = await gantry('ref', 'web', '--env', 'prod');
    expect(ok.stdout).toBe(`${proxy.host}/team-a/web@${images['web:1.1.0']!.digest}\n`);
    // Someone moves prod's tags by hand to a build that was never promoted.
    const rogue = makeImage({ seed: 'trust-rogue' });
    await pushImage(prod, 'team-a/web', rogue, 'latest');
    const r = await gantry('ref', 'web', '--env', 'prod');
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      new RegExp(
        `web in prod is ${rogue.digest} .*no promotion record for prod.*--allow-unrecorded.* \\[PROMOTION_UNRECORDED\\]`,
      ),
    );
    const allowed = await gantry('ref', 'web', '--env', 'prod', '--allow-unrecorded');
    expect(allowed.stdout).toBe(`${proxy.host}/team-a/web@${rogue.digest}\n`);

    const deployment = join(dir, 'deployment.yaml');
    const text = `spec:\n  containers:\n    - image: ${proxy.host}/team-a/web:1.1.0\n`;
    await writeFile(deployment, text);
    for (const args of [[], ['--check']]) {
      const pin = await gantry('pin', '--env', 'prod', ...args, deployment);
      expect(pin.code).toBe(3);
      expect(pin.stderr).toMatch(/\[PROMOTION_UNRECORDED\]\n$/);
    }
    expect(await readFile(deployment, 'utf8')).toBe(text);
    const pinned = await gantry('pin', '--env', 'prod', '--allow-unrecorded', deployment);
    expect(pinned.code).toBe(0);
    expect(await readFile(deployment, 'utf8')).toContain(`@${rogue.digest}`);
    // status marks it; a promotion puts prod back on a recorded digest.
    expect((await gantry('status')).stdout).toMatch(/web\s+\S+ \w{12}\s+\? \w{12} \(unrecorded\)/);
    await pushImage(prod, 'team-a/web', images['web:1.1.0']!, 'latest');
  });

  it('ref of an environment without a floating tag is a configuration error, not "unknown manifest"', async () => {
    const r = await gantry('ref', 'web', '--env', 'dev');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `gantry: ${config}: environments.dev.tags.floating: dev has no floating tag, so what it runs is not defined; configure one (e.g. floating: [dev]), or ask for a version or digest directly [CONFIG_INVALID]\n`,
    );
  });

  it('an unreachable registry is an error naming its host: status, diff and ref (exit 9)', async () => {
    const withUat = join(dir, 'with-uat.yaml');
    await writeFile(
      withUat,
      (await readFile(config, 'utf8'))
        .replace('registries:\n', `registries:\n  uat: { url: "http://127.0.0.1:${deadPort}" }\n`)
        .replace(
          'environments:\n',
          'environments:\n  uat: { registry: uat, prefix: team-a, from: [dev], tags: { floating: [uat] } }\n',
        ),
    );
    const run = (...args: string[]) => runCli([...args, '--config', withUat]);
    const status = await run('status');
    expect(status.code).toBe(9);
    expect(status.stdout).toMatch(/^web\s+unknown\s+1\.2\.0 \w{12}\s+1\.1\.0 \w{12}$/m);
    expect(status.stderr).toContain(`uat (127.0.0.1:${deadPort})`);
    expect(status.stderr).toMatch(/\[REGISTRY_UNREACHABLE\]\n$/);
    const json = await run('status', '--json');
    expect(json.code).toBe(9);
    const cells = (JSON.parse(json.stdout) as { cells: { environment: string; state: string }[] }).cells;
    expect(cells.filter((c) => c.environment === 'uat').map((c) => c.state)).toEqual([
      'unknown',
      'unknown',
      'unknown',
    ]);
    expect(cells.filter((c) => c.environment === 'prod').map((c) => c.state)).toEqual([
      'present',
      'absent',
      'absent',
    ]);
    const diff = await run('diff', 'uat', 'prod');
    expect(diff.code).toBe(9);
    expect(diff.stdout).toBe('');
    expect(diff.stderr).toContain(`127.0.0.1:${deadPort}`);
    const ref = await run('ref', 'web', '--env', 'uat');
    expect(ref.code).toBe(9);
    expect(ref.stderr).toContain(`127.0.0.1:${deadPort}`);
  });
});

describe('diff --exit-code (issue 9.7)', () => {
  it('exits 1 when the environments differ, 0 otherwise', async () => {
    expect((await gantry('diff', 'prod', 'prod', '--exit-code')).code).toBe(0);
    const differ = await gantry('diff', 'dev', 'prod', '--exit-code', '--json');
    expect(differ.code).toBe(1);
    expect(JSON.parse(differ.stdout)).toMatchObject({ same: false });
    expect((await gantry('diff', 'dev', 'prod')).code).toBe(0);
  });
});

describe('any reference to a candidate promotes the same thing (issues 9.4, 10.7)', () => {
  it('promoting by the git-sha tag writes the version and revision, never the branch tag', async () => {
    const r = await gantry('promote', 'web', REV, '--to', 'prod', '--json');
    expectOk(r);
    expect(JSON.parse(r.stdout)).toMatchObject({ version: '1.2.0', revision: REV });
    const tags = await prodTags('web');
    expect(tags).toEqual(expect.arrayContaining(['1.2.0', REV, 'latest', 'prod']));
    expect(tags).not.toContain('main');
    const status = JSON.parse((await gantry('status', '--json')).stdout) as {
      cells: { environment: string; application: string; version?: string }[];
    };
    expect(status.cells).toContainEqual(
      expect.objectContaining({ environment: 'prod', application: 'web', version: '1.2.0' }),
    );
  });

  it('plan warns when a promotion moves an environment back to an older version', async () => {
    const r = await gantry('plan', 'web', '1.1.0', '--to', 'prod');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      '  warning: prod runs web 1.2.0: promoting 1.1.0 moves it back to an older version\n',
    );
  });

  it('a revision label that is not a git commit makes no tag, and plan says so', async () => {
    const plan = await gantry('plan', 'api', '1.0.0', '--to', 'prod');
    expect(plan.stdout).toContain(
      `  warning: label org.opencontainers.image.revision="9.9.9" does not match prod's revision pattern (a git commit): no tag is made from it\n`,
    );
    expectOk(await gantry('promote', 'api', '1.0.0', '--to', 'prod'));
    expect((await prodTags('api')).sort()).toEqual(['1.0.0', 'latest', 'prod']);
  });
});

describe('a release leaves no half state (issue 9.2)', () => {
  it('new tags that cannot be removed stay unrecorded: ref refuses them, a re-run completes', async () => {
    const file = join(dir, 'release.yaml');
    await writeFile(file, 'name: r\napplications:\n  web: 1.2.0\n  worker: 1.0.0\n');
    // worker is new in prod: its tags are new, written last; its second floating tag fails.
    proxy.setFault((req) =>
      req.method === 'PUT' && req.url === '/v2/team-a/worker/manifests/prod'
        ? { status: 500, body: 'disk on fire' }
        : 'pass',
    );
    const r = await gantry('promote', '--release', file, '--to', 'prod');
    proxy.setFault(() => 'pass');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /release to prod failed while writing tags \(.*500 disk on fire\); could not undo .*team-a\/worker:latest \(a new tag; the registry does not delete tags\).*re-run to complete/,
    );
    const ref = await gantry('ref', 'worker', '--env', 'prod');
    expect(ref.code).toBe(3);
    expect(ref.stderr).toMatch(/\[PROMOTION_UNRECORDED\]/);
    expect((await gantry('history', 'worker', '--env', 'prod', '--json')).stdout).toContain('"entries": []');

    expectOk(await gantry('promote', '--release', file, '--to', 'prod'));
    const done = await gantry('ref', 'worker', '--env', 'prod');
    expect(done.stdout).toBe(`${proxy.host}/team-a/worker@${images['worker:1.0.0']!.digest}\n`);
    expect(await at('worker', 'prod')).toBe(images['worker:1.0.0']!.digest);
  });
});
