/**
 * Releases: several applications promoted together, content first and tags last. A fault proxy
 * (injected failures) in front of prod refuses one floating tag half-way; every tag the release
 * had already moved must be back where it was.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fetchManifest,
  makeImage,
  pushImage,
  startFaultProxy,
  type FaultProxy,
  type RegistryProcess,
  type TestImage,
} from '../helpers/index.js';
import { devToProdYaml, startPromotionFixture, type PromotionFixture } from './promotion-fixture.js';
import { runCli } from './run-cli.js';

let fixture: PromotionFixture;
let dev: RegistryProcess;
let prod: RegistryProcess;
let proxy: FaultProxy;
let dir: string;
let config: string;
const images: Record<string, TestImage> = {};

const gantry = (...args: string[]) => runCli([...args, '--config', config]);

async function release(name: string, apps: Record<string, string>): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(
    file,
    `name: ${name}\napplications:\n${Object.entries(apps)
      .map(([a, v]) => `  ${a}: ${v}`)
      .join('\n')}\n`,
  );
  return file;
}

beforeAll(async () => {
  fixture = await startPromotionFixture('release');
  ({ dev, prod, dir } = fixture);
  proxy = await startFaultProxy({ target: prod.url });
  config = await fixture.config(
    `${devToProdYaml('team-a', ['^\\d+\\.\\d+\\.\\d+$'])}applications: [web, api, worker]\n`,
    { hosts: { dev: dev.host, prod: proxy.host } },
  );
  for (const app of ['web', 'api', 'worker']) {
    for (const v of ['1.0.0', '2.0.0']) {
      const image = makeImage({ seed: `${app}-${v}`, labels: { 'org.opencontainers.image.version': v } });
      images[`${app}:${v}`] = image;
      await pushImage(dev, `team-a/${app}`, image, v);
    }
  }
});
afterAll(async () => {
  await proxy?.stop();
  await fixture?.stop();
});

const at = async (app: string, tag: string) => (await fetchManifest(prod, `team-a/${app}`, tag)).digest;

describe('gantry promote --release', () => {
  it('promotes every application of a release', async () => {
    const r = await gantry(
      'promote',
      '--release',
      await release('r1', { web: '1.0.0', api: '1.0.0', worker: '1.0.0' }),
      '--to',
      'prod',
      '--json',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      release: string;
      applications: { application: string; status: string }[];
    };
    expect(out.release).toBe('r1');
    expect(out.applications.map((a) => `${a.application} ${a.status}`)).toEqual([
      'web completed',
      'api completed',
      'worker completed',
    ]);
    for (const app of ['web', 'api', 'worker']) {
      for (const tag of ['1.0.0', 'latest', 'prod'])
        expect(await at(app, tag)).toBe(images[`${app}:1.0.0`]!.digest);
    }
  });

  it('moves no tag when a floating tag fails half-way', async () => {
    // The third application's first floating tag cannot be written; web and api have moved by then.
    proxy.setFault((req) =>
      req.method === 'PUT' && req.url === '/v2/team-a/worker/manifests/latest'
        ? { status: 500, body: 'disk on fire' }
        : 'pass',
    );
    const r = await gantry(
      'promote',
      '--release',
      await release('r2', { web: '2.0.0', api: '2.0.0', worker: '2.0.0' }),
      '--to',
      'prod',
    );
    proxy.setFault(() => 'pass');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /release to prod failed while writing tags \(.*500 disk on fire\); 4 moved tags restored/,
    );
    expect(r.stderr).not.toContain('could not undo');
    for (const app of ['web', 'api', 'worker']) {
      for (const tag of ['latest', 'prod']) expect(await at(app, tag)).toBe(images[`${app}:1.0.0`]!.digest);
    }
    // Restorable moves come first and new tags last: the failure came before any new tag was
    // written, so none is left behind; the content is there, and a retry completes the release.
    await expect(at('worker', '2.0.0')).rejects.toThrow(/404/);
    await expect(at('web', '2.0.0')).rejects.toThrow(/404/);
    const retry = await gantry('promote', '--release', join(dir, 'r2.yaml'), '--to', 'prod');
    expect(retry.code).toBe(0);
    for (const app of ['web', 'api', 'worker'])
      expect(await at(app, 'prod')).toBe(images[`${app}:2.0.0`]!.digest);
  });

  it('refuses the whole release before copying anything when one application is refused', async () => {
    const r = await gantry(
      'promote',
      '--release',
      await release('r3', { web: '1.0.0', api: '9.9.9' }),
      '--to',
      'prod',
    );
    // A candidate that never reached the source environment is a pipeline refusal (issue 9.7).
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/9\.9\.9 is not in dev .*it never reached dev.* \[PROMOTION_NOT_ALLOWED\]/);
    expect(await at('web', 'prod')).toBe(images['web:2.0.0']!.digest);
  });

  it('reports a malformed release file with its line', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'applications:\n  web: [1]\n');
    const r = await gantry('promote', '--release', bad, '--to', 'prod');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}:2:8: applications.web:`);
  });
});
