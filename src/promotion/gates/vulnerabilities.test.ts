import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  evaluateVulnerabilities,
  vulnerabilitiesGateSchema,
  type SourcedReport,
  type VulnerabilitiesGateOptions,
} from './vulnerabilities.js';
import { parseVulnerabilityReport, type Finding, type VulnerabilityReport } from './vulnerability-report.js';

const FIXTURES = new URL('../../../test/fixtures/reports/', import.meta.url);
const fromFile = (name: string): SourcedReport => ({
  report: parseVulnerabilityReport(readFileSync(new URL(name, FIXTURES)), name),
  source: `--report ${name}`,
});
const NOW = new Date('2026-03-01T12:00:00Z');
const TRIVY = fromFile('trivy.json');
const TRIVY_USED = 'trivy (Trivy JSON, 2024-05-14T10:21:33.123456789Z, --report trivy.json)';
const ALL = `findings: 2 critical, 5 high, 7 medium, 4 low, 0 negligible, 1 unknown; from ${TRIVY_USED}`;
const FIXABLE = `fixable findings: 1 critical, 4 high, 4 medium, 1 low, 0 negligible, 1 unknown; from ${TRIVY_USED}`;
const ZLIB = 'CVE-2023-45853';
const ZLIB_REASON = 'no fix upstream; minizip is not shipped';

describe('vulnerabilities gate over trivy.json', () => {
  it.each<[string, VulnerabilitiesGateOptions, 'pass' | 'fail', string[]]>([
    ['no limits', {}, 'pass', [ALL]],
    [
      'critical limit exceeded',
      { max: { critical: 0 } },
      'fail',
      ['critical: 2 > 0 (CVE-2023-45853, CVE-2024-24790)', ALL],
    ],
    ['limits met exactly', { max: { critical: 2, high: 5, medium: 7, low: 4, unknown: 1 } }, 'pass', [ALL]],
    [
      'several exceeded; at most five example ids',
      { max: { critical: 2, high: 4, medium: 0, unknown: 0 } },
      'fail',
      [
        'high: 5 > 4 (CVE-2024-2961, CVE-2024-33599, CVE-2023-31484, CVE-2024-4068, CVE-2022-25883)',
        'medium: 7 > 0 (CVE-2024-2511, CVE-2023-4039, CVE-2023-50495, CVE-2024-26458, CVE-2024-29041, +2 more)',
        'unknown: 1 > 0 (CVE-2024-37370)',
        ALL,
      ],
    ],
    ['a severity missing from max has no limit', { max: { low: 10 } }, 'pass', [ALL]],
    [
      'fixable only: within limits',
      { fixable: true, max: { critical: 1, high: 4, medium: 4, low: 1, unknown: 1 } },
      'pass',
      [FIXABLE],
    ],
    [
      'fixable only: the unfixable critical does not count',
      { fixable: true, max: { critical: 0 } },
      'fail',
      ['critical: 1 > 0 (CVE-2024-24790)', FIXABLE],
    ],
    [
      'ignore without expiry',
      { max: { critical: 1 }, ignore: [{ id: ZLIB, reason: ZLIB_REASON }] },
      'pass',
      [`ignored ${ZLIB} (1 finding): ${ZLIB_REASON}`, ALL.replace('2 critical', '1 critical')],
    ],
    [
      'ignore ids are case-insensitive',
      { max: { critical: 1 }, ignore: [{ id: ZLIB.toLowerCase(), reason: ZLIB_REASON }] },
      'pass',
      [`ignored ${ZLIB.toLowerCase()} (1 finding): ${ZLIB_REASON}`, ALL.replace('2 critical', '1 critical')],
    ],
    [
      'ignore not yet expired (date)',
      { max: { critical: 1 }, ignore: [{ id: ZLIB, reason: ZLIB_REASON, expires: '2026-03-02' }] },
      'pass',
      [`ignored ${ZLIB} (1 finding): ${ZLIB_REASON}`, ALL.replace('2 critical', '1 critical')],
    ],
    [
      'ignore not yet expired (date-time)',
      { max: { critical: 1 }, ignore: [{ id: ZLIB, reason: ZLIB_REASON, expires: '2026-03-01T12:00:01Z' }] },
      'pass',
      [`ignored ${ZLIB} (1 finding): ${ZLIB_REASON}`, ALL.replace('2 critical', '1 critical')],
    ],
    [
      'expired ignore entry stops applying and says so',
      { max: { critical: 1 }, ignore: [{ id: ZLIB, reason: ZLIB_REASON, expires: '2026-01-01' }] },
      'fail',
      ['critical: 2 > 1 (CVE-2023-45853, CVE-2024-24790)', `ignore entry ${ZLIB} expired on 2026-01-01`, ALL],
    ],
    [
      'a date expires at 00:00 UTC of that day',
      { ignore: [{ id: ZLIB, reason: ZLIB_REASON, expires: '2026-03-01' }] },
      'pass',
      [`ignore entry ${ZLIB} expired on 2026-03-01`, ALL],
    ],
    [
      'a date-time expires at that instant, zone included',
      { ignore: [{ id: ZLIB, reason: ZLIB_REASON, expires: '2026-03-01T13:00:00+01:00' }] },
      'pass',
      [`ignore entry ${ZLIB} expired on 2026-03-01T13:00:00+01:00`, ALL],
    ],
    [
      'an expired entry is reported even when nothing matches it',
      { ignore: [{ id: 'CVE-1999-0001', reason: 'old', expires: '2025-12-31T23:59:59Z' }] },
      'pass',
      ['ignore entry CVE-1999-0001 expired on 2025-12-31T23:59:59Z', ALL],
    ],
    [
      'an unexpired entry matching nothing is not mentioned',
      { ignore: [{ id: 'CVE-1999-0001', reason: 'old' }] },
      'pass',
      [ALL],
    ],
  ])('%s', (_name, options, status, reasons) => {
    expect(evaluateVulnerabilities(options, [TRIVY], NOW)).toEqual({
      gate: 'vulnerabilities',
      status,
      reasons,
    });
  });

  it('takes validated options (defaults applied)', () => {
    const options = vulnerabilitiesGateSchema.parse({ max: { critical: 0 }, fixable: true });
    expect(evaluateVulnerabilities(options, [TRIVY], NOW).reasons[0]).toBe(
      'critical: 1 > 0 (CVE-2024-24790)',
    );
  });
});

