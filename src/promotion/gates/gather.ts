/**
 * Gathering the facts gates judge, once per promotion and before anything is copied: labels,
 * referrers, promotions of the digest into environments named by gates, vulnerability reports
 * (attached or given with --report), cosign signatures, signed approvals, and policy answers.
 */
import { type Digest, type Descriptor, type Repository } from '../../core/index.js';
import {
  repositoryOf,
  type ApplicationConfig,
  type Config,
  type EnvironmentConfig,
} from '../../config/index.js';
import type { KnownApprover } from '../approval.js';
import { referrerApprovals, type ApprovalSource, type ApprovalSubject } from '../approval-source.js';
import { trustedPromotionRecords, type PromotionTrust } from '../history.js';
import type { Candidate } from '../candidate.js';
import type { RegistryPort } from '../ports.js';
import { COSIGN_SIG_ARTIFACT_TYPE, cosignSignatureTag, signatureLayers } from './cosign.js';
import { reportRefusal, type CandidateIdentity } from './report-binding.js';
import { signatureKeyName } from './signature.js';
import type {
  ApprovalFact,
  GateFacts,
  IgnoredPromotionFact,
  PolicyFact,
  PromotionFact,
  ReferrerFact,
  SignatureFact,
} from './facts.js';
import { parseVulnerabilityReport, type VulnerabilityReport } from './vulnerability-report.js';

/** Asks an external policy service; must resolve (never reject) and fail closed. */
export type PolicyPort = (url: string, input: unknown, timeoutMs: number) => Promise<PolicyFact>;

/** What gathering needs beyond the registry. */
export interface GatherContext {
  readonly registry: RegistryPort;
  readonly config: Config;
  readonly approvers: readonly KnownApprover[];
  /** Reads a key file named in the configuration. */
  readonly readKey: (path: string) => string;
  readonly policy: PolicyPort;
  readonly now: Date;
  readonly requester: string;
  /** Which promotion records previous-env and soak believe. */
  readonly trust: PromotionTrust;
  /** Reports given on the command line, already parsed. */
  readonly reports?: readonly { report: VulnerabilityReport; source: string }[];
  /**
   * Where approvals come from besides the signed referrers of the candidate (which are always
   * read): e.g. the server's store. Default: none.
   */
  readonly approvalSources?: readonly ApprovalSource[];
}

/** Artifact types that look like scanner reports. */
const REPORT_TYPE = /sarif|trivy|grype|cyclonedx|vuln|scan/i;
/** Reports larger than this are not downloaded. */
const MAX_REPORT = 64 * 1024 * 1024;

