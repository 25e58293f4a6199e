/**
 * Every gate end to end through the CLI against real registries: a promotion blocked (exit 3,
 * nothing written to the target), then allowed once the evidence exists. Each gate guards its own
 * environment so the cases stay independent. The policy service is a scripted FAKE HTTP server.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fetchManifest,
  getFreePort,
  makeImage,
  pushImage,
  startRegistry,
  type RegistryProcess,
  type TestImage,
} from '../helpers/index.js';
import { cosignTag, makeCosignKeyPair, makeCosignSignature } from '../helpers/cosign.js';
import { runCli, type CliResult } from './run-cli.js';

let dev: RegistryProcess;
let prod: RegistryProcess;
let dir: string;
let config: string;
let policy: Server;
let policyAnswer: (body: string) => { status: number; body: string; delayMs?: number } = () => ({
  status: 200,
  body: '{"result":{"allow":false,"reasons":["change freeze"]}}',
});
const cosign = makeCosignKeyPair('ecdsa');
const keys: Record<string, { priv: string; pub: string }> = {};
const REV = 'c'.repeat(40);
let image: TestImage;
let unlabelled: TestImage;

const gantry = (actor: string, ...args: string[]): Promise<CliResult> =>
  runCli([...args, '--config', config], { env: { GANTRY_ACTOR: actor } });
const inProd = async (prefix: string, tag: string): Promise<boolean> =>
  fetchManifest(prod, `${prefix}/web`, tag).then(
    () => true,
    () => false,
  );

beforeAll(async () => {
  [dev, prod] = await Promise.all([startRegistry(), startRegistry()]);
  dir = await mkdtemp(join(tmpdir(), 'gantry-gates-'));
  for (const who of ['alice', 'bob', 'carol']) {
    const pair = generateKeyPairSync('ed25519');
    keys[who] = { priv: join(dir, `${who}.pem`), pub: join(dir, `${who}.pub.pem`) };
    await writeFile(keys[who].priv, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await writeFile(keys[who].pub, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  }
  await writeFile(join(dir, 'cosign.pub'), cosign.publicKeyPem);
  policy = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const a = policyAnswer(body);
      setTimeout(
        () => res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body),
        a.delayMs ?? 0,
      );
    });
  });
  await new Promise<void>((r) => policy.listen(0, '127.0.0.1', r));
  const policyPort = (policy.address() as { port: number }).port;
  const env = (name: string, gate: string) =>
    `  ${name}: { registry: prod, prefix: ${name}, from: [staging], tags: { floating: [prod] }, gates: [ ${gate} ] }\n`;
  config = join(dir, 'gantry.yaml');
  await writeFile(
    config,
    `registries:
  dev: { url: "http://${dev.host}" }
  prod: { url: "http://${prod.host}" }
environments:
  dev: { registry: dev, prefix: team }
  staging: { registry: dev, prefix: team, mode: tag, tag: staging, from: [dev] }
${env('labels', "labels: { required: { org.opencontainers.image.revision: '^[0-9a-f]{40}$' } }")}${env('soak', 'soak: { env: staging, duration: 3s }')}${env('chained', 'previous-env: { env: qa }')}  qa: { registry: prod, prefix: qa, from: [staging] }
${env(
  'vulns',
  'vulnerabilities: { max: { critical: 0, high: 1 }, ignore: [{ id: CVE-2024-0002, reason: not reachable, expires: 2999-01-01 }] }',
)}${env('signed', `signature: { keys: [{ name: release-key, path: ${join(dir, 'cosign.pub')} }] }`)}${env(
      'evidence',
      "evidence: { artifacts: [{ type: application/vnd.dev.gantry.junit+xml, description: test report }], annotations: { change-ticket: '^CHG[0-9]+$' } }",
    )}${env('approved', 'approval: { count: 2, groups: [product-owner, operations], expires: 1h }')}${env('policy', `policy: { url: "http://127.0.0.1:${policyPort}/v1/data/gantry/allow", timeout: 500ms }`)}  override:
    registry: prod
    prefix: override
    from: [staging]
    allowOverride: true
    tags: { floating: [prod] }
    gates: [ { labels: { required: { team: '^payments$' } } } ]
applications: [web]
approvers:
  alice: { groups: [product-owner], key: ${keys.alice!.pub} }
  bob: { groups: [operations], key: ${keys.bob!.pub} }
  carol: { groups: [operations], key: ${keys.carol!.pub} }
`,
  );
  image = makeImage({
    seed: 'gated',
    labels: { 'org.opencontainers.image.version': '1.0.0', 'org.opencontainers.image.revision': REV },
  });
  unlabelled = makeImage({ seed: 'unlabelled', labels: { 'org.opencontainers.image.version': '0.9.0' } });
  await pushImage(dev, 'team/web', image, '1.0.0');
  await pushImage(dev, 'team/web', unlabelled, '0.9.0');
  expect((await gantry('ci', 'promote', 'web', '0.9.0', '--to', 'staging')).code).toBe(0);
  expect((await gantry('ci', 'promote', 'web', '1.0.0', '--to', 'staging')).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await new Promise((r) => policy?.close(r));
  await Promise.all([dev?.stop(), prod?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function expectBlocked(env: string, version: string, reason: RegExp, actor = 'ci'): Promise<void> {
  const r = await gantry(actor, 'promote', 'web', version, '--to', env);
  expect(r.stderr).toMatch(reason);
  expect(r.code).toBe(3);
  expect(await inProd(env, 'prod')).toBe(false);
  expect(await inProd(env, version)).toBe(false);
}

async function expectAllowed(env: string, version: string, actor = 'ci', ...extra: string[]): Promise<void> {
  const r = await gantry(actor, 'promote', 'web', version, '--to', env, ...extra);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(await inProd(env, 'prod')).toBe(true);
}

describe('gates', () => {
  it('labels: blocks an image without the revision label', async () => {
    await expectBlocked(
      'labels',
      '0.9.0',
      /labels \(label org\.opencontainers\.image\.revision is missing\)/,
    );
    const plan = JSON.parse(
      (await gantry('ci', 'plan', 'web', '0.9.0', '--to', 'labels', '--json')).stdout,
    ) as { gates: { gate: string; status: string }[] };
    expect(plan.gates).toEqual([expect.objectContaining({ gate: 'labels', status: 'fail' })]);
    await expectAllowed('labels', '1.0.0');
  });

  it('previous-env: blocks until the digest went through qa', async () => {
    await expectBlocked('chained', '1.0.0', /previous-env \(sha256:\w+ was never promoted to qa\)/);
    expect((await gantry('ci', 'promote', 'web', '1.0.0', '--to', 'qa')).code).toBe(0);
    await expectAllowed('chained', '1.0.0');
  });

  it('soak: blocks until the digest has been in staging long enough', async () => {
    const fresh = makeImage({ seed: 'soaking', labels: { 'org.opencontainers.image.version': '1.0.1' } });
    await pushImage(dev, 'team/web', fresh, '1.0.1');
    expect((await gantry('ci', 'promote', 'web', '1.0.1', '--to', 'staging')).code).toBe(0);
    await expectBlocked('soak', '1.0.1', /soak \(in staging for \d+m?s only; needs 3s/);
    await new Promise((r) => setTimeout(r, 3100));
    await expectAllowed('soak', '1.0.1');
  });

  it('previous-env: a registry it cannot reach is an error, not "never promoted"', async () => {
    const closed = await getFreePort();
    const other = join(dir, 'unreachable.yaml');
    await writeFile(
      other,
      `registries:
  dev: { url: "http://${dev.host}" }
  prod: { url: "http://${prod.host}" }
  gone: { url: "http://127.0.0.1:${closed}" }
environments:
  dev: { registry: dev, prefix: team }
  staging: { registry: dev, prefix: team, mode: tag, tag: staging, from: [dev] }
  elsewhere: { registry: gone, prefix: elsewhere, from: [staging] }
  guarded: { registry: prod, prefix: guarded, from: [staging], gates: [ previous-env: { env: elsewhere } ] }
applications: [web]
`,
    );
    const r = await runCli(['promote', 'web', '1.0.0', '--to', 'guarded', '--config', other], {
      env: { GANTRY_ACTOR: 'ci' },
    });
    expect(r.code).toBe(9);
    expect(r.stderr).toMatch(new RegExp(`127\\.0\\.0\\.1:${closed}.*cannot connect`));
    expect(r.stderr).not.toMatch(/never promoted/);
    expect(await inProd('guarded', '1.0.0')).toBe(false);
  });

  it('vulnerabilities: no report, then too many findings, then a clean report', async () => {
    await expectBlocked('vulns', '1.0.0', /no vulnerability report/);
    const findings = (ids: [string, string][]) =>
      JSON.stringify({
        SchemaVersion: 2,
        CreatedAt: new Date().toISOString(),
        ArtifactName: 'web',
        Results: [
          {
            Target: 'web',
            Vulnerabilities: ids.map(([id, sev]) => ({
              VulnerabilityID: id,
              PkgName: 'openssl',
              InstalledVersion: '3.0.0',
              FixedVersion: '3.0.9',
              Severity: sev,
            })),
          },
        ],
      });
    const bad = join(dir, 'trivy-bad.json');
    await writeFile(
      bad,
      findings([
        ['CVE-2024-0001', 'CRITICAL'],
        ['CVE-2024-0002', 'CRITICAL'],
      ]),
    );
    const attach = await runCli([
      'attach',
      `${dev.host}/team/web:1.0.0`,
      bad,
      '--tls-verify=false',
      '--json',
    ]);
    expect(attach.code).toBe(0);
    expect(JSON.parse(attach.stdout)).toMatchObject({
      artifactType: 'application/vnd.aquasec.trivy.report+json',
    });
    await expectBlocked('vulns', '1.0.0', /critical: 1 > 0 \(CVE-2024-0001\)/);
    const good = join(dir, 'trivy-good.json');
    await writeFile(
      good,
      findings([
        ['CVE-2024-0002', 'CRITICAL'],
        ['CVE-2024-0003', 'HIGH'],
      ]),
    );
    await expectAllowed('vulns', '1.0.0', 'ci', '--report', good);
  });

  it('signature: blocks an unsigned image, allows one signed by the configured key', async () => {
    await expectBlocked('signed', '1.0.0', /no cosign signature found/);
    const wrong = makeCosignSignature({
      digest: image.digest,
      reference: `${dev.host}/team/web`,
      privateKeyPem: makeCosignKeyPair('ecdsa').privateKeyPem,
    });
    await pushImage(dev, 'team/web', wrong, cosignTag(image.digest));
    await expectBlocked('signed', '1.0.0', /signature/);
    const sig = makeCosignSignature({
      digest: image.digest,
      reference: `${dev.host}/team/web`,
      privateKeyPem: cosign.privateKeyPem,
    });
    await pushImage(dev, 'team/web', sig, cosignTag(image.digest));
    await expectAllowed('signed', '1.0.0');
  });

  it('evidence: needs a test report and a change ticket', async () => {
    await expectBlocked('evidence', '1.0.0', /no test report attached/);
    const junit = join(dir, 'junit.xml');
    await writeFile(
      junit,
      '<?xml version="1.0"?>\n<testsuites tests="3" failures="0"><testsuite name="web" tests="3"/></testsuites>\n',
    );
    expect(
      (
        await runCli([
          'attach',
          `${dev.host}/team/web:1.0.0`,
          junit,
          '--tls-verify=false',
          '--annotation',
          'change-ticket=CHG4711',
        ])
      ).code,
    ).toBe(0);
    await expectAllowed('evidence', '1.0.0');
  });

  it('approval: two approvers from both groups, never the requester', async () => {
    await expectBlocked('approved', '1.0.0', /approval \(0 of 2 approvals/, 'bob');
    expect(
      (await gantry('alice', 'approve', 'web', '1.0.0', '--env', 'approved', '--key', keys.alice!.priv)).code,
    ).toBe(0);
    expect(
      (await gantry('bob', 'approve', 'web', '1.0.0', '--env', 'approved', '--key', keys.bob!.priv)).code,
    ).toBe(0);
    // bob asks: his own approval does not count.
    await expectBlocked('approved', '1.0.0', /1 of 2 approvals \(alice\)/, 'bob');
    expect(
      (await gantry('carol', 'approve', 'web', '1.0.0', '--env', 'approved', '--key', keys.carol!.priv)).code,
    ).toBe(0);
    await expectAllowed('approved', '1.0.0', 'bob');
  });

  it('policy: denies, fails closed on timeout, then allows', async () => {
    await expectBlocked('policy', '1.0.0', /change freeze/);
    policyAnswer = () => ({ status: 200, body: '{"result":{"allow":true}}', delayMs: 1500 });
    await expectBlocked('policy', '1.0.0', /no answer within 500 ms \(denied\)/);
    let asked: { input?: { application?: string; digest?: string } } = {};
    policyAnswer = (body) => {
      asked = JSON.parse(body) as typeof asked;
      return { status: 200, body: '{"result":{"allow":true,"reasons":["within the release window"]}}' };
    };
    await expectAllowed('policy', '1.0.0');
    expect(asked.input).toMatchObject({ application: 'web', digest: image.digest });
  });

  it('override: refused where not allowed; recorded where it is', async () => {
    const refused = await gantry(
      'ci',
      'promote',
      'web',
      '0.9.0',
      '--to',
      'labels',
      '--override',
      '--reason',
      'hotfix INC-1',
    );
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/cannot be overridden/);
    await expectBlocked('override', '1.0.0', /label team is missing/);
    await expectAllowed('override', '1.0.0', 'ci', '--override', '--reason', 'hotfix INC-1');
    const v = await runCli([
      'verify',
      `${prod.host}/override/web:prod`,
      '--env',
      'override',
      '--tls-verify=false',
      '--json',
    ]);
    const out = JSON.parse(v.stdout) as {
      attestations: { predicate: { override?: { reason: string }; gates: { status: string }[] } }[];
    };
    expect(out.attestations[0]?.predicate.override).toEqual({ reason: 'hotfix INC-1' });
    expect(out.attestations[0]?.predicate.gates[0]?.status).toBe('overridden');
  });
});
