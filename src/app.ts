/**
 * The composition root: turns a validated configuration into a registry client with the right
 * credentials and TLS per registry, the promotion service's registry port (registry client +
 * copy engine), and the promotion service itself. The only place that wires layers together.
 */
import { readFileSync } from 'node:fs';
import { GantryError } from './core/index.js';
import type { Config, RegistryConfig } from './config/index.js';
import { configError } from './config/index.js';
import {
  PromotionService,
  evaluateGates,
  gatherFacts,
  trustedRegistry,
  type GateEvaluator,
  type KnownApprover,
  type PromoteRequest,
  type PromotionOutcome,
  type PromotionServiceOptions,
  type PromotionTrust,
  type RegistryPort,
  type ReleaseOutcome,
  type ReleaseRequest,
  type RollbackOutcome,
  countedApprovals,
  type ApprovalSource,
  type LedgerPort,
  type PromotionPlan,
  type ApplierOptions,
  type PromotionApplier,
  type PromotionProgress,
  type Requester,
  type StepOptions,
} from './promotion/index.js';
import {
  HttpTransport,
  type CredentialProvider,
  type HostSettings,
  type ReferrerLock,
  type RegistryClient,
} from './registry/index.js';
import { createRegistryClient, definedEnv, providerFor, registryPort } from './app-registry.js';
import { askPolicy } from './app-policy.js';
import { attestationTrust, lazySigner, readConfigured } from './app-signing.js';

/** Options for {@link createApp}. */
export interface AppOptions {
  readonly config: Config;
  /** The process environment (credentials and keys named in the configuration are read from it). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The docker config / auth.json used for registries without configured credentials. */
  readonly authFile: string;
  /**
   * Who acts when a request names nobody (the CLI's one user). A server leaves it out and names
   * the caller in every request.
   */
  readonly actor?: string;
  /** Where promotion events go, each before the action it describes. Default: nowhere (the CLI). */
  readonly ledger?: LedgerPort;
  /** Approvals besides the signed referrers (the server's store). Default: none. */
  readonly approvals?: ApprovalSource;
  /**
   * The lock every writer of a registry's referrers fallback index holds (the server's, across
   * replicas): attaches then write once and skip the settle wait (decision 0012, addendum).
   * Default: none (the CLI: in-process turns and a settle wait).
   */
  readonly referrerLock?: ReferrerLock;
}

/** The wired application. */
export interface App {
  readonly config: Config;
  readonly client: RegistryClient;
  readonly registry: RegistryPort;
  readonly promotions: PromotionService;
  /** The configured approvers with their public keys (read on first use). */
  approvers(): readonly KnownApprover[];
  /** Which promotion records count: signed ones when an attestation key is configured. */
  readonly trust: PromotionTrust;
  /**
   * The HMAC secret of inbound registry notifications (the variable `events.secretEnv` names);
   * `undefined` when none is configured or the variable is unset or empty (HMAC then refused).
   */
  notificationSecret(): string | undefined;
  close(): Promise<void>;
}