describe('vulnerabilities gate over several reports', () => {
  const f = (id: string, severity: Finding['severity'], pkg = 'pkg', fixable = false): Finding => ({
    id,
    severity,
    fixable,
    package: pkg,
  });
  const r = (
    scanner: string,
    source: string,
    findings: Finding[],
    createdAt?: string,
    format: VulnerabilityReport['format'] = 'sarif',
  ): SourcedReport => ({
    report: { format, scanner, findings, ...(createdAt ? { createdAt } : {}) },
    source,
  });
  const counts = (c: number, h: number, m: number, l: number, n: number, u: number): string =>
    `findings: ${c} critical, ${h} high, ${m} medium, ${l} low, ${n} negligible, ${u} unknown`;

  it('says why attached artifacts that look like scan results did not count', () => {
    const unreadable = [
      {
        reason:
          'referrer sha256:aa is a CycloneDX BOM without "vulnerabilities" (an SBOM, not a scan result)',
      },
    ];
    expect(evaluateVulnerabilities({ max: { critical: 0 } }, [], new Date(), unreadable)).toEqual({
      gate: 'vulnerabilities',
      status: 'fail',
      reasons: ['no vulnerability report', unreadable[0]?.reason],
    });
  });

  it.each<[string, SourcedReport[], VulnerabilitiesGateOptions, 'pass' | 'fail', string[]]>([
    ['no report', [], { max: { critical: 0 } }, 'fail', ['no vulnerability report']],
    ['no report, no limits', [], {}, 'fail', ['no vulnerability report']],
    [
      'newest report of a scanner by createdAt, whatever the order',
      [
        r('trivy', 'referrer sha256:new', [f('CVE-2', 'low')], '2026-02-02T00:00:00Z'),
        r('trivy', 'referrer sha256:old', [f('CVE-1', 'critical')], '2026-02-02T01:00:00+02:00'),
      ],
      { max: { critical: 0 } },
      'pass',
      [`${counts(0, 0, 0, 1, 0, 0)}; from trivy (SARIF, 2026-02-02T00:00:00Z, referrer sha256:new)`],
    ],
    [
      'a createdAt tie goes to the later report',
      [
        r('trivy', 'a', [f('CVE-1', 'critical')], '2026-02-01T00:00:00Z'),
        r('trivy', 'b', [f('CVE-2', 'low')], '2026-02-01T00:00:00.000Z'),
      ],
      { max: { critical: 0 } },
      'pass',
      [`${counts(0, 0, 0, 1, 0, 0)}; from trivy (SARIF, 2026-02-01T00:00:00.000Z, b)`],
    ],
    [
      'without createdAt the last report given wins',
      [
        r('grype', '--report old.json', [f('CVE-2', 'low')], undefined, 'grype'),
        r('grype', '--report new.json', [f('CVE-1', 'critical')], undefined, 'grype'),
      ],
      { max: { critical: 0 } },
      'fail',
      ['critical: 1 > 0 (CVE-1)', `${counts(1, 0, 0, 0, 0, 0)}; from grype (Grype JSON, --report new.json)`],
    ],
    [
      'when one report of a scanner lacks createdAt, the last given wins',
      [
        r('grype', 'first', [f('CVE-2', 'low')], '2026-02-01T00:00:00Z'),
        r('grype', 'second', [f('CVE-1', 'critical')]),
      ],
      {},
      'pass',
      [`${counts(1, 0, 0, 0, 0, 0)}; from grype (SARIF, second)`],
    ],
    [
      'scanners combine by id + package, worst severity wins',
      [
        r('trivy', 't', [f('CVE-1', 'high', 'a'), f('CVE-3', 'low', 'c')]),
        r('grype', 'g', [
          f('CVE-1', 'critical', 'a'),
          f('CVE-1', 'medium', 'b'),
          f('CVE-3', 'negligible', 'c'),
        ]),
      ],
      { max: { critical: 0, medium: 0 } },
      'fail',
      [
        'critical: 1 > 0 (CVE-1)',
        'medium: 1 > 0 (CVE-1)',
        `${counts(1, 0, 1, 1, 0, 0)}; from trivy (SARIF, t), grype (SARIF, g)`,
      ],
    ],
    [
      'fixable in any scanner counts as fixable',
      [r('trivy', 't', [f('CVE-1', 'high', 'a', false)]), r('grype', 'g', [f('CVE-1', 'high', 'a', true)])],
      { fixable: true, max: { high: 0 } },
      'fail',
      ['high: 1 > 0 (CVE-1)', `fixable ${counts(0, 1, 0, 0, 0, 0)}; from trivy (SARIF, t), grype (SARIF, g)`],
    ],
    [
      'an ignore entry covers every package with that id',
      [r('trivy', 't', [f('CVE-1', 'critical', 'a'), f('CVE-1', 'critical', 'b')])],
      { max: { critical: 0 }, ignore: [{ id: 'CVE-1', reason: 'not reachable' }] },
      'pass',
      ['ignored CVE-1 (2 findings): not reachable', `${counts(0, 0, 0, 0, 0, 0)}; from trivy (SARIF, t)`],
    ],
  ])('%s', (_name, reports, options, status, reasons) => {
    expect(evaluateVulnerabilities(options, reports, NOW)).toEqual({
      gate: 'vulnerabilities',
      status,
      reasons,
    });
  });

  it('combines the real Trivy and Grype fixtures', () => {
    const result = evaluateVulnerabilities(
      { max: { critical: 2 } },
      [TRIVY, fromFile('grype.json'), fromFile('trivy-clean.json')],
      NOW,
    );
    expect(result.status).toBe('pass');
    // trivy-clean.json is newer and replaces trivy.json for the trivy scanner
    expect(result.reasons).toEqual([
      `${counts(2, 3, 4, 1, 2, 1)}; from trivy (Trivy JSON, 2024-05-15T07:45:02.870112345Z, --report trivy-clean.json), grype (Grype JSON, 2024-05-14T12:21:40.512345+02:00, --report grype.json)`,
    ]);
    expect(evaluateVulnerabilities({}, [TRIVY, fromFile('grype.json')], NOW).reasons[0]).toMatch(
      new RegExp(`^${counts(2, 6, 9, 4, 0, 2)}; `),
    );
  });
});

