/**
 * The `vulnerabilities` gate: counts the findings of the newest report of each scanner, minus an
 * allow-list with expiry, and compares them with per-severity limits. Pure: reports and time in,
 * a {@link RecordedGate} out.
 */
import type { z } from 'zod';
import { vulnerabilitiesGateSchema } from '../../config/index.js';
import type { RecordedGate } from '../attestation.js';
import {
  collapseFindings,
  Severities,
  type Finding,
  type ReportFormat,
  type Severity,
  type VulnerabilityReport,
} from './vulnerability-report.js';

/** The gate's name in `gantry.yaml` and in recorded results. */
export const VULNERABILITIES_GATE = 'vulnerabilities';

export { vulnerabilitiesGateSchema };

/** Gate options as written (defaults not yet applied); validated options fit too. */
export type VulnerabilitiesGateOptions = z.input<typeof vulnerabilitiesGateSchema>;

/** A report and where it came from (`referrer sha256:…`, `--report FILE`). */
export interface SourcedReport {
  readonly report: VulnerabilityReport;
  readonly source: string;
}

/** Severities that `max` can limit, in the order reasons list them. */
const LIMITED = ['critical', 'high', 'medium', 'low', 'unknown'] as const;
const EXAMPLES = 5;
const FORMAT_NAMES: Readonly<Record<ReportFormat, string>> = {
  trivy: 'Trivy JSON',
  grype: 'Grype JSON',
  sarif: 'SARIF',
  cyclonedx: 'CycloneDX',
};

/**
 * Evaluates the gate at `now`.
 * - No report: fail ("no vulnerability report"), with the reason each attached artifact that
 *   looked like a scan result could not be read (`unreadable`).
 * - Per scanner only the newest report counts: by `createdAt` when every report of that scanner has
 *   one (a tie goes to the later one), else the last one given.
 * - Findings of the chosen reports are combined by id + package (worst severity, fixable if any).
 * - `ignore` entries remove findings with their id (case-insensitive) until they expire; an expired
 *   entry no longer applies and says so in the reasons.
 * - With `fixable`, only findings with a fix count. Each severity above its `max` is a failure reason
 *   with the count and up to five example ids; a summary of counts and reports used is always given.
 * - A report refused because it is about another image (`refused`, see report-binding.ts) fails the
 *   gate, its reason first: evidence about something else is never silently dropped.
 */
export function evaluateVulnerabilities(
  options: VulnerabilitiesGateOptions,
  reports: readonly SourcedReport[],
  now: Date,
  unreadable: readonly { readonly reason: string }[] = [],
  refused: readonly { readonly reason: string }[] = [],
): RecordedGate {
  const result = evaluateReports(options, reports, now, unreadable);
  if (refused.length === 0) return result;
  return { ...result, status: 'fail', reasons: [...refused.map((r) => r.reason), ...result.reasons] };
}

function evaluateReports(
  options: VulnerabilitiesGateOptions,
  reports: readonly SourcedReport[],
  now: Date,
  unreadable: readonly { readonly reason: string }[],
): RecordedGate {
  if (reports.length === 0) {
    return {
      gate: VULNERABILITIES_GATE,
      status: 'fail',
      reasons: ['no vulnerability report', ...unreadable.map((u) => u.reason)],
    };
  }
  const used = newestPerScanner(reports);
  const reasons: string[] = [];
  const notes: string[] = [];

  const active = new Map<string, { id: string; reason: string; matched: Set<string> }>();
  for (const entry of options.ignore ?? []) {
    const expiry = entry.expires === undefined ? Infinity : Date.parse(entry.expires);
    if (Number.isNaN(expiry)) {
      notes.push(`ignore entry ${entry.id} has an unreadable expiry "${entry.expires}" and does not apply`);
    } else if (now.getTime() >= expiry) {
      notes.push(`ignore entry ${entry.id} expired on ${entry.expires}`);
    } else if (!active.has(entry.id.toUpperCase())) {
      active.set(entry.id.toUpperCase(), { id: entry.id, reason: entry.reason, matched: new Set() });
    }
  }

  const counted: Finding[] = [];
  for (const finding of collapseFindings(used.flatMap((r) => r.report.findings))) {
    const ignored = active.get(finding.id.toUpperCase());
    if (ignored) ignored.matched.add(finding.package ?? finding.id);
    else if (!options.fixable || finding.fixable) counted.push(finding);
  }

  const bySeverity = new Map<Severity, Finding[]>(Severities.map((s) => [s, []]));
  for (const f of counted) bySeverity.get(f.severity)?.push(f);
  for (const severity of LIMITED) {
    const max = options.max?.[severity];
    const found = bySeverity.get(severity) ?? [];
    if (max !== undefined && found.length > max) {
      reasons.push(`${severity}: ${found.length} > ${max} (${examples(found)})`);
    }
  }
  const failed = reasons.length > 0;

  for (const { id, reason, matched } of active.values()) {
    if (matched.size > 0) {
      notes.push(`ignored ${id} (${matched.size} finding${matched.size === 1 ? '' : 's'}): ${reason}`);
    }
  }
  const counts = Severities.map((s) => `${bySeverity.get(s)?.length ?? 0} ${s}`).join(', ');
  const scope = options.fixable ? 'fixable findings' : 'findings';
  notes.push(`${scope}: ${counts}; from ${used.map(describe).join(', ')}`);

  return { gate: VULNERABILITIES_GATE, status: failed ? 'fail' : 'pass', reasons: [...reasons, ...notes] };
}

/** The newest report of each scanner, in the order scanners first appear. */
function newestPerScanner(reports: readonly SourcedReport[]): SourcedReport[] {
  const byScanner = new Map<string, SourcedReport[]>();
  for (const r of reports) {
    const list = byScanner.get(r.report.scanner);
    if (list) list.push(r);
    else byScanner.set(r.report.scanner, [r]);
  }
  return [...byScanner.values()].map((list) => {
    const times = list.map((r) => Date.parse(r.report.createdAt ?? ''));
    if (times.some((t) => Number.isNaN(t))) return list[list.length - 1] as SourcedReport;
    let newest = 0;
    times.forEach((t, i) => {
      if (t >= (times[newest] as number)) newest = i;
    });
    return list[newest] as SourcedReport;
  });
}

function examples(findings: readonly Finding[]): string {
  const ids = [...new Set(findings.map((f) => f.id))];
  const shown = ids.slice(0, EXAMPLES).join(', ');
  return ids.length > EXAMPLES ? `${shown}, +${ids.length - EXAMPLES} more` : shown;
}

function describe({ report, source }: SourcedReport): string {
  const when = report.createdAt ? `, ${report.createdAt}` : '';
  return `${report.scanner} (${FORMAT_NAMES[report.format]}${when}, ${source})`;
}
