import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { digestOf, type Digest } from '../../core/index.js';
import { reportRefusal, type CandidateIdentity } from './report-binding.js';
import { evaluateVulnerabilities } from './vulnerabilities.js';
import { parseVulnerabilityReport } from './vulnerability-report.js';

const FIXTURES = new URL('../../../test/fixtures/reports/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));

/** The image every fixture was made from: registry.example.com/team-a/web:1.4.2. */
const WEB = 'sha256:71df0ea4cb3f9ceff029a0f81c219d4536d72ac5a3f716e133177a3cc9ecae9b' as Digest;
const WEB_CONFIG = 'sha256:8c9f5f6e6eaa4981c27d7ad7e8ac9b4e971f9283eeb8baceac232199ed042350' as Digest;
const OTHER = digestOf('another image');
const web: CandidateIdentity = { digest: WEB, manifests: [], configs: [WEB_CONFIG] };
const other: CandidateIdentity = { digest: OTHER, manifests: [], configs: [digestOf('another config')] };

describe('reports name the image they are about (issue 9.5)', () => {
  it.each(['trivy.json', 'grype.json', 'cyclonedx-1.5.json', 'trivy.sarif.json', 'grype.sarif.json'])(
    '%s names its image',
    (name) => {
      const report = parseVulnerabilityReport(fixture(name), name);
      expect(report.subject?.digests).toContain(WEB);
      expect(reportRefusal(report, `--report ${name}`, web, false)).toBeUndefined();
    },
  );

  it.each(['trivy.json', 'grype.json', 'cyclonedx-1.5.json', 'trivy.sarif.json', 'grype.sarif.json'])(
    '%s about another digest is refused, given or attached',
    (name) => {
      const report = parseVulnerabilityReport(fixture(name), name);
      for (const attached of [false, true])
        expect(reportRefusal(report, `--report ${name}`, other, attached)).toBe(
          `--report ${name} is about ${WEB}, not ${OTHER}: refused`,
        );
    },
  );

  it('a platform manifest of an index candidate, or its config digest, binds a report', () => {
    const trivy = parseVulnerabilityReport(fixture('trivy.json'), 'trivy.json');
    const index: CandidateIdentity = { digest: OTHER, manifests: [WEB], configs: [] };
    expect(reportRefusal(trivy, 'r', index, false)).toBeUndefined();
    const byImageId = parseVulnerabilityReport(
      JSON.stringify({ SchemaVersion: 2, Metadata: { ImageID: WEB_CONFIG }, Results: [] }),
      'local.json',
    );
    expect(byImageId.subject).toEqual({ digests: [], imageIds: [WEB_CONFIG] });
    expect(reportRefusal(byImageId, 'r', web, false)).toBeUndefined();
    expect(reportRefusal(byImageId, 'r', other, false)).toMatch(/is about image ID sha256:8c9f/);
  });

  it('a report that names no image counts only when attached to the candidate', () => {
    const bare = parseVulnerabilityReport(JSON.stringify({ SchemaVersion: 2, Results: [] }), 'bare.json');
    expect(bare.subject).toBeUndefined();
    expect(reportRefusal(bare, 'referrer sha256:x', web, true)).toBeUndefined();
    expect(reportRefusal(bare, '--report bare.json', web, false)).toMatch(
      /^--report bare\.json names no image digest, so nothing binds it to sha256:71df/,
    );
  });

  it('a CycloneDX component hash names the image', () => {
    const cdx = parseVulnerabilityReport(
      JSON.stringify({
        bomFormat: 'CycloneDX',
        specVersion: '1.5',
        metadata: {
          component: { type: 'container', name: 'web', hashes: [{ alg: 'SHA-256', content: WEB.slice(7) }] },
        },
        vulnerabilities: [],
      }),
      'hash.cdx.json',
    );
    expect(cdx.subject?.digests).toEqual([WEB]);
  });

  it('the vulnerabilities gate fails on a refused report, saying why, even beside a good one', () => {
    const clean = parseVulnerabilityReport(fixture('trivy-clean.json'), 'clean');
    const r = evaluateVulnerabilities(
      { max: { critical: 0 } },
      [{ report: clean, source: 'referrer sha256:1' }],
      new Date('2026-01-01T00:00:00Z'),
      [],
      [{ reason: `--report trivy.json is about ${WEB}, not ${OTHER}: refused` }],
    );
    expect(r.status).toBe('fail');
    expect(r.reasons[0]).toBe(`--report trivy.json is about ${WEB}, not ${OTHER}: refused`);
  });
});