describe('vulnerabilitiesGateSchema', () => {
  it('applies defaults', () => {
    expect(vulnerabilitiesGateSchema.parse({})).toEqual({ max: {}, fixable: false, ignore: [] });
  });

  it.each([['2026-01-31'], ['2026-01-31T12:00:00Z'], ['2026-01-31T12:00:00.5+01:00']])(
    'accepts expires %s',
    (expires) => {
      expect(
        vulnerabilitiesGateSchema.safeParse({ ignore: [{ id: 'CVE-1', reason: 'r', expires }] }).success,
      ).toBe(true);
    },
  );

  it.each<[string, unknown, string]>([
    ['negative limit', { max: { critical: -1 } }, 'max.critical'],
    ['fractional limit', { max: { high: 1.5 } }, 'max.high'],
    ['unknown severity', { max: { severe: 1 } }, 'max'],
    ['negligible cannot be limited', { max: { negligible: 0 } }, 'max'],
    ['unknown option', { fixed: true }, ''],
    ['fixable not a boolean', { fixable: 'yes' }, 'fixable'],
    ['ignore without reason', { ignore: [{ id: 'CVE-1' }] }, 'ignore.0.reason'],
    ['ignore with empty id', { ignore: [{ id: '', reason: 'r' }] }, 'ignore.0.id'],
    [
      'expires not a date',
      { ignore: [{ id: 'CVE-1', reason: 'r', expires: 'next week' }] },
      'ignore.0.expires',
    ],
    [
      'expires impossible date',
      { ignore: [{ id: 'CVE-1', reason: 'r', expires: '2026-02-30' }] },
      'ignore.0.expires',
    ],
    [
      'expires without a zone',
      { ignore: [{ id: 'CVE-1', reason: 'r', expires: '2026-01-31T12:00:00' }] },
      'ignore.0.expires',
    ],
  ])('rejects %s', (_name, options, path) => {
    const result = vulnerabilitiesGateSchema.safeParse(options);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });
});
