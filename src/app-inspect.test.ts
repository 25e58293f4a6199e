import { describe, expect, it } from 'vitest';
import { referrerKind, summarizeReport } from './app-inspect.js';
import { parseVulnerabilityReport } from './promotion/index.js';

const M = 'application/vnd.oci.image.manifest.v1+json';

describe('referrerKind', () => {
  it.each([
    ['application/vnd.dev.cosign.artifact.sig.v1+json', 'signature'],
    ['application/vnd.cncf.notary.signature', 'signature'],
    ['application/vnd.dev.sigstore.bundle.v0.3+json', 'signature'],
    ['application/spdx+json', 'sbom'],
    ['application/vnd.cyclonedx+json', 'sbom'],
    ['application/vnd.syft+json', 'sbom'],
    ['application/vnd.aquasec.trivy.report+json', 'vulnerability-report'],
    ['application/sarif+json', 'vulnerability-report'],
    ['application/vnd.in-toto+json', 'attestation'],
    ['application/vnd.dev.gantry.promotion.v1+json', 'promotion-record'],
    ['application/vnd.dev.gantry.approval.v1+json', 'approval'],
    ['application/vnd.dev.gantry.junit+xml', 'other'],
  ])('%s is %s', (artifactType, kind) => {
    expect(referrerKind({ artifactType, mediaType: M })).toBe(kind);
  });

  it('falls back to the media type without an artifact type', () => {
    expect(referrerKind({ mediaType: M })).toBe('other');
  });
});

describe('summarizeReport', () => {
  it('counts collapsed findings by severity, negligible as low', () => {
    const vuln = (id: string, severity: string) => ({
      id,
      package: 'p',
      severity,
      fix: { versions: ['2'], state: 'fixed' },
    });
    const report = parseVulnerabilityReport(
      JSON.stringify({
        descriptor: { name: 'grype' },
        matches: [
          { vulnerability: vuln('CVE-1', 'Critical'), artifact: { name: 'p', version: '1' } },
          { vulnerability: vuln('CVE-1', 'Critical'), artifact: { name: 'p', version: '1' } },
          { vulnerability: vuln('CVE-2', 'Negligible'), artifact: { name: 'p', version: '1' } },
          { vulnerability: vuln('CVE-3', 'Medium'), artifact: { name: 'p', version: '1' } },
        ],
      }),
      'test',
    );
    expect(summarizeReport(report, 'sha256:ab' as never)).toEqual({
      scanner: 'grype',
      critical: 1,
      high: 0,
      medium: 1,
      low: 1,
      unknown: 0,
      reportDigest: 'sha256:ab',
    });
  });
});
