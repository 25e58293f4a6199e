/**
 * Bad configuration through the CLI, the way users meet it: one line naming file, line, column
 * and key, `CONFIG_INVALID`, exit 2, and bounded work for hostile files.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeImage, pushImage, startRegistry, type RegistryProcess } from '../helpers/index.js';
import { runCli } from './run-cli.js';

let registry: RegistryProcess;
let dir: string;

const base = (host: string, extra = '') => `registries:
  dev: { url: "http://${host}" }
environments:
  dev: { registry: dev, prefix: team-a }
  staging: { registry: dev, prefix: team-a, mode: tag, tag: staging, from: [dev] }
applications: [web]
${extra}`;

async function configFile(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

beforeAll(async () => {
  registry = await startRegistry();
  dir = await mkdtemp(join(tmpdir(), 'gantry-config-errors-'));
  await pushImage(registry, 'team-a/web', makeImage({ seed: 'config-errors' }), '1.0.0');
});
afterAll(async () => {
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('attestation key', () => {
  it('a public key configured as attestation.key is CONFIG_INVALID at its line', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pub = join(dir, 'signing.pub.pem');
    await writeFile(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    const file = await configFile('public-key.yaml', base(registry.host, `attestation:\n  key: ${pub}\n`));
    const r = await runCli(['promote', 'web', '1.0.0', '--to', 'staging', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `gantry: ${file}:8:8: attestation.key: ${pub} is a public key; attestations are signed with the private key (verifiers use the public one) [CONFIG_INVALID]\n`,
    );
    const json = await runCli(['promote', 'web', '1.0.0', '--to', 'staging', '--config', file, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      error: { code: 'CONFIG_INVALID', file, line: 8, column: 8 },
    });
  });
});

describe('key files named in the configuration', () => {
  it('an unreadable approver key is CONFIG_INVALID at its line', async () => {
    const missing = join(dir, 'missing.pub.pem');
    const file = await configFile(
      'approver.yaml',
      base(registry.host).replace('from: [dev] }', 'from: [dev], gates: [ { approval: { count: 1 } } ] }') +
        `approvers:\n  alice:\n    key: ${missing}\n`,
    );
    const r = await runCli(['plan', 'web', '1.0.0', '--to', 'staging', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `gantry: ${file}:9:10: approvers.alice.key: cannot read ${missing} [CONFIG_INVALID]\n`,
    );
  });
});

describe('hostile configuration files', () => {
  it('stops a billion-laughs document with CONFIG_INVALID at the alias', async () => {
    const bomb = [
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
      'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]',
      'i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]',
      '',
    ].join('\n');
    const file = await configFile('bomb.yaml', bomb);
    const r = await runCli(['status', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^gantry: ${file}:2:8: aliases expand to more than 100 nodes`));
    expect(r.stderr).toContain('[CONFIG_INVALID]');
  });

  it('refuses a configuration file over 1 MiB without parsing it', async () => {
    const file = await configFile('huge.yaml', `${base(registry.host)}${'# padding\n'.repeat(110_000)}`);
    const r = await runCli(['status', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `gantry: ${file}: the file is larger than 1 MiB; refusing to read it [CONFIG_INVALID]\n`,
    );
  });

  it('refuses a release file over 1 MiB', async () => {
    const file = await configFile('ok.yaml', base(registry.host));
    const release = join(dir, 'release.yaml');
    await writeFile(release, `applications:\n  web: 1.0.0\n${'# padding\n'.repeat(110_000)}`);
    const r = await runCli(['plan', '--release', release, '--to', 'staging', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${release}: the file is larger than 1 MiB`);
    expect(r.stderr).toContain('[CONFIG_INVALID]');
  });

  it('refuses a tag pattern with nested repetition at load time, with its position', async () => {
    const file = await configFile(
      'redos.yaml',
      base(registry.host).replace(
        'from: [dev] }',
        () =>
          "from: [dev], tags: { immutable: ['^(a+)+$'], floating: ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-'] } }",
      ),
    );
    const r = await runCli(['status', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(
        `^gantry: ${file}:5:\\d+: environments\\.staging\\.tags\\.immutable\\[0\\]: regex may take exponential time`,
      ),
    );
  });

  it.each([
    ['https://reg.example.com:99999', 'invalid host or port'],
    ['https://300.1.2.3', 'invalid host or port'],
    ['https://user:pw@reg.example.com', 'must not contain credentials'],
  ])('a registry URL %s is CONFIG_INVALID with its position', async (url, message) => {
    const file = await configFile('url.yaml', base(registry.host).replace(`http://${registry.host}`, url));
    const r = await runCli(['status', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^gantry: ${file}:2:\\d+: registries\\.dev\\.url: .*${message}`));
    expect(r.stderr).not.toContain('pw@');
    expect(r.stderr).toContain('[CONFIG_INVALID]');
  });
});
