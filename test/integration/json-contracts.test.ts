/**
 * The `--json` output of every command is a contract (docs/errors.md, schema/output/). Each
 * command runs here against real registries, on success and on failure, and what it prints is
 * validated against its published JSON Schema.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_TEST_USER,
  makeImage,
  makeIndex,
  pushImage,
  startRegistry,
  type RegistryProcess,
  type TestImage,
} from '../helpers/index.js';
import { buildProgram } from '../../src/cli/main.js';
import { COMMANDS, expectMatchesSchema, schemaErrors, schemaNames } from './json-schemas.js';
import { startPromotionFixture, writeKeyPair, type PromotionFixture } from './promotion-fixture.js';
import { runCli, type CliResult } from './run-cli.js';

let fixture: PromotionFixture;
let dev: RegistryProcess;
let prod: RegistryProcess;
let locked: RegistryProcess;
let dir: string;
let config: string;
let v1: TestImage;
let v2: TestImage;
const keys = { alice: '', signing: '', signingPub: '' };
const insecure = '--tls-verify=false';
const covered = new Set<string>();

/** Runs `gantry ARGS --json`, checks the exit code and validates stdout against the command's schema. */
async function contract(command: string, args: readonly string[], code = 0): Promise<unknown> {
  const r: CliResult = await runCli([...args, '--json'], { env: { GANTRY_ACTOR: 'ci-bot' } });
  expect(r.code, `${args.join(' ')}: ${r.stderr}${r.stdout}`).toBe(code);
  expect(r.stdout.trim().length).toBeGreaterThan(0);
  const json: unknown = JSON.parse(r.stdout);
  expectMatchesSchema(command, json);
  covered.add(command);
  return json;
}
const withConfig = (...args: string[]): string[] => [...args, '--config', config];

beforeAll(async () => {
  [fixture, locked] = await Promise.all([
    startPromotionFixture('contracts'),
    startRegistry({ auth: 'htpasswd' }),
  ]);
  ({ dev, prod, dir } = fixture);
  const alice = await writeKeyPair(dir, 'alice', 'ed25519');
  const signing = await writeKeyPair(dir, 'signing', 'ec');
  keys.alice = alice.priv;
  keys.signing = signing.priv;
  keys.signingPub = signing.pub;
  config = await fixture.config(
    `environments:
  dev: { registry: dev, prefix: team }
  staging: { registry: dev, prefix: team, mode: tag, tag: staging, from: [dev] }
  prod:
    registry: prod
    prefix: team
    from: [staging]
    tags: { immutable: ['^v?\\d+\\.\\d+\\.\\d+$'], floating: [latest, prod] }
    gates:
      - approval: { count: 1, groups: [ops] }
applications: [web, api]
sync:
  mirror: { from: { registry: dev, repositories: [team/*], tags: ["1.*"] }, to: [{ registry: prod, prefix: mirror }] }
attestation: { key: ${keys.signing} }
approvers:
  alice: { groups: [ops], key: ${alice.pub} }
`,
  );
  const labelled = (seed: string, version: string) =>
    makeImage({ seed, labels: { 'org.opencontainers.image.version': version } });
  v1 = labelled('contracts-web-1', '1.0.0');
  v2 = labelled('contracts-web-2', '1.1.0');
  await pushImage(dev, 'team/web', v1, '1.0.0');
  await pushImage(dev, 'team/web', v2, '1.1.0');
  await pushImage(dev, 'team/api', labelled('contracts-api-1', '3.0.0'), '3.0.0');
  const index = makeIndex([
    makeImage({ seed: 'contracts-amd', platform: { os: 'linux', architecture: 'amd64' } }),
    makeImage({ seed: 'contracts-arm', platform: { os: 'linux', architecture: 'arm64' }, format: 'oci' }),
  ]);
  await pushImage(dev, 'team/multi', index, 'v1');
});
afterAll(async () => {
  await Promise.all([fixture?.stop(), locked?.stop()]);
});

