/**
 * The `gantry` CLI as a CI pipeline runs it: inspect, ls, login/logout against real registries,
 * skopeo interop, and bad input answered with one line and a documented exit code.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaTypes } from '../../src/core/index.js';
import {
  DEFAULT_TEST_USER,
  makeArtifact,
  makeImage,
  makeIndex,
  pushImage,
  pushManifest,
  startRegistry,
  type RegistryProcess,
  type TestImage,
} from '../helpers/index.js';
import { runCli } from './run-cli.js';

const exec = promisify(execFile);

let plain: RegistryProcess;
let basic: RegistryProcess;
let dir: string;
let image: TestImage;
const insecure = '--tls-verify=false';

beforeAll(async () => {
  [plain, basic] = await Promise.all([startRegistry(), startRegistry({ auth: 'htpasswd' })]);
  dir = await mkdtemp(join(tmpdir(), 'gantry-cli-'));
  image = makeImage({
    seed: 'cli',
    labels: {
      'org.opencontainers.image.version': '1.4.2',
      'org.opencontainers.image.revision': 'a'.repeat(40),
    },
    annotations: { 'org.opencontainers.image.source': 'https://git.example.com/web' },
  });
  await pushImage(plain, 'team/web', image, '1.4.2');
  await pushImage(plain, 'team/web', image, 'latest');
  const subject = { mediaType: image.mediaType, digest: image.digest, size: image.size };
  const sbom = makeArtifact({ subject, artifactType: 'application/spdx+json', content: '{}' });
  await pushImage(plain, 'team/web', sbom);
  // distribution 2.8 has no referrers API: list the SBOM in the tag-schema fallback index by hand.
  const fallback = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: [
      {
        mediaType: sbom.mediaType,
        digest: sbom.digest,
        size: sbom.size,
        artifactType: 'application/spdx+json',
      },
    ],
  };
  const fallbackTag = `sha256-${image.digest.slice(7)}`;
  await pushManifest(
    plain,
    'team/web',
    Buffer.from(JSON.stringify(fallback)),
    MediaTypes.ociIndex,
    fallbackTag,
  );
  const index = makeIndex([
    makeImage({ seed: 'cli-amd', platform: { os: 'linux', architecture: 'amd64' } }),
    makeImage({
      seed: 'cli-arm',
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
      format: 'oci',
    }),
  ]);
  await pushImage(plain, 'team/multi', index, 'v1');
  await pushImage(basic, 'team/private', makeImage({ seed: 'private' }), 'v1');
});
afterAll(async () => {
  await Promise.all([plain?.stop(), basic?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('gantry inspect', () => {
  it('prints digest, media type, labels, layers and referrers as JSON', async () => {
    const r = await runCli(['inspect', `${plain.host}/team/web:1.4.2`, insecure, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(json.digest).toBe(image.digest);
    expect(json.mediaType).toBe(image.mediaType);
    expect(json.labels).toMatchObject({ 'org.opencontainers.image.version': '1.4.2' });
    expect(json.annotations).toMatchObject({
      'org.opencontainers.image.source': 'https://git.example.com/web',
    });
    expect(json.layers).toHaveLength(image.layers.length);
    expect(json.platform).toBe('linux/amd64');
    expect(json.referrers).toEqual([expect.objectContaining({ artifactType: 'application/spdx+json' })]);
    expect(json.referrersSource).toBe('tag-schema');
  });

  it('lists every platform of an index', async () => {
    const r = await runCli(['inspect', `${plain.host}/team/multi:v1`, insecure, '--json']);
    const json = JSON.parse(r.stdout) as { platforms: { platform: string }[] };
    expect(json.platforms.map((p) => p.platform)).toEqual(['linux/amd64', 'linux/arm64/v8']);
  });

  it('prints human output by default', async () => {
    const r = await runCli(['inspect', `${plain.host}/team/web:1.4.2`, insecure]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Digest:     ${image.digest}`);
    expect(r.stdout).toContain('org.opencontainers.image.version=1.4.2');
  });

  it('--raw prints the exact manifest bytes', async () => {
    const r = await runCli(['inspect', `${plain.host}/team/web:1.4.2`, insecure, '--raw']);
    expect(Buffer.from(r.stdout).equals(image.manifest)).toBe(true);
  });

  it('agrees with skopeo inspect --raw on digest and media type', async () => {
    for (const ref of [`${plain.host}/team/web:1.4.2`, `${plain.host}/team/multi:v1`]) {
      const { stdout: raw } = await exec(
        'skopeo',
        ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`],
        {
          encoding: 'buffer',
        },
      );
      const skopeoDigest = `sha256:${(await import('node:crypto')).createHash('sha256').update(raw).digest('hex')}`;
      const skopeoType = (JSON.parse(raw.toString()) as { mediaType: string }).mediaType;
      const r = await runCli(['inspect', ref, insecure, '--json']);
      const json = JSON.parse(r.stdout) as { digest: string; mediaType: string };
      expect(json.digest).toBe(skopeoDigest);
      expect(json.mediaType).toBe(skopeoType);
    }
  });
});

describe('gantry ls', () => {
  it('lists tags as JSON {repository, tags}', async () => {
    const r = await runCli(['ls', `${plain.host}/team/web`, insecure, '--json']);
    const json = JSON.parse(r.stdout) as { repository: string; tags: string[] };
    expect(json.repository).toBe(`${plain.host}/team/web`);
    expect(json.tags).toEqual(expect.arrayContaining(['1.4.2', 'latest', `sha256-${image.digest.slice(7)}`]));
  });

  it('agrees with skopeo list-tags', async () => {
    const { stdout } = await exec('skopeo', [
      'list-tags',
      '--tls-verify=false',
      `docker://${plain.host}/team/web`,
    ]);
    const r = await runCli(['ls', `${plain.host}/team/web`, insecure, '--json']);
    expect((JSON.parse(r.stdout) as { tags: string[] }).tags.sort()).toEqual(
      (JSON.parse(stdout) as { Tags: string[] }).Tags.sort(),
    );
  });
});

describe('gantry login / logout', () => {
  it('checks, stores and removes credentials in --authfile', async () => {
    const authfile = join(dir, 'auth.json');
    const ref = `${basic.host}/team/private:v1`;
    const denied = await runCli(['inspect', ref, insecure, '--authfile', authfile]);
    expect(denied.code).toBe(6);

    const bad = await runCli(['login', basic.host, insecure, '--authfile', authfile, '-u', 'alice'], {
      stdin: 'wrong-password\n',
    });
    expect(bad.code).toBe(6);
    expect(bad.stderr).not.toContain('wrong-password');

    const ok = await runCli(
      ['login', basic.host, insecure, '--authfile', authfile, '-u', DEFAULT_TEST_USER.username],
      {
        stdin: `${DEFAULT_TEST_USER.password}\n`,
      },
    );
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Login succeeded');
    expect((await stat(authfile)).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(await readFile(authfile, 'utf8')) as {
      auths: Record<string, { auth: string }>;
    };
    expect(Buffer.from(stored.auths[basic.host]!.auth, 'base64').toString()).toBe(
      `alice:${DEFAULT_TEST_USER.password}`,
    );

    const allowed = await runCli(['inspect', ref, insecure, '--authfile', authfile, '--json']);
    expect(allowed.code).toBe(0);

    const out = await runCli(['logout', basic.host, '--authfile', authfile]);
    expect(out.stdout).toContain(`Removed login credentials for ${basic.host}`);
    expect((await runCli(['logout', basic.host, '--authfile', authfile])).stdout).toContain('Not logged in');
    expect((await runCli(['inspect', ref, insecure, '--authfile', authfile])).code).toBe(6);
  });

  it('uses DOCKER_CONFIG and --creds', async () => {
    const ref = `${basic.host}/team/private:v1`;
    const dockerConfig = join(dir, 'docker');
    const login = await runCli(['login', basic.host, insecure, '-u', 'alice'], {
      stdin: DEFAULT_TEST_USER.password,
      env: { DOCKER_CONFIG: dockerConfig },
    });
    expect(login.code).toBe(0);
    expect((await runCli(['inspect', ref, insecure], { env: { DOCKER_CONFIG: dockerConfig } })).code).toBe(0);
    const creds = await runCli([
      'inspect',
      ref,
      insecure,
      '--creds',
      `alice:${DEFAULT_TEST_USER.password}`,
      '--authfile',
      join(dir, 'none.json'),
    ]);
    expect(creds.code).toBe(0);
  });
});

describe('registry settings from gantry.yaml', () => {
  it('inspect and attach use the TLS and credential settings of a configured registry', async () => {
    const config = join(dir, 'gantry.yaml');
    await writeFile(
      config,
      `registries:
  locked: { url: "http://${basic.host}", credentials: { env: LOCKED_CREDS } }
environments:
  dev: { registry: locked, prefix: team }
applications: [private]
`,
    );
    const env = {
      GANTRY_CONFIG: config,
      LOCKED_CREDS: `${DEFAULT_TEST_USER.username}:${DEFAULT_TEST_USER.password}`,
    };
    const ref = `${basic.host}/team/private:v1`;
    const none = join(dir, 'no-auth.json');
    const inspected = await runCli(['inspect', ref, '--authfile', none, '--json'], { env });
    expect(inspected.stderr).toBe('');
    expect(inspected.code).toBe(0);
    const report = join(dir, 'report.json');
    await writeFile(report, '{"passed": 1}');
    const attached = await runCli(
      ['attach', ref, report, '--authfile', none, '--artifact-type', 'application/vnd.example+json'],
      { env },
    );
    expect(attached.stderr).toBe('');
    expect(attached.code).toBe(0);
    // --config names the file explicitly; a flag on the command line wins over the file.
    const explicit = await runCli(['inspect', ref, '--authfile', none, '--config', config], {
      env: { LOCKED_CREDS: env.LOCKED_CREDS },
    });
    expect(explicit.code).toBe(0);
    const flagged = await runCli(['inspect', ref, insecure, '--authfile', none], { env });
    expect(flagged.code).toBe(6);
    // Without a configuration, nothing changes: plain HTTP needs --tls-verify=false.
    expect((await runCli(['inspect', ref, '--authfile', none])).code).toBe(7);
  });
});

describe('bad input', () => {
  it.each([
    [['inspect', 'Bad//Ref'], 2, /invalid reference "Bad\/\/Ref"/],
    [['inspect', 'reg.example.com/app@sha256:123'], 2, /64 lowercase hex/],
    [['ls', 'reg.example.com/app:tag'], 2, /takes no tag/],
    [['inspect', '127.0.0.1:1/app:v1', insecure], 9, /cannot connect/],
    [['inspect', '--no-such-flag', 'x'], 2, /unknown option/],
    [['inspect', 'x', '--tls-verify=maybe'], 2, /invalid boolean/],
    [['frobnicate'], 2, /unknown command/],
    [['inspect', 'x', '--creds', 'nocolon', insecure], 2, /USER:PASSWORD/],
  ])('%j exits %i with one line', async (args, code, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
  });

  it.each([
    [['plan', 'web', '1.0.0'], /required option '--to <env>' not specified/],
    [['inspect', '--no-such-flag', 'x'], /unknown option '--no-such-flag'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['ls'], /missing required argument 'repository'/],
  ])('parser error %j is one USAGE_INVALID line, and JSON with --json', async (args, message) => {
    const human = await runCli(args);
    expect(human.code).toBe(2);
    expect(human.stderr).toMatch(/^gantry: .* \[USAGE_INVALID\]\n$/);
    expect(human.stderr).toMatch(message);
    expect(human.stderr).not.toMatch(/^error:/m);
    const json = await runCli([...args, '--json']);
    expect(json.code).toBe(2);
    expect(json.stderr).toBe('');
    const parsed = JSON.parse(json.stdout) as { error: { code: string; message: string } };
    expect(parsed.error.code).toBe('USAGE_INVALID');
    expect(parsed.error.message).toMatch(message);
  });

  it.each([
    [
      ['inspect', 'localhost:99999/team/web:1'],
      'REFERENCE_INVALID',
      /invalid registry host "localhost:99999"/,
    ],
    [['inspect', '300.1.2.3:5000/team/web:1'], 'REFERENCE_INVALID', /invalid registry host "300.1.2.3:5000"/],
    [['ls', '10.0.0.256/team/web'], 'REFERENCE_INVALID', /invalid registry host/],
    [['login', '', '-u', 'alice'], 'USAGE_INVALID', /registry host is empty/],
    [['login', 'localhost:0', '-u', 'alice'], 'USAGE_INVALID', /invalid registry host/],
    [['logout', 'https://user:s3cret@reg.example.com'], 'USAGE_INVALID', /contains credentials/],
  ])('bad input %j is %s, never INTERNAL', async (args, code, message) => {
    const r = await runCli(args, { stdin: 'pw\n' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain(`[${code}]`);
    expect(r.stderr).not.toContain('s3cret');
    expect(r.stderr).not.toContain('user:s3cret');
    expect(r.stdout).not.toContain('s3cret');
  });

  it('shows the plain-HTTP URL it used after falling back from https', async () => {
    const r = await runCli(['ls', `${plain.host}/team/nope`, insecure]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`GET http://${plain.host}/v2/team/nope/tags/list`);
    expect(r.stderr).not.toContain('https://');
  });

  it('reports an unknown manifest with exit 5, also as JSON', async () => {
    const human = await runCli(['inspect', `${plain.host}/team/web:nope`, insecure]);
    expect(human.code).toBe(5);
    expect(human.stderr).toMatch(/manifest unknown/);
    const json = await runCli(['inspect', `${plain.host}/team/web:nope`, insecure, '--json']);
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'REGISTRY_MANIFEST_UNKNOWN' } });
  });

  it('reports plain HTTP behind a TLS expectation as a TLS error', async () => {
    const r = await runCli(['inspect', `${plain.host}/team/web:1.4.2`]);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/--tls-verify=false/);
  });
});