/** Gathers the facts for `candidate` promoted from `from` to `to`. */
export async function gatherFacts(
  ctx: GatherContext,
  app: ApplicationConfig,
  from: EnvironmentConfig,
  to: EnvironmentConfig,
  candidate: Candidate,
  version: string | undefined,
): Promise<GateFacts> {
  const names = new Set(to.gates.map((g) => g.name));
  const src = candidate.repository;
  const digest = candidate.digest;
  const referrers = await ctx.registry.referrers(src, digest);
  const referrerFacts: ReferrerFact[] = referrers.map((d) => ({
    digest: d.digest,
    ...(d.artifactType !== undefined && { artifactType: d.artifactType }),
    annotations: d.annotations ?? {},
  }));

  const history =
    names.has('previous-env') || names.has('soak')
      ? await promotionsOf(ctx, app, to, digest)
      : { facts: [], ignored: [] };
  const attached = names.has('vulnerabilities')
    ? await attachedReports(ctx.registry, src, digest, referrers)
    : { reports: [], unreadable: [] };
  const bound = names.has('vulnerabilities')
    ? await bindReports(ctx.registry, candidate, [
        ...attached.reports.map((r) => ({ ...r, attached: true })),
        ...(ctx.reports ?? []).map((r) => ({ ...r, attached: false })),
      ])
    : { reports: [], refused: [] };
  const vulnerabilityReports = bound.reports;
  const signatures = names.has('signature') ? await signaturesOf(ctx.registry, src, digest, referrers) : [];
  const signatureKeys = to.gates.flatMap((g) =>
    g.name === 'signature'
      ? [
          g.options.keys.map((k, i) => ({
            name: signatureKeyName(k, i),
            pem: k.key ?? ctx.readKey(k.path ?? ''),
          })),
        ]
      : [],
  );
  const approvals = names.has('approval')
    ? await approvalsOf(ctx, {
        application: app.name,
        environment: to.name,
        repository: src,
        digest,
        referrers,
      })
    : [];

  const base = {
    application: app.name,
    environment: to.name,
    from: from.name,
    digest,
    ...(version !== undefined && { version }),
    requester: ctx.requester,
    now: ctx.now,
    labels: candidate.labels,
    referrers: referrerFacts,
    promotions: history.facts,
    ignoredPromotions: history.ignored,
    historyAuthenticated: ctx.trust.required,
    vulnerabilityReports,
    unreadableReports: attached.unreadable,
    refusedReports: bound.refused,
    signatures,
    signatureKeys,
    approvals,
  };
  const policies: PolicyFact[] = [];
  for (const g of to.gates) {
    if (g.name !== 'policy') continue;
    const input = {
      ...base,
      now: ctx.now.toISOString(),
      vulnerabilityReports: base.vulnerabilityReports.map((r) => ({ source: r.source, ...r.report })),
      signatures: signatures.map((s) => s.source),
      signatureKeys: undefined,
    };
    policies.push(await ctx.policy(g.options.url, input, g.options.timeout));
  }
  return { ...base, policies };
}

/**
 * Promotion records of `digest` in every environment that previous-env / soak gates name, read
 * through {@link trustedPromotionRecords}: with an attestation key configured only records whose
 * signature verifies count; the others are listed with the reason.
 */
async function promotionsOf(
  ctx: GatherContext,
  app: ApplicationConfig,
  to: EnvironmentConfig,
  digest: Digest,
): Promise<{ facts: PromotionFact[]; ignored: IgnoredPromotionFact[] }> {
  const envs = new Set(
    to.gates.flatMap((g) => (g.name === 'previous-env' || g.name === 'soak' ? [g.options.env] : [])),
  );
  const facts: PromotionFact[] = [];
  const ignored: IgnoredPromotionFact[] = [];
  for (const name of envs) {
    const env = ctx.config.environments.get(name);
    if (!env) continue;
    // A repository that does not exist yet has no referrers (an empty list, not an error); any
    // other failure (auth, TLS, unreachable) is the promotion's error, not a "not promoted" fact.
    const records = await trustedPromotionRecords(
      ctx.registry,
      repositoryOf(env, app),
      digest,
      name,
      app.name,
      ctx.trust,
    );
    for (const e of records.entries) facts.push({ environment: name, time: e.time, kind: e.kind });
    for (const i of records.ignored)
      ignored.push({ environment: name, attestation: i.attestation, reason: i.reason });
  }
  return { facts, ignored };
}

/**
 * Keeps the reports that are about the candidate ({@link reportRefusal}); the others are refused
 * with the reason. Config digests of an index's platforms are read only when a report names an
 * image ID and nothing else matched.
 */
async function bindReports(
  registry: RegistryPort,
  candidate: Candidate,
  reports: readonly { report: VulnerabilityReport; source: string; attached: boolean }[],
): Promise<{
  reports: { report: VulnerabilityReport; source: string }[];
  refused: { source: string; reason: string }[];
}> {
  const m = candidate.manifest;
  const identity: CandidateIdentity = {
    digest: candidate.digest,
    manifests: m.kind === 'index' ? m.body.manifests.map((c) => c.digest) : [],
    configs: m.kind === 'image' ? [m.body.config.digest] : [],
  };
  let withConfigs: CandidateIdentity | undefined;
  const out: { report: VulnerabilityReport; source: string }[] = [];
  const refused: { source: string; reason: string }[] = [];
  for (const r of reports) {
    let reason = reportRefusal(r.report, r.source, identity, r.attached);
    if (reason !== undefined && m.kind === 'index' && (r.report.subject?.imageIds.length ?? 0) > 0) {
      withConfigs ??= { ...identity, configs: await platformConfigs(registry, candidate) };
      reason = reportRefusal(r.report, r.source, withConfigs, r.attached);
    }
    if (reason === undefined) out.push({ report: r.report, source: r.source });
    else refused.push({ source: r.source, reason });
  }
  return { reports: out, refused };
}

