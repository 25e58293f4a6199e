/**
 * The candidate page in real Chromium against a real `gantry serve`: a candidate in staging with a
 * cosign signature, an SBOM and a Trivy report attached as referrers (the way `gantry attach`
 * writes them), reviewed for prod after an approver rejected its first promotion: labels,
 * platforms, size, referrers by kind, vulnerability counts, the approval gate pending with its
 * reason, the rejection, the promotions of the digest, and a promotion requested from the page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { createApp } from '../../src/app.js';
import { parseConfig } from '../../src/config/index.js';
import type { Digest } from '../../src/core/index.js';
import { dashboardContext, screenshot, expectClean, signIn, VIEWPORTS } from '../helpers/browser.js';
import { makeCosignKeyPair, makeCosignSignature } from '../helpers/cosign.js';
import { makeArtifact, type TestImage } from '../helpers/index.js';
import { startDashboardWorld, type DashboardWorld } from './fixture.js';

const TRIVY = 'application/vnd.aquasec.trivy.report+json';

describe('dashboard: the candidate page (real Chromium, real gantry serve)', () => {
  let world: DashboardWorld;
  let digest = '';
  let rejected = '';

  beforeAll(async () => {
    world = await startDashboardWorld({ name: 'candidate' });
    digest = world.digests.web?.['1.1.0'] ?? '';
    expect((await world.promote('web', '1.1.0', 'staging')).state).toBe('completed');

    // Referrers of the candidate in staging, attached as `gantry attach` does (with the tag-schema
    // index a registry without the referrers API needs).
    const { config, problems } = parseConfig(
      '/etc/gantry/attach.yaml',
      `registries:\n  dev: { url: "${world.dev.url}" }\nenvironments:\n  staging: { registry: dev, prefix: staging }\napplications: [web]\n`,
    );
    if (!config) throw new Error(problems.map((p) => p.message).join('; '));
    const app = createApp({ config, env: {}, authFile: '/nonexistent/auth.json' });
    const head = await fetch(`${world.dev.url}/v2/staging/web/manifests/${digest}`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    const subject = {
      mediaType: head.headers.get('content-type') ?? 'application/vnd.oci.image.manifest.v1+json',
      digest,
      size: Number(head.headers.get('content-length')),
    };
    const attach = (artifact: TestImage) =>
      app.registry.attach(
        { registry: world.dev.host, repository: 'staging/web' },
        {
          manifest: artifact.manifest,
          mediaType: artifact.mediaType,
          blobs: artifact.blobs as unknown as ReadonlyMap<Digest, Buffer>,
        },
      );
    await attach(
      makeCosignSignature({
        digest,
        reference: `${world.dev.host}/staging/web`,
        privateKeyPem: makeCosignKeyPair('ecdsa').privateKeyPem,
        subject,
      }),
    );
    await attach(
      makeArtifact({
        subject,
        artifactType: 'application/spdx+json',
        content: JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'web' }),
        contentMediaType: 'application/spdx+json',
      }),
    );
    const findings: [string, string][] = [
      ['CVE-2024-0001', 'CRITICAL'],
      ['CVE-2024-0002', 'HIGH'],
      ['CVE-2024-0003', 'HIGH'],
      ['CVE-2024-0004', 'MEDIUM'],
      ['CVE-2024-0005', 'LOW'],
    ];
    await attach(
      makeArtifact({
        subject,
        artifactType: TRIVY,
        content: JSON.stringify({
          SchemaVersion: 2,
          CreatedAt: '2026-05-30T10:00:00Z',
          ArtifactName: 'web',
          Results: [
            {
              Target: 'web',
              Vulnerabilities: findings.map(([id, severity]) => ({
                VulnerabilityID: id,
                PkgName: 'openssl',
                InstalledVersion: '1.0',
                Severity: severity,
              })),
            },
          ],
        }),
        contentMediaType: 'application/json',
        annotations: { 'org.opencontainers.image.created': '2026-05-30T10:00:00Z' },
      }),
    );

    // A first promotion to prod, rejected by an approver: the gate still waits for an approval.
    const first = await world.promote('web', '1.1.0', 'prod', ['awaiting-approval']);
    rejected = first.id;
    const r = await world.call(world.tokens.alice, 'POST', `/api/v1/promotions/${first.id}/rejections`, {
      reason: 'needs a fresh scan',
    });
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
    await world.waitFor(first.id, ['rejected']);
  }, 180_000);

  afterAll(async () => {
    await world?.stop();
  });

  const text = async (page: Page, name: string) =>
    (await page.getByRole('region', { name }).textContent()) ?? '';

  it('shows everything an approver reviews, and promotes from the page', async () => {
    const ctx = await dashboardContext(world.browser, world.server.url, VIEWPORTS.desktop);
    try {
      const page = await ctx.newPage();
      await signIn(page, world.tokens.ci);
      await page.goto(`/apps/web/candidates/${digest}?env=prod`);
      await page.getByRole('heading', { name: 'Image' }).waitFor();
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toContain('web 1.1.0');

      const image = await text(page, 'Image');
      expect(image).toContain('1.1.0');
      expect(image).toContain('web110000000');
      expect(image).toContain(digest);
      expect(image).toContain(`linux/amd64 ${digest.slice(0, 19)}`);
      expect(image).toMatch(/Size\s*[\d.]+ kB/);
      expect(
        await page.getByRole('link', { name: 'https://git.example.com/shop/web' }).getAttribute('href'),
      ).toBe('https://git.example.com/shop/web');
      const labels = page.getByRole('region', { name: 'Labels' });
      expect(await labels.textContent()).toContain('org.opencontainers.image.revision');

      // Referrers by kind.
      expect(await text(page, 'Signatures (1)')).toContain('application/vnd.dev.cosign.artifact.sig.v1+json');
      expect(await text(page, 'SBOMs (1)')).toContain('application/spdx+json');
      expect(await text(page, 'Vulnerability reports (1)')).toContain(TRIVY);

      const vulns = await text(page, 'Vulnerabilities');
      for (const count of ['1 critical', '2 high', '1 medium', '1 low', '0 unknown'])
        expect(vulns).toContain(count);
      expect(vulns).toContain('2026-05-30T10:00:00');

      const gates = page.getByRole('region', { name: 'Gates of prod' });
      const approval = gates.getByRole('listitem').filter({ hasText: 'approval' }).first();
      expect(await approval.textContent()).toContain('pending');
      expect(await approval.locator('ul li').count()).toBeGreaterThan(0);

      const decisions = page.getByRole('region', { name: 'Approvals' });
      const alice = decisions.locator('tbody tr', { hasText: 'alice' });
      expect(await alice.textContent()).toContain('rejected');
      expect(await alice.textContent()).toContain('needs a fresh scan');
      expect(await alice.textContent()).toContain('through the API');

      const promotions = page.getByRole('region', { name: 'Promotions of this digest' });
      expect(await promotions.locator(`a[href="/promotions/${rejected}"]`).textContent()).toContain(
        rejected.slice(0, 8),
      );
      expect(await promotions.textContent()).toContain('rejected');
      expect(await promotions.textContent()).toContain('staging');
      await expectClean(ctx, page);
      await screenshot(page, 'candidate-desktop');

      await page.getByRole('button', { name: 'Promote to prod' }).click();
      await expect.poll(() => new URL(page.url()).pathname).toMatch(/^\/promotions\/[\w-]+$/);
      const id = new URL(page.url()).pathname.split('/').pop() ?? '';
      expect(id).not.toBe(rejected);
      const promoted = await world.waitFor(id, ['awaiting-approval']);
      expect(promoted.state).toBe('awaiting-approval');
      expect(ctx.external).toEqual([]);
      expect(ctx.pageErrors).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  it('fits a phone, offers no promotion to an approver, and says when a digest is no candidate', async () => {
    const ctx = await dashboardContext(world.browser, world.server.url, VIEWPORTS.phone);
    try {
      const page = await ctx.newPage();
      await signIn(page, world.tokens.alice);
      await page.goto(`/apps/web/candidates/${digest}?env=prod`);
      await page.getByRole('heading', { name: 'Image' }).waitFor();
      expect(await page.getByRole('button', { name: 'Promote to prod' }).count()).toBe(0);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await expectClean(ctx, page);
      await screenshot(page, 'candidate-phone');

      // 1.0.0 in dev, reviewed for staging: nothing refers to it, and staging has no gates.
      await page.goto(`/apps/web/candidates/${world.digests.web?.['1.0.0'] ?? ''}?env=staging`);
      await page.getByRole('heading', { name: 'Image' }).waitFor();
      expect(await text(page, 'Vulnerabilities')).toContain('No vulnerability report');
      expect(await text(page, 'Gates of staging')).toContain('staging has no gates');
      expect(await page.getByText('Nothing refers to this image').count()).toBe(1);
      await expectClean(ctx, page);

      // 1.0.0 never reached staging: it is no candidate for prod.
      await page.goto(`/apps/web/candidates/${world.digests.web?.['1.0.0'] ?? ''}?env=prod`);
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('is not a candidate');
      ctx.pageErrors.length = 0; // the browser logs the 404 of the API call
      await expectClean(ctx, page);
    } finally {
      await ctx.close();
    }
  });
});