describe('registry commands', () => {
  it('inspect: an image, an index, and an unknown tag', async () => {
    await contract('inspect', ['inspect', `${dev.host}/team/web:1.0.0`, insecure]);
    await contract('inspect', ['inspect', `${dev.host}/team/multi:v1`, insecure]);
    await contract('inspect', ['inspect', `${dev.host}/team/web:nope`, insecure], 5);
  });

  it('ls', async () => {
    await contract('ls', ['ls', `${dev.host}/team/web`, insecure]);
    await contract('ls', ['ls', `${dev.host}/team/none`, insecure], 5);
  });

  it('copy: an image, a dry run, and a repository', async () => {
    await contract('copy', ['copy', `${dev.host}/team/web:1.0.0`, `${dev.host}/mirror/web:1.0.0`, insecure]);
    await contract('copy', [
      'copy',
      `${dev.host}/team/web:1.1.0`,
      `${dev.host}/mirror/web:1.1.0`,
      insecure,
      '--dry-run',
    ]);
    await contract('copy', [
      'copy',
      `${dev.host}/team/web`,
      `${dev.host}/mirror/all`,
      insecure,
      '--all-tags',
    ]);
    await contract('copy', ['copy', `${dev.host}/team/web:nope`, `${dev.host}/mirror/web`, insecure], 5);
  });

  it('attach', async () => {
    const file = join(dir, 'tests.json');
    await writeFile(file, '{"passed": 12, "failed": 0}');
    await contract('attach', [
      'attach',
      `${dev.host}/team/web:1.0.0`,
      file,
      insecure,
      '--artifact-type',
      'application/vnd.example.test-report+json',
      '--annotation',
      'org.example.suite=unit',
    ]);
  });

  it('login and logout', async () => {
    const authfile = join(dir, 'auth.json');
    const args = ['login', locked.host, insecure, '--authfile', authfile, '-u', DEFAULT_TEST_USER.username];
    const ok = await runCli([...args, '--json'], { stdin: DEFAULT_TEST_USER.password });
    expect(ok.code).toBe(0);
    expectMatchesSchema('login', JSON.parse(ok.stdout));
    const bad = await runCli([...args, '--json'], { stdin: 'wrong' });
    expect(bad.code).toBe(6);
    expectMatchesSchema('login', JSON.parse(bad.stdout));
    covered.add('login');
    await contract('logout', ['logout', locked.host, '--authfile', authfile]);
    await contract('logout', ['logout', locked.host, '--authfile', authfile]);
  });
});