/** Config digests of the platform manifests of an index candidate. */
async function platformConfigs(registry: RegistryPort, candidate: Candidate): Promise<Digest[]> {
  const m = candidate.manifest;
  if (m.kind !== 'index') return [];
  const configs: Digest[] = [];
  for (const child of m.body.manifests.slice(0, 64)) {
    const c = await registry.manifest(candidate.repository, child.digest);
    if (c.kind === 'image') configs.push(c.body.config.digest);
  }
  return configs;
}

/** The first layer (or the first of `mediaType`) of a referrer whose `subject` really is `subject`. */
async function firstLayer(
  registry: RegistryPort,
  repo: Repository,
  subject: Digest,
  d: Descriptor,
  mediaType?: string,
): Promise<Buffer | undefined> {
  const m = await registry.manifest(repo, d.digest);
  if (m.kind !== 'image' || m.body.subject?.digest !== subject) return undefined;
  const layer = mediaType ? m.body.layers.find((l) => l.mediaType === mediaType) : m.body.layers[0];
  if (!layer || layer.size > MAX_REPORT) return undefined;
  return registry.blob(repo, layer);
}

/**
 * Attached scan results. Artifacts whose type looks like one but whose content is not (an SBOM
 * without vulnerabilities, a format or version Gantry cannot read) are listed with the reason, so
 * a gate that finds no report can say why.
 */
async function attachedReports(
  registry: RegistryPort,
  repo: Repository,
  subject: Digest,
  referrers: readonly Descriptor[],
) {
  const reports: { report: VulnerabilityReport; source: string }[] = [];
  const unreadable: { source: string; reason: string }[] = [];
  for (const d of referrers) {
    if (!d.artifactType || !REPORT_TYPE.test(d.artifactType)) continue;
    const source = `referrer ${d.digest}`;
    const bytes = await firstLayer(registry, repo, subject, d);
    if (!bytes) {
      unreadable.push({
        source,
        reason: `${source} has no report Gantry can read (no image layer of at most 64 MiB whose subject is ${subject})`,
      });
      continue;
    }
    try {
      reports.push({ report: parseVulnerabilityReport(bytes, source), source });
    } catch (err) {
      unreadable.push({ source, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return { reports, unreadable };
}

async function signaturesOf(
  registry: RegistryPort,
  repo: Repository,
  digest: Digest,
  referrers: readonly Descriptor[],
): Promise<SignatureFact[]> {
  const sources: { source: string; reference: string }[] = [];
  const tag = cosignSignatureTag(digest);
  if ((await registry.resolve(repo, tag)) !== undefined)
    sources.push({ source: `tag ${tag}`, reference: tag });
  for (const d of referrers)
    if (d.artifactType === COSIGN_SIG_ARTIFACT_TYPE)
      sources.push({ source: `referrer ${d.digest}`, reference: d.digest });
  const out: SignatureFact[] = [];
  for (const s of sources) {
    const m = await registry.manifest(repo, s.reference);
    for (const layer of signatureLayers(m)) {
      if (layer.descriptor.size > 1024 * 1024) continue;
      out.push({
        source: s.source,
        payload: await registry.blob(repo, layer.descriptor),
        signatureB64: layer.signature,
      });
    }
  }
  return out;
}

/** Approvals from the candidate's signed referrers and from every other configured source. */
async function approvalsOf(ctx: GatherContext, subject: ApprovalSubject): Promise<ApprovalFact[]> {
  const sources = [referrerApprovals(ctx.registry, ctx.approvers), ...(ctx.approvalSources ?? [])];
  const out: ApprovalFact[] = [];
  for (const source of sources) out.push(...(await source.approvals(subject)));
  return out;
}
