/** The gates that only compare facts: labels, previous-env, soak, evidence, policy. */
import { compareStrings } from '../../core/index.js';
import { formatDuration, type GateConfig } from '../../config/index.js';
import type { RecordedGate } from '../attestation.js';
import type { GateFacts, PolicyFact } from './facts.js';

type Options<N extends GateConfig['name']> = Extract<GateConfig, { name: N }>['options'];

const pass = (gate: string, ...reasons: string[]): RecordedGate => ({ gate, status: 'pass', reasons });
const fail = (gate: string, ...reasons: string[]): RecordedGate => ({ gate, status: 'fail', reasons });

/** `labels`: every required label is present and matches its pattern. */
export function evaluateLabels(options: Options<'labels'>, facts: GateFacts): RecordedGate {
  const problems: string[] = [];
  for (const [key, pattern] of Object.entries(options.required)) {
    const value = facts.labels[key];
    if (value === undefined) problems.push(`label ${key} is missing`);
    else if (!new RegExp(pattern).test(value))
      problems.push(`label ${key}="${value}" does not match ${pattern}`);
  }
  return problems.length
    ? fail('labels', ...problems)
    : pass('labels', `${Object.keys(options.required).length} required labels present and matching`);
}

function firstPromotion(facts: GateFacts, env: string) {
  return facts.promotions
    .filter((p) => p.environment === env && p.kind === 'promotion')
    .sort((a, b) => compareStrings(a.time, b.time))[0];
}

/** Unauthenticated history and ignored records, said plainly after a gate's own reason. */
export const UNAUTHENTICATED_HISTORY =
  'promotion history is unauthenticated: no attestation key is configured, so anyone who can push to the repository can write a promotion record';

function historyNotes(facts: GateFacts, env: string): string[] {
  const ignored = (facts.ignoredPromotions ?? []).filter((i) => i.environment === env);
  return [
    ...ignored
      .slice(0, 3)
      .map((i) => `ignored promotion record ${i.attestation.slice(0, 19)} for ${env}: ${i.reason}`),
    ...(ignored.length > 3 ? [`ignored ${ignored.length - 3} more promotion records for ${env}`] : []),
    ...(facts.historyAuthenticated === false ? [UNAUTHENTICATED_HISTORY] : []),
  ];
}

/** `previous-env`: the digest was promoted to `env` before (by a record that counts). */
export function evaluatePreviousEnv(options: Options<'previous-env'>, facts: GateFacts): RecordedGate {
  const first = firstPromotion(facts, options.env);
  const notes = historyNotes(facts, options.env);
  return first
    ? pass('previous-env', `promoted to ${options.env} at ${first.time}`, ...notes)
    : fail('previous-env', `${facts.digest} was never promoted to ${options.env}`, ...notes);
}

/** `soak`: the digest has been in `env` for at least `duration` (by a record that counts). */
export function evaluateSoak(options: Options<'soak'>, facts: GateFacts): RecordedGate {
  const needed = options.duration;
  const first = firstPromotion(facts, options.env);
  const notes = historyNotes(facts, options.env);
  if (!first) return fail('soak', `${facts.digest} was never promoted to ${options.env}`, ...notes);
  const since = facts.now.getTime() - Date.parse(first.time);
  if (Number.isNaN(since)) return fail('soak', `the promotion to ${options.env} has no valid time`, ...notes);
  return since >= needed
    ? pass('soak', `in ${options.env} for ${formatDuration(since)} (≥ ${formatDuration(needed)})`, ...notes)
    : fail(
        'soak',
        `in ${options.env} for ${formatDuration(since)} only; needs ${formatDuration(needed)} (${formatDuration(needed - since)} to go)`,
        ...notes,
      );
}

/** `evidence`: required attachments by artifact type and required annotations. */
export function evaluateEvidence(options: Options<'evidence'>, facts: GateFacts): RecordedGate {
  const problems: string[] = [];
  const found: string[] = [];
  for (const a of options.artifacts) {
    const match = facts.referrers.find((r) => r.artifactType === a.type);
    if (match) found.push(`${a.description ?? a.type} (${match.digest.slice(0, 19)})`);
    else problems.push(`no ${a.description ?? a.type} attached (artifact type ${a.type})`);
  }
  for (const [key, pattern] of Object.entries(options.annotations)) {
    const re = new RegExp(pattern);
    const values = [facts.labels[key], ...facts.referrers.map((r) => r.annotations[key])].filter(
      (v): v is string => v !== undefined,
    );
    if (values.some((v) => re.test(v))) found.push(`${key} matches ${pattern}`);
    else
      problems.push(
        values.length
          ? `annotation ${key}="${values[0] ?? ''}" does not match ${pattern}`
          : `annotation ${key} is missing`,
      );
  }
  return problems.length ? fail('evidence', ...problems) : pass('evidence', ...found);
}

/** `policy`: the external service allowed it; an error or timeout denies (fail closed). */
export function evaluatePolicy(options: Options<'policy'>, answer: PolicyFact | undefined): RecordedGate {
  if (!answer) return fail('policy', `no answer from ${options.url}`);
  if ('error' in answer)
    return fail('policy', `policy service ${options.url} failed: ${answer.error} (denied)`);
  return answer.allow
    ? pass('policy', ...(answer.reasons.length ? answer.reasons : [`allowed by ${options.url}`]))
    : fail('policy', ...(answer.reasons.length ? answer.reasons : [`denied by ${options.url}`]));
}