describe('pipeline commands', () => {
  it('plan and promote to a tag-mode environment', async () => {
    await contract('plan', withConfig('plan', 'web', '1.0.0', '--to', 'staging'));
    await contract('promote', withConfig('promote', 'web', '1.0.0', '--to', 'staging'));
    await contract('promote', withConfig('promote', 'web', '1.0.0', '--to', 'staging'));
  });

  it('plan and promote past a pending approval gate', async () => {
    await contract('plan', withConfig('plan', 'web', '1.0.0', '--to', 'prod'), 3);
    await contract('promote', withConfig('promote', 'web', '1.0.0', '--to', 'prod'), 3);
    await contract(
      'approve',
      withConfig('approve', 'web', '1.0.0', '--env', 'prod', '--key', keys.alice, '--actor', 'alice'),
    );
    await contract('promote', withConfig('promote', 'web', '1.0.0', '--to', 'prod'));
  });

  it('plans and promotes a release', async () => {
    const release = join(dir, 'release.yaml');
    await writeFile(release, 'name: 2026.12.1\napplications:\n  web: 1.1.0\n  api: 3.0.0\n');
    await contract('plan', withConfig('plan', '--release', release, '--to', 'staging'));
    await contract('promote', withConfig('promote', '--release', release, '--to', 'staging'));
  });

  it('status, history, diff, ref', async () => {
    await contract('status', withConfig('status'));
    await contract('history', withConfig('history', 'web', '--env', 'prod'));
    await contract('diff', withConfig('diff', 'staging', 'prod'));
    await contract('ref', withConfig('ref', 'web', '--env', 'prod'));
    await contract('ref', withConfig('ref', 'nope', '--env', 'prod'), 2);
  });

  it('pin, and pin --check', async () => {
    const deployment = join(dir, 'deployment.yaml');
    const text = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  template:
    spec:
      containers:
        - name: web
          image: ${prod.host}/team/web:1.0.0
`;
    await writeFile(deployment, text);
    await contract('pin', withConfig('pin', '--env', 'prod', '--check', deployment), 3);
    await contract('pin', withConfig('pin', '--env', 'prod', deployment));
    await contract('pin', withConfig('pin', '--env', 'prod', '--check', deployment));
  });

  it('rollback', async () => {
    await contract(
      'approve',
      withConfig('approve', 'web', '1.1.0', '--env', 'prod', '--key', keys.alice, '--actor', 'alice'),
    );
    await contract('promote', withConfig('promote', 'web', '1.1.0', '--to', 'prod'));
    await contract('rollback', withConfig('rollback', 'web', '--env', 'prod'));
    await contract(
      'rollback',
      withConfig('rollback', 'web', '--env', 'prod', '--to', `sha256:${'f'.repeat(64)}`),
      3,
    );
  });

  it('verify', async () => {
    await contract('verify', [
      'verify',
      `${prod.host}/team/web:1.0.0`,
      '--env',
      'prod',
      insecure,
      '--key',
      keys.signingPub,
    ]);
    await contract('verify', ['verify', `${dev.host}/team/web:1.0.0`, '--env', 'prod', insecure], 5);
  });
});

describe('lifecycle commands', () => {
  it('sync: a dry run, a run, and an unknown job', async () => {
    await contract('sync', withConfig('sync', '--dry-run'));
    await contract('sync', withConfig('sync', 'mirror'));
    await contract('sync', withConfig('sync', 'nope'), 2);
  });

  it('gc: a dry run plan, and a protected environment refused', async () => {
    const plan = (await contract('gc', withConfig('gc', '--env', 'dev', '--keep', '0'))) as {
      dryRun: boolean;
    };
    expect(plan.dryRun).toBe(true);
    await contract('gc', withConfig('gc', '--env', 'prod'), 3);
  });
});

describe('errors', () => {
  it('usage and configuration errors are error objects', async () => {
    await contract('error', ['plan', 'web', '1.0.0'], 2);
    await contract('error', ['status', '--config', join(dir, 'missing.yaml')], 2);
    await contract('error', ['inspect', 'Bad//Ref'], 2);
    // reject works against a server only (test/integration/cli-server.test.ts); without one it is a usage error.
    await contract('reject', ['reject', 'p_1', '--reason', 'no'], 2);
    // deployed reports to a server (test/integration/serve-deployments.test.ts); without one it is a usage error.
    await contract(
      'deployed',
      ['deployed', '--env', 'prod', '--target', 'a', `web@sha256:${'a'.repeat(64)}`],
      2,
    );
  });

  it('every command with --json was run against its schema', () => {
    const withJson = buildProgram()
      .commands.filter((c) => c.options.some((o) => o.long === '--json'))
      .map((c) => c.name());
    expect([...withJson].sort()).toEqual([...COMMANDS].sort());
    expect([...covered].sort()).toEqual([...COMMANDS, 'error'].sort());
    expect(schemaNames().sort()).toEqual([...COMMANDS, 'defs', 'error'].sort());
  });

  it('the schemas refuse output that breaks the contract', () => {
    expect(schemaErrors('status', { cells: [{ environment: 'prod' }] })).not.toEqual([]);
    expect(schemaErrors('ls', { repository: 'r', tags: 'latest' })).not.toEqual([]);
    expect(schemaErrors('sync', [{ kind: 'sync', name: 'm', items: [] }])).not.toEqual([]);
    expect(schemaErrors('error', { error: { code: 'USAGE_INVALID' } })).not.toEqual([]);
    expect(schemaErrors('promote', { status: 'completed' })).not.toEqual([]);
    expect(schemaErrors('inspect', { digest: 'sha256:abc' })).not.toEqual([]);
  });
});
