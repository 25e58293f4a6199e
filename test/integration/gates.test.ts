/**
 * Every gate end to end through the CLI against real registries: a promotion blocked (exit 3,
 * nothing written to the target), then allowed once the evidence exists. Each gate guards its own
 * environment so the cases stay independent. The policy service is a scripted FAKE HTTP server.
 */
import { createServer, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
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
import {
  gantryAs,
  startPromotionFixture,
  writeKeyPair,
  type KeyFiles,
  type PromotionFixture,
} from './promotion-fixture.js';
import { runCli, type CliResult } from './run-cli.js';

let fixture: PromotionFixture;
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
const keys: Record<string, KeyFiles> = {};
const REV = 'c'.repeat(40);
let image: TestImage;
let unlabelled: TestImage;

const gantry = (actor: string, ...args: string[]): Promise<CliResult> =>
  gantryAs(() => config, actor)(...args);
const inProd = async (prefix: string, tag: string): Promise<boolean> =>
  fetchManifest(prod, `${prefix}/web`, tag).then(
    () => true,
    () => false,
  );

beforeAll(async () => {
  fixture = await startPromotionFixture('gates');
  ({ dev, prod, dir } = fixture);
  for (const who of ['alice', 'bob', 'carol']) keys[who] = await writeKeyPair(dir, who, 'ed25519');
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
  config = await fixture.config(
    `environments:
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
  await fixture?.stop();
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
    await expectBlocked('chained', '1.0.0', /previous-env \(sha256:\w+ was never promoted to qa[;)]/);
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
    const other = await fixture.config(
      `environments:
  dev: { registry: dev, prefix: team }
  staging: { registry: dev, prefix: team, mode: tag, tag: staging, from: [dev] }
  elsewhere: { registry: gone, prefix: elsewhere, from: [staging] }
  guarded: { registry: prod, prefix: guarded, from: [staging], gates: [ previous-env: { env: elsewhere } ] }
applications: [web]
`,
      { name: 'unreachable.yaml', hosts: { dev: dev.host, prod: prod.host, gone: `127.0.0.1:${closed}` } },
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
    const findings = (ids: [string, string][], digest?: string) =>
      JSON.stringify({
        SchemaVersion: 2,
        CreatedAt: new Date().toISOString(),
        ArtifactName: 'web',
        ...(digest !== undefined && { Metadata: { RepoDigests: [`${dev.host}/team/web@${digest}`] } }),
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
    const clean = (digest?: string) =>
      findings(
        [
          ['CVE-2024-0002', 'CRITICAL'],
          ['CVE-2024-0003', 'HIGH'],
        ],
        digest,
      );
    // Issue 9.5: a clean report about another image, or one naming no image, proves nothing.
    const elsewhere = join(dir, 'trivy-elsewhere.json');
    await writeFile(elsewhere, clean(unlabelled.digest));
    const refused = await gantry(
      'ci',
      'plan',
      'web',
      '1.0.0',
      '--to',
      'vulns',
      '--report',
      elsewhere,
      '--json',
    );
    expect(refused.code).toBe(3);
    const gate = (JSON.parse(refused.stdout) as { gates: { status: string; reasons: string[] }[] }).gates[0];
    expect(gate?.status).toBe('fail');
    expect(gate?.reasons[0]).toBe(
      `--report ${elsewhere} is about ${unlabelled.digest}, not ${image.digest}: refused`,
    );
    const anonymous = join(dir, 'trivy-anonymous.json');
    await writeFile(anonymous, clean());
    const unbound = await gantry('ci', 'promote', 'web', '1.0.0', '--to', 'vulns', '--report', anonymous);
    expect(unbound.code).toBe(3);
    expect(unbound.stderr).toMatch(/--report .*trivy-anonymous\.json names no image digest/);
    expect(await inProd('vulns', 'prod')).toBe(false);
    await writeFile(good, clean(image.digest));
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

  it('approval: identities are exact (issue 9.3)', async () => {
    const next = makeImage({ seed: 'identity', labels: { 'org.opencontainers.image.version': '2.0.0' } });
    await pushImage(dev, 'team/web', next, '2.0.0');
    expect((await gantry('ci', 'promote', 'web', '2.0.0', '--to', 'staging')).code).toBe(0);
    const approve = (actor: string, key: string, ...extra: string[]) =>
      gantry(actor, 'approve', 'web', '2.0.0', '--env', 'approved', '--key', key, ...extra);
    // A key that is no configured approver's is refused, and nothing is attached.
    const dave = await writeKeyPair(dir, 'dave', 'ed25519');
    const stranger = await approve('dave', dave.priv);
    expect(stranger.code).toBe(3);
    expect(stranger.stderr).toMatch(/not the key of any approver .*\[PROMOTION_APPROVER_UNKNOWN\]/);
    // bob's key with alice's name: refused when claimed with --actor, recorded as bob otherwise.
    const lie = await approve('alice', keys.bob!.priv, '--actor', 'alice');
    expect(lie.code).toBe(2);
    expect(lie.stderr).toMatch(/--actor alice does not own the key/);
    const asBob = await approve('alice', keys.bob!.priv, '--json');
    expect(asBob.code).toBe(0);
    expect((JSON.parse(asBob.stdout) as { approver: string }).approver).toBe('bob');
    expect((await approve('alice', keys.alice!.priv)).code).toBe(0);
    // alice asks as "Alice": her own approval still does not count.
    const plan = await gantry('ci', 'plan', 'web', '2.0.0', '--to', 'approved', '--actor', 'Alice', '--json');
    expect(plan.code).toBe(3);
    const gate = (JSON.parse(plan.stdout) as { gates: { status: string; reasons: string[] }[] }).gates[0];
    expect(gate?.status).toBe('pending');
    expect(gate?.reasons).toContain('ignored approval by alice: the requester cannot approve');
    expect(gate?.reasons[0]).toBe('1 of 2 approvals (bob)');
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
    // Issue 9.6: with no key at all, verify fails unless unsigned is asked for explicitly.
    const unverified = await runCli([
      'verify',
      `${prod.host}/override/web:prod`,
      '--env',
      'override',
      '--tls-verify=false',
    ]);
    expect(unverified.code).toBe(8);
    expect(unverified.stderr).toMatch(/no trusted public key .*--allow-unsigned/);
    const v = await runCli([
      'verify',
      `${prod.host}/override/web:prod`,
      '--env',
      'override',
      '--tls-verify=false',
      '--allow-unsigned',
      '--json',
    ]);
    expect(v.code).toBe(0);
    const out = JSON.parse(v.stdout) as {
      attestations: { predicate: { override?: { reason: string }; gates: { status: string }[] } }[];
    };
    expect(out.attestations[0]?.predicate.override).toEqual({ reason: 'hotfix INC-1' });
    expect(out.attestations[0]?.predicate.gates[0]?.status).toBe('overridden');
  });
});

describe('promotion records are trusted only when signed (issue 10.3) and read-only commands need no key (issue 9.6)', () => {
  let signed: string;
  let pub: string;
  let priv: string;
  const trusted = (env: Record<string, string>, ...args: string[]): Promise<CliResult> =>
    runCli([...args, '--config', signed], { env: { GANTRY_ACTOR: 'ci', ...env } });

  beforeAll(async () => {
    const attest = await writeKeyPair(dir, 'attest', 'ec');
    priv = attest.privatePem;
    pub = attest.pub;
    signed = await fixture.config(
      `environments:
  dev: { registry: dev, prefix: trust }
  staging: { registry: dev, prefix: trust, mode: tag, tag: staging, from: [dev] }
  uat: { registry: prod, prefix: trust-uat, from: [staging], tags: { floating: [uat] } }
  prod:
    registry: prod
    prefix: trust
    from: [dev]
    gates: [ { previous-env: { env: staging } }, { soak: { env: staging, duration: 24h } } ]
applications: [web]
attestation: { keyEnv: GANTRY_TEST_ATTESTATION_KEY, publicKey: ${pub} }
`,
      { name: 'signed.yaml' },
    );
    await pushImage(dev, 'trust/web', makeImage({ seed: 'forged' }), '3.0.0');
    await pushImage(dev, 'trust/web', makeImage({ seed: 'honest' }), '3.1.0');
  });

  it('a promotion record forged with gantry attach passes neither previous-env nor soak, nor shows in history', async () => {
    const claim = join(dir, 'claim.json');
    await writeFile(claim, '{"promoted":true}');
    const forged = await runCli([
      'attach',
      `${dev.host}/trust/web:3.0.0`,
      claim,
      '--tls-verify=false',
      '--artifact-type',
      'application/vnd.dev.gantry.promotion.v1+json',
      '--annotation',
      'dev.gantry.promotion.environment=staging',
      '--annotation',
      'dev.gantry.promotion.application=web',
      '--annotation',
      'org.opencontainers.image.created=2020-01-01T00:00:00Z',
    ]);
    expect(forged.code).toBe(0);
    // No private key in the environment: plan only reads, the public key verifies.
    const plan = await trusted({}, 'plan', 'web', '3.0.0', '--to', 'prod', '--json');
    expect(plan.stderr).toBe('');
    expect(plan.code).toBe(3);
    const gates = (
      JSON.parse(plan.stdout) as { gates: { gate: string; status: string; reasons: string[] }[] }
    ).gates;
    expect(gates.map((g) => `${g.gate} ${g.status}`)).toEqual(['previous-env fail', 'soak fail']);
    expect(gates[0]?.reasons[1]).toMatch(
      /^ignored promotion record sha256:\w+ for staging: it has no DSSE envelope$/,
    );
    const history = await trusted({}, 'history', 'web', '--env', 'staging', '--json');
    expect(history.code).toBe(0);
    expect((JSON.parse(history.stdout) as { entries: unknown[] }).entries).toEqual([]);
    // Nor does it make the candidate count as having reached staging, the source of uat.
    const fromStaging = await trusted({}, 'plan', 'web', '3.0.0', '--to', 'uat');
    expect(fromStaging.code).toBe(3);
    expect(fromStaging.stderr).toMatch(/was never promoted to staging/);
  });

  it('read-only commands run without the private key; commands that sign refuse before writing', async () => {
    for (const args of [
      ['status', '--json'],
      ['history', 'web', '--env', 'staging'],
    ]) {
      const r = await trusted({}, ...args);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const refused = await trusted({}, 'promote', 'web', '3.1.0', '--to', 'staging');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /attestation\.keyEnv: environment variable GANTRY_TEST_ATTESTATION_KEY is not set/,
    );
    await expect(fetchManifest(dev, 'trust/web', 'staging')).rejects.toThrow();
    const done = await trusted(
      { GANTRY_TEST_ATTESTATION_KEY: priv },
      'promote',
      'web',
      '3.1.0',
      '--to',
      'staging',
    );
    expect(done.code).toBe(0);
    const history = await trusted({}, 'history', 'web', '--env', 'staging', '--json');
    expect(
      (JSON.parse(history.stdout) as { entries: { version?: string }[] }).entries.map((e) => e.version),
    ).toEqual(['3.1.0']);
    const ref = await trusted({}, 'ref', 'web', '--env', 'staging');
    expect(ref.stderr).toBe('');
    expect(ref.stdout.trim()).toMatch(new RegExp(`^${dev.host}/trust/web@sha256:[0-9a-f]{64}$`));
  });

  it('rollback goes only to a digest with a signed record, never to one with a forged record', async () => {
    const key = { GANTRY_TEST_ATTESTATION_KEY: priv };
    expect((await trusted(key, 'promote', 'web', '3.1.0', '--to', 'uat')).code).toBe(0);
    const intruder = makeImage({ seed: 'intruder' });
    await pushImage(prod, 'trust-uat/web', intruder, '0.0.1');
    const claim = join(dir, 'uat-claim.json');
    await writeFile(claim, '{"promoted":true}');
    const forged = await runCli([
      'attach',
      `${prod.host}/trust-uat/web@${intruder.digest}`,
      claim,
      '--tls-verify=false',
      '--artifact-type',
      'application/vnd.dev.gantry.promotion.v1+json',
      '--annotation',
      'dev.gantry.promotion.environment=uat',
      '--annotation',
      'dev.gantry.promotion.application=web',
      '--annotation',
      'dev.gantry.promotion.kind=promotion',
      '--annotation',
      'org.opencontainers.image.created=2020-01-01T00:00:00Z',
    ]);
    expect(forged.code).toBe(0);
    const r = await trusted(key, 'rollback', 'web', '--env', 'uat', '--to', intruder.digest);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/was never promoted to uat/);
    const uat = await fetchManifest(prod, 'trust-uat/web', 'uat');
    expect(uat.digest).not.toBe(intruder.digest);
  });

  it('verify uses the configured public key, and its registry settings, by default', async () => {
    const v = await runCli([
      'verify',
      `${dev.host}/trust/web:staging`,
      '--env',
      'staging',
      '--config',
      signed,
    ]);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/promoted to staging, signature verified/);
    const forged = await runCli([
      'verify',
      `${dev.host}/trust/web:3.0.0`,
      '--env',
      'staging',
      '--config',
      signed,
    ]);
    expect(forged.code).toBe(8);
  });

  it('verify takes TLS and credentials from gantry.yaml (issue 9 item 10, verify)', async () => {
    const secure = await startRegistry({ tls: true, auth: 'htpasswd' });
    try {
      const user = secure.users[0]!;
      const file = join(dir, 'secure.yaml');
      await writeFile(
        file,
        `registries:
  dev: { url: "http://${dev.host}" }
  secure:
    url: "https://${secure.host}"
    tls: { ca: ${secure.caFile} }
    credentials: { env: GANTRY_TEST_SECURE_CREDS }
environments:
  dev: { registry: dev, prefix: trust }
  vault: { registry: secure, prefix: vault, from: [dev] }
applications: [web]
attestation: { keyEnv: GANTRY_TEST_ATTESTATION_KEY, publicKey: ${pub} }
`,
      );
      const env = { GANTRY_TEST_SECURE_CREDS: `${user.username}:${user.password}` };
      const promoted = await runCli(['promote', 'web', '3.1.0', '--to', 'vault', '--config', file], {
        env: { ...env, GANTRY_ACTOR: 'ci', GANTRY_TEST_ATTESTATION_KEY: priv },
      });
      expect(promoted.stderr).toBe('');
      expect(promoted.code).toBe(0);
      const v = await runCli(
        ['verify', `${secure.host}/vault/web:3.1.0`, '--env', 'vault', '--config', file],
        {
          env,
        },
      );
      expect(v.stderr).toBe('');
      expect(v.code).toBe(0);
      expect(v.stdout).toMatch(/promoted to vault, signature verified/);
    } finally {
      await secure.stop();
    }
  });

  it('without a key, plan says the history is unauthenticated', async () => {
    const r = await gantry('ci', 'plan', 'web', '1.0.0', '--to', 'chained', '--json');
    const gates = (JSON.parse(r.stdout) as { gates: { reasons: string[] }[] }).gates;
    expect(gates[0]?.reasons.join(' | ')).toMatch(
      /promotion history is unauthenticated: no attestation key is configured/,
    );
  });
});
