/**
 * `GET /api/v1/applications/:app/candidates/:digest?env=` in process (Fastify `inject()`) over a
 * PGlite store, the promotion runtime (not started: promotions stay waiting) and a real registry:
 * a candidate with a cosign signature, an SPDX SBOM and a Trivy report as referrers, a waiting
 * promotion of it approved through the API. Every field is checked, and that reading it writes
 * nothing (no ledger entry, no tag in the target). A multi-platform candidate's size and labels
 * come from its platform images. 400 for a malformed digest, 404 for one that is no candidate.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, loadSigner, type App } from '../../src/app.js';
import type { Digest } from '../../src/core/index.js';
import { PromotionRuntime, storeApprovals } from '../../src/jobs/index.js';
import { buildServer, type GantryServer } from '../../src/server/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { injectApiToken, parseTestConfig } from '../helpers/in-process.js';
import { cosignTag, makeCosignKeyPair, makeCosignSignature } from '../helpers/cosign.js';
import {
  makeArtifact,
  makeImage,
  makeIndex,
  pushImage,
  startRegistry,
  type RegistryProcess,
  type TestImage,
} from '../helpers/index.js';

const BOOTSTRAP = `gty_${'e'.repeat(64)}`;
const TRIVY = 'application/vnd.aquasec.trivy.report+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

const image = makeImage({
  seed: 'details-web',
  labels: { 'org.opencontainers.image.version': '1.0.0', team: 'payments' },
  annotations: { 'org.opencontainers.image.source': 'https://git.example/web' },
  layers: [
    { size: 1500, seed: 'details-a' },
    { size: 700, seed: 'details-b' },
  ],
});
const multi = makeIndex([
  makeImage({
    seed: 'details-amd',
    labels: { team: 'payments' },
    platform: { os: 'linux', architecture: 'amd64' },
  }),
  makeImage({
    seed: 'details-arm',
    labels: { team: 'other' },
    platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
  }),
]);
const cosign = makeCosignKeyPair('ecdsa');
const dave = makeCosignKeyPair('ecdsa');

let registry: RegistryProcess;
let root: string;
let store: Store;
let app: App;
let runtime: PromotionRuntime;
let server: GantryServer;
const tokens: Record<string, { id: string; token: string }> = {};
const subject = { mediaType: image.mediaType, digest: image.digest, size: image.size };
let signatureDigest = '';
let sbomDigest = '';
let reportDigest = '';

function trivyReport(findings: [string, string, string][]): string {
  return JSON.stringify({
    SchemaVersion: 2,
    CreatedAt: '2026-05-30T10:00:00Z',
    ArtifactName: 'web',
    Metadata: { RepoDigests: [`${registry.host}/team/web@${image.digest}`] },
    Results: [
      {
        Target: 'web',
        Vulnerabilities: findings.map(([id, pkg, sev]) => ({
          VulnerabilityID: id,
          PkgName: pkg,
          InstalledVersion: '1.0',
          FixedVersion: '1.1',
          Severity: sev,
        })),
      },
    ],
  });
}

async function call(url: string, token?: string, method: 'GET' | 'POST' = 'GET', body?: unknown) {
  const res = await server.http.inject({
    method,
    url,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    ...(body !== undefined && { payload: body as Record<string, unknown> }),
  });
  return { status: res.statusCode, body: res.json<Record<string, unknown>>(), text: res.body };
}

beforeAll(async () => {
  registry = await startRegistry();
  root = await mkdtemp(join(tmpdir(), 'gantry-candidate-details-'));
  await writeFile(join(root, 'cosign.pub'), cosign.publicKeyPem);
  await writeFile(join(root, 'dave.pub'), dave.publicKeyPem);
  await pushImage(registry, 'team/web', image, '1.0.0');
  await pushImage(registry, 'team/web', multi, '2.0.0');
  const config = parseTestConfig(
    `registries:
  dev: { url: "http://${registry.host}" }
environments:
  dev: { registry: dev, prefix: team }
  prod:
    registry: dev
    prefix: prod
    from: [dev]
    tags: { floating: [prod] }
    gates:
      - signature: { keys: [{ name: release-key, path: ${join(root, 'cosign.pub')} }] }
      - vulnerabilities: { max: { critical: 0 } }
      - approval: { count: 1 }
applications: [web, api]
approvers:
  dave: { groups: [ops], key: ${join(root, 'dave.pub')} }
teams:
  payments: [web]
  platform: [api]
`,
  );
  store = await openStore({ dataDir: join(root, 'data') });
  app = createApp({
    config,
    env: {},
    authFile: '/nonexistent/auth.json',
    approvals: storeApprovals(() => store.db),
  });
  // Referrers are attached as gantry attach does (keeping the tag-schema index of a registry
  // without the referrers API up to date).
  const attach = async (artifact: TestImage): Promise<string> => {
    await app.registry.attach(
      { registry: registry.host, repository: 'team/web' },
      {
        manifest: artifact.manifest,
        mediaType: artifact.mediaType,
        blobs: artifact.blobs as unknown as ReadonlyMap<Digest, Buffer>,
      },
    );
    return artifact.digest;
  };
  const sig = makeCosignSignature({
    digest: image.digest,
    reference: `${registry.host}/team/web`,
    privateKeyPem: cosign.privateKeyPem,
    subject,
  });
  signatureDigest = await attach(sig);
  // Under cosign's tag too, where the signature gate looks.
  await pushImage(registry, 'team/web', sig, cosignTag(image.digest));
  const sbom = makeArtifact({
    subject,
    artifactType: 'application/spdx+json',
    content: JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'web' }),
    contentMediaType: 'application/spdx+json',
  });
  sbomDigest = await attach(sbom);
  const older = makeArtifact({
    subject,
    artifactType: TRIVY,
    content: trivyReport([['CVE-2020-0001', 'zlib', 'LOW']]),
    contentMediaType: 'application/json',
    annotations: { 'org.opencontainers.image.created': '2026-05-01T00:00:00Z' },
  });
  await attach(older);
  const report = makeArtifact({
    subject,
    artifactType: TRIVY,
    content: trivyReport([
      ['CVE-2024-0001', 'openssl', 'CRITICAL'],
      // The same finding in two targets counts once (as the gate counts it).
      ['CVE-2024-0001', 'openssl', 'CRITICAL'],
      ['CVE-2024-0002', 'openssl', 'HIGH'],
      ['CVE-2024-0003', 'curl', 'HIGH'],
      ['CVE-2024-0004', 'curl', 'MEDIUM'],
      ['CVE-2024-0005', 'zlib', 'LOW'],
      ['CVE-2024-0006', 'zlib', 'UNKNOWN'],
    ]),
    contentMediaType: 'application/json',
    annotations: { 'org.opencontainers.image.created': '2026-05-30T10:00:00Z' },
  });
  reportDigest = await attach(report);

  // Not started: promotions stay waiting.
  runtime = new PromotionRuntime({ store, app: () => app });
  server = await buildServer({ store, app: () => app, desk: runtime, version: 'test' });
  await server.tokens.seedBootstrap(BOOTSTRAP, { actor: 'test', time: new Date() });
  const specs: Record<string, Record<string, unknown>> = {
    ci: { name: 'ci-web', roles: ['ci'] },
    viewer: { name: 'viewer', roles: ['viewer'], teams: ['payments'] },
    platform: { name: 'platform-viewer', roles: ['viewer'], teams: ['platform'] },
    carol: { name: 'carol', roles: ['approver:prod'] },
  };
  for (const [key, spec] of Object.entries(specs))
    tokens[key] = await injectApiToken(server, BOOTSTRAP, spec);
}, 120_000);

afterAll(async () => {
  await runtime?.stop();
  await server?.http.close();
  await app?.close();
  await store?.close();
  if (root) await rm(root, { recursive: true, force: true });
  await registry?.stop();
}, 60_000);

const url = (digest: string, env = 'prod', appName = 'web') =>
  `/api/v1/applications/${appName}/candidates/${digest}?env=${env}`;

describe('GET /api/v1/applications/:app/candidates/:digest', () => {
  it('shows everything an approver reviews, and writes nothing', async () => {
    const requested = await call('/api/v1/promotions', tokens.ci!.token, 'POST', {
      app: 'web',
      version: '1.0.0',
      to: 'prod',
    });
    expect(requested.status, requested.text).toBe(202);
    const id = (requested.body as { id: string }).id;
    const approved = await call(`/api/v1/promotions/${id}/approvals`, tokens.carol!.token, 'POST', {
      comment: 'looks good',
    });
    expect(approved.status, approved.text).toBe(201);
    const ledgerBefore = await call('/api/v1/ledger?limit=1000', BOOTSTRAP);

    const res = await call(url(image.digest), tokens.viewer!.token);
    expect(res.status, res.text).toBe(200);
    const body = res.body as Record<string, unknown> & {
      referrers: { digest: string; kind: string }[];
      approvals: { time: string }[];
      promotions: { requestedAt: string }[];
    };
    const layerBytes = image.layers.reduce((sum, l) => sum + l.size, 0);
    const size = image.size + image.config.length + layerBytes;
    expect(body).toMatchObject({
      application: 'web',
      environment: 'prod',
      from: 'dev',
      digest: image.digest,
      version: '1.0.0',
      tags: ['1.0.0'],
      mediaType: OCI_MANIFEST,
      size,
      labels: { 'org.opencontainers.image.version': '1.0.0', team: 'payments' },
      annotations: { 'org.opencontainers.image.source': 'https://git.example/web' },
      platforms: [{ platform: 'linux/amd64', digest: image.digest, size }],
      vulnerabilities: {
        scanner: 'trivy',
        createdAt: '2026-05-30T10:00:00Z',
        critical: 1,
        high: 2,
        medium: 1,
        low: 1,
        unknown: 1,
        reportDigest,
      },
      approvals: [{ approver: 'carol', decision: 'approved', comment: 'looks good', source: 'api' }],
      promotions: [{ id, state: 'requested', environment: 'prod', requestedBy: `ci-web (${tokens.ci!.id})` }],
    });
    expect(Date.parse(body.approvals[0]!.time)).not.toBeNaN();
    expect(Date.parse(body.promotions[0]!.requestedAt)).not.toBeNaN();
    const kinds = Object.fromEntries(body.referrers.map((r) => [r.digest, r.kind]));
    expect(kinds[signatureDigest]).toBe('signature');
    expect(kinds[sbomDigest]).toBe('sbom');
    expect(kinds[reportDigest]).toBe('vulnerability-report');
    expect(body.referrers).toHaveLength(4);
    expect(body.referrers.find((r) => r.digest === reportDigest)).toMatchObject({
      mediaType: OCI_MANIFEST,
      artifactType: TRIVY,
      annotations: { 'org.opencontainers.image.created': '2026-05-30T10:00:00Z' },
    });
    // The gates of prod, evaluated now as the waiting promotion's requester asked.
    expect(body.gates).toEqual([
      {
        name: 'signature',
        status: 'pass',
        reasons: expect.arrayContaining([`signed by key release-key (referrer ${signatureDigest})`]),
      },
      {
        name: 'vulnerabilities',
        status: 'fail',
        reasons: expect.arrayContaining([
          'critical: 1 > 0 (CVE-2024-0001)',
          expect.stringContaining(`referrer ${reportDigest}`),
        ]),
      },
      { name: 'approval', status: 'pass', reasons: ['approved by carol'] },
    ]);
    // Nothing was written: no ledger entry, nothing in prod.
    const ledgerAfter = await call('/api/v1/ledger?limit=1000', BOOTSTRAP);
    expect((ledgerAfter.body as { entries: unknown[] }).entries).toHaveLength(
      (ledgerBefore.body as { entries: unknown[] }).entries.length,
    );
    expect(await app.registry.tags({ registry: registry.host, repository: 'prod/web' })).toEqual([]);
  });

  it('sums the platform images of an index, takes labels from its first platform, shows a signed approval', async () => {
    const signed = await app.promotions.approve({
      app: 'web',
      reference: multi.digest,
      environment: 'prod',
      signer: loadSigner(dave.privateKeyPem, 'dave'),
      approver: 'dave',
      comment: 'ship it',
    });
    const res = await call(url(multi.digest), tokens.viewer!.token);
    expect(res.status, res.text).toBe(200);
    const sizes = multi.images.map(
      (i) => i.size + i.config.length + i.layers.reduce((sum, l) => sum + l.size, 0),
    );
    expect(res.body).toMatchObject({
      digest: multi.digest,
      version: '2.0.0',
      mediaType: multi.mediaType,
      size: sizes[0]! + sizes[1]!,
      labels: { team: 'payments' },
      platforms: [
        { platform: 'linux/amd64', digest: multi.images[0]!.digest, size: sizes[0] },
        { platform: 'linux/arm64/v8', digest: multi.images[1]!.digest, size: sizes[1] },
      ],
      referrers: [{ digest: signed.approval, kind: 'approval' }],
      approvals: [{ approver: 'dave', decision: 'approved', time: expect.any(String), source: 'signed' }],
      promotions: [],
    });
    expect(res.body).not.toHaveProperty('vulnerabilities');
    expect(res.body.gates).toEqual([
      { name: 'signature', status: 'fail', reasons: [expect.stringContaining('no cosign signature')] },
      {
        name: 'vulnerabilities',
        status: 'fail',
        reasons: [expect.stringContaining('no vulnerability report')],
      },
      { name: 'approval', status: 'pass', reasons: ['approved by dave'] },
    ]);
  });

  it('answers 404 for a digest that is no candidate, 400 for a malformed one, 403 and 401 for callers', async () => {
    const unknown = await call(url(`sha256:${'0'.repeat(64)}`), tokens.viewer!.token);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: { code: 'API_NOT_FOUND' } });
    expect((unknown.body as { error: { message: string } }).error.message).toContain('not a candidate');
    // The signature is in the source repository but is no candidate (it has no tag).
    expect((await call(url(signatureDigest), tokens.viewer!.token)).status).toBe(404);
    const env = await call(url(image.digest, 'moon'), tokens.viewer!.token);
    expect(env.status).toBe(404);
    expect(env.body).toMatchObject({ error: { code: 'PROMOTION_UNKNOWN' } });
    for (const bad of [
      url('sha256:abc'),
      url(`sha256:${'A'.repeat(64)}`),
      url(`md5:${'0'.repeat(32)}`),
      url('1.0.0'),
      `/api/v1/applications/web/candidates/${image.digest}`,
      `${url(image.digest)}&extra=1`,
      url(image.digest, '..%2Fprod'),
    ]) {
      const res = await call(bad, tokens.viewer!.token);
      expect(res.status, bad).toBe(400);
      expect(res.body, bad).toMatchObject({ error: { code: 'API_REQUEST_INVALID' } });
      expect((res.body as { error: { message: string } }).error.message).not.toContain('\n');
    }
    const other = await call(url(image.digest), tokens.platform!.token);
    expect(other.status).toBe(403);
    expect((await call(url(image.digest))).status).toBe(401);
  });
});