/** Wires the application for a configuration. */
export function createApp(options: AppOptions): App {
  const { config, env } = options;
  const byHost = new Map<string, RegistryConfig>();
  for (const r of config.registries.values()) {
    // Connection settings are per host:port: two registries there must agree on them, or one
    // would silently get the other's (an https:// registry used over plain HTTP).
    const other = byHost.get(r.host);
    if (
      other &&
      (other.scheme !== r.scheme || other.tlsVerify !== r.tlsVerify || other.caFile !== r.caFile)
    ) {
      throw new GantryError(
        'CONFIG_INVALID',
        `${config.file}: registries.${r.name}: ${r.host} is also registry "${other.name}" with other connection settings (${other.scheme}://, tls.verify ${String(other.tlsVerify)} vs ${r.scheme}://, tls.verify ${String(r.tlsVerify)}); one host:port has one scheme and one TLS setting`,
      );
    }
    byHost.set(r.host, r);
  }
  const providers = new Map<string, CredentialProvider>();
  for (const r of config.registries.values()) {
    if (r.credentials) providers.set(r.host, providerFor(r, r.credentials, env));
  }
  const cas = new Map<string, string>();
  const client = createRegistryClient({
    providers,
    authFile: options.authFile,
    ...(options.referrerLock && { referrerLock: options.referrerLock }),
    helperEnv: definedEnv(env),
    hostSettings: (host): HostSettings => {
      const r = byHost.get(host);
      if (!r) return {};
      let ca = cas.get(host);
      if (r.caFile && ca === undefined) {
        try {
          ca = readFileSync(r.caFile, 'utf8');
        } catch {
          throw configError(config, ['registries', r.name, 'tls', 'ca'], `cannot read ${r.caFile}`);
        }
        cas.set(host, ca);
      }
      return {
        scheme: r.scheme,
        ...(r.tlsVerify === false && { tlsVerify: false }),
        ...(ca !== undefined && { ca }),
      };
    },
  });
  const trust = attestationTrust(config, env);
  // Every reader of promotion records sees only the ones that count (issue 10.3).
  const raw = registryPort(client);
  const registry = trustedRegistry(raw, trust);
  // Only commands that sign load the private key (read-only commands need no secret).
  const signing = lazySigner(config, env);
  const policyTransport = new HttpTransport({ retry: { maxAttempts: 1 } });
  let known: readonly KnownApprover[] | undefined;
  const approvers = (): readonly KnownApprover[] =>
    (known ??= [...config.approvers.values()].map((a) => ({
      name: a.name,
      groups: a.groups,
      publicKeyPem: readConfigured(config, a.keyFile, `approvers.${a.name}.key`),
    })));
  const gates: GateEvaluator = async (env, candidate, context) => {
    const facts = await gatherFacts(
      {
        // Gates check promotion records themselves, and say which ones they ignored and why.
        registry: raw,
        config,
        approvers: env.gates.some((g) => g.name === 'approval') ? approvers() : [],
        readKey: (path) => readConfigured(config, path, `environments.${env.name}.gates.signature`),
        policy: (url, input, timeoutMs) => askPolicy(policyTransport, url, input, timeoutMs),
        now: context.now,
        requester: context.requester,
        trust,
        reports: context.reports,
        ...(options.approvals && { approvalSources: [options.approvals] }),
      },
      context.app,
      context.from,
      env,
      candidate,
      context.version,
    );
    return { gates: evaluateGates(env.gates, facts), approvals: countedApprovals(env.gates, facts) };
  };
  const promotions = new ConfiguredPromotions(
    {
      config,
      registry,
      ...(options.actor !== undefined && { actor: options.actor }),
      gates,
      ...(options.ledger && { ledger: options.ledger }),
      ...(signing.signer && { signer: signing.signer }),
    },
    () => {
      if (trust.required && !signing.signer)
        throw new GantryError(
          'CONFIG_INVALID',
          `${config.file}: attestation: public keys are configured but no signing key (attestation.key or attestation.keyEnv): the promotion record would not count`,
        );
      signing.load();
    },
  );
  return {
    config,
    client,
    registry,
    promotions,
    approvers,
    trust,
    notificationSecret: () => {
      const name = config.events?.secretEnv;
      const value = name === undefined ? undefined : env[name];
      return value === undefined || value === '' ? undefined : value;
    },
    close: async () => {
      await Promise.all([client.close(), policyTransport.close()]);
    },
  };
}

/**
 * The promotion service as the configuration wires it: the signing key is loaded (and a missing
 * one reported) before anything is written by a command that signs, never by one that only reads.
 */
class ConfiguredPromotions extends PromotionService {
  readonly #loadSigner: () => void;

  constructor(options: PromotionServiceOptions, loadSigner: () => void) {
    super(options);
    this.#loadSigner = loadSigner;
  }

  override async promote(req: PromoteRequest): Promise<PromotionOutcome> {
    if (!req.dryRun) this.#loadSigner();
    return await super.promote(req);
  }

  override async promoteRelease(req: ReleaseRequest): Promise<ReleaseOutcome> {
    if (!req.dryRun) this.#loadSigner();
    return await super.promoteRelease(req);
  }

  override async rollback(app: string, env: string, to?: string, req?: Requester): Promise<RollbackOutcome> {
    this.#loadSigner();
    return await super.rollback(app, env, to, req);
  }

  override async start(plan: PromotionPlan, options?: StepOptions): Promise<PromotionProgress> {
    this.#loadSigner();
    return await super.start(plan, options);
  }

  /** An applier writes tags and records: a missing signing key stops it before it is made. */
  override applier(options?: ApplierOptions): PromotionApplier {
    this.#loadSigner();
    return super.applier(options);
  }
}

export { attestationPublicKeys, attestationTrust, loadConfiguredSigner } from './app-signing.js';
export {
  describeImage,
  imageDetails,
  referrerKind,
  summarizeReport,
  type ImageDetails,
  type InspectReferrer,
  type InspectResult,
  type ReferrerKind,
  type VulnerabilitySummary,
} from './app-inspect.js';

// The domain as the CLI (and the server) see it: they import from this root only
// (.dependency-cruiser.cjs, docs/decisions/0010-promotion-state-machine.md).
export {
  createRegistryClient,
  definedEnv,
  registryPort,
  type RegistryClientSettings,
} from './app-registry.js';
export type { ReferrerLock } from './registry/index.js';
export {
  RegistryClient,
  isValidRegistryHost,
  isValidTag,
  normalizeRegistryHost,
  parseCredsFlag,
  parseReference,
  parseRepository,
  removeLogin,
  saveLogin,
  type Credential,
  type Descriptor,
  type HostSettings,
  type Manifest,
  type Reference,
} from './registry/index.js';
export {
  OciLayoutTarget,
  RegistryTarget,
  Scheduler,
  copyImage,
  copyRepository,
  formatPlatform,
  isOciLayoutReference,
  parseOciLayoutReference,
  parsePlatform,
  type CopyEvent,
  type CopyListener,
  type CopyRepositoryResult,
  type CopyResult,
  type ReadTarget,
  type WriteTarget,
} from './copy/index.js';
export {
  approverOfKey,
  artifactOf,
  loadSigner,
  parseVulnerabilityReport,
  sameIdentity,
  verifyPromotion,
  unreadableEnvironments,
  type CandidateList,
  type EnvironmentState,
  type PromotionCandidate,
  type PromotionOutcome,
} from './promotion/index.js';
// What a job runner (src/jobs) needs of the promotion layer: plans, progress and their states.
export {
  PromotionStates,
  TerminalStates,
  initialProgress,
  isTerminal,
  outcomeOf,
  storedFact,
  subjectOf,
  type ApprovalSource,
  type ApprovalSubject,
  type ContentCopy,
  type CopyProgress,
  type LedgerEvent,
  type LedgerEventType,
  type LedgerPort,
  type PlainError,
  type PromotionPlan,
  type PromotionProgress,
  type PromotionState,
  type ReleaseOutcome,
  type RollbackOutcome,
  type StepOptions,
  type StoredApproval,
} from './promotion/index.js';
export { pinFile, type PinChange, type PinResult, type PinTarget, type PinUnpinned } from './pin/index.js';
// Lifecycle jobs (issue 14): `gantry gc` (promotion-aware retention) and `gantry sync` (mirrors).
export { DEFAULT_GC_KEEP, DEFAULT_GC_OLDER_THAN_MS, runGc, type GcApp } from './app-gc.js';
export {
  isOwnMirror,
  matchesPattern,
  runSync,
  syncJobs,
  targetRepository,
  type SyncApp,
} from './app-sync.js';
export type {
  GcRunOptions,
  KeepReason,
  LifecycleItem,
  LifecycleProgress,
  LifecycleReport,
  LifecycleRunOptions,
  SyncRunOptions,
} from './app-lifecycle.js';
