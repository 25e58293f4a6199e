/**
 * The composition root: turns a validated configuration into a registry client with the right
 * credentials and TLS per registry, the promotion service's registry port (registry client +
 * copy engine), and the promotion service itself. The only place that wires layers together.
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GantryError, isGantryError, type Digest } from './core/index.js';
import type { Config, CredentialSource, RegistryConfig } from './config/index.js';
import { atConfigKey, configError } from './config/index.js';
import { RegistryTarget, Scheduler, copyImage } from './copy/index.js';
import {
  PromotionService,
  UNAUTHENTICATED,
  evaluateGates,
  gatherFacts,
  loadSigner,
  trustedRegistry,
  type GateEvaluator,
  type KnownApprover,
  type PolicyFact,
  type PromoteRequest,
  type PromotionOutcome,
  type PromotionServiceOptions,
  type PromotionTrust,
  type RegistryPort,
  type ReleaseOutcome,
  type ReleaseRequest,
  type RollbackOutcome,
  type Signer,
  countedApprovals,
  type ApprovalSource,
  type LedgerPort,
  type PromotionPlan,
  type PromotionProgress,
  type Requester,
  type StepOptions,
} from './promotion/index.js';
import {
  DockerConfigCredentials,
  HttpTransport,
  RegistryClient,
  helperCredentials,
  parseCredsFlag,
  type Credential,
  type CredentialProvider,
  type HostSettings,
  type Repository,
} from './registry/index.js';

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
  const fallback = new DockerConfigCredentials({ path: options.authFile, helperEnv: definedEnv(env) });
  const providers = new Map<string, CredentialProvider>();
  for (const r of config.registries.values()) {
    if (r.credentials) providers.set(r.host, providerFor(r, r.credentials, env));
  }
  const credentials: CredentialProvider = {
    get: (host, repository) => (providers.get(host) ?? fallback).get(host, repository),
  };
  const cas = new Map<string, string>();
  const client = new RegistryClient({
    credentials,
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
}

function readConfigured(config: Config, path: string, where: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw configError(config, where.split('.'), `cannot read ${path}`);
  }
}

/** Refuses a public key where the private key belongs, with a message that says so. */
function publicKeyCheck(pem: string, origin: string): string {
  if (/-----BEGIN (?:RSA )?PUBLIC KEY-----/.test(pem)) {
    throw new GantryError(
      'USAGE_INVALID',
      `${origin} is a public key; attestations are signed with the private key (verifiers use the public one)`,
    );
  }
  return pem;
}

/** Asks a policy service (OPA style); any error, timeout or odd answer denies. */
async function askPolicy(
  transport: HttpTransport,
  url: string,
  input: unknown,
  timeoutMs: number,
): Promise<PolicyFact> {
  try {
    const res = await transport.request({
      method: 'POST',
      url: new URL(url),
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: Buffer.from(JSON.stringify({ input })),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res.body as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > 1024 * 1024) return { error: 'answer larger than 1 MiB' };
      chunks.push(c);
    }
    if (res.status !== 200) return { error: `HTTP ${res.status}` };
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      result?: unknown;
      allow?: unknown;
      reasons?: unknown;
    };
    const answer = (body.result !== undefined ? body.result : body) as { allow?: unknown; reasons?: unknown };
    if (typeof answer?.allow !== 'boolean') return { error: 'the answer has no boolean "allow"' };
    const reasons = Array.isArray(answer.reasons)
      ? answer.reasons.filter((r): r is string => typeof r === 'string')
      : [];
    return { allow: answer.allow, reasons };
  } catch (err) {
    if (isGantryError(err, 'REGISTRY_TIMEOUT')) return { error: `no answer within ${timeoutMs} ms` };
    return { error: err instanceof Error ? err.message : 'request failed' };
  }
}

function definedEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

function providerFor(
  r: RegistryConfig,
  source: CredentialSource,
  env: Readonly<Record<string, string | undefined>>,
): CredentialProvider {
  const where = `registries.${r.name}.credentials`;
  const fromEnv = (name: string): string => {
    const v = env[name];
    if (!v) throw new GantryError('CREDENTIALS_INVALID', `${where}: environment variable ${name} is not set`);
    return v;
  };
  switch (source.kind) {
    case 'helper':
      return helperCredentials(source.helper, { env: definedEnv(env) });
    case 'docker-config':
      return new DockerConfigCredentials({ path: source.path, helperEnv: definedEnv(env) });
    case 'env':
    case 'env-pair': {
      let cached: Credential | undefined;
      return {
        get: () => {
          cached ??=
            source.kind === 'env'
              ? parseCredsFlag(fromEnv(source.env))
              : { username: fromEnv(source.usernameEnv), password: fromEnv(source.passwordEnv) };
          return Promise.resolve(cached);
        },
      };
    }
  }
}

/**
 * The configured attestation signer, loaded on first use: `signer` is a stand-in whose key is read
 * when a signature is made, and `load()` reads it up front (commands that sign call it before
 * writing anything, so a missing key stops them early).
 */
function lazySigner(
  config: Config,
  env: Readonly<Record<string, string | undefined>>,
): { signer?: Signer; load: () => void } {
  const a = config.attestation;
  if (!a?.keyEnv && !a?.keyFile) return { load: () => undefined };
  let loaded: Signer | undefined;
  const get = (): Signer => (loaded ??= loadConfiguredSigner(config, env) as Signer);
  return {
    signer: {
      get keyid() {
        return get().keyid;
      },
      get key() {
        return get().key;
      },
    },
    load: () => void get(),
  };
}

/** Loads the configured attestation private key; `undefined` when none is configured. */
export function loadConfiguredSigner(
  config: Config,
  env: Readonly<Record<string, string | undefined>>,
): Signer | undefined {
  const a = config.attestation;
  if (!a) return undefined;
  if (a.keyEnv) {
    const pem = env[a.keyEnv];
    if (!pem)
      throw configError(config, ['attestation', 'keyEnv'], `environment variable ${a.keyEnv} is not set`);
    return atConfigKey(config, ['attestation', 'keyEnv'], () =>
      loadSigner(publicKeyCheck(pem, `environment variable ${a.keyEnv}`), `environment variable ${a.keyEnv}`),
    );
  }
  if (a.keyFile) {
    let pem: string;
    try {
      pem = readFileSync(a.keyFile, 'utf8');
    } catch {
      throw configError(config, ['attestation', 'key'], `cannot read ${a.keyFile}`);
    }
    return atConfigKey(config, ['attestation', 'key'], () =>
      loadSigner(publicKeyCheck(pem, a.keyFile ?? ''), a.keyFile ?? ''),
    );
  }
  return undefined;
}

/**
 * Which promotion records count under the configuration: with no attestation key configured,
 * every intact record (unauthenticated); with one, only records signed by a trusted key.
 */
export function attestationTrust(
  config: Config,
  env: Readonly<Record<string, string | undefined>>,
): PromotionTrust {
  const a = config.attestation;
  if (!a?.keyEnv && !a?.keyFile && !a?.publicKeyFiles?.length) return UNAUTHENTICATED;
  let keys: readonly string[] | undefined;
  return Object.freeze({
    required: true,
    publicKeys: () => (keys ??= attestationPublicKeys(config, env)),
  });
}

/**
 * The trusted public keys (PEM) of promotion records: `attestation.publicKey` and
 * `attestation.trustedKeys`, plus the public half of the signing key when it is at hand. Throws
 * `CONFIG_INVALID` when a key file cannot be read, or when no key at all is available.
 */
export function attestationPublicKeys(
  config: Config,
  env: Readonly<Record<string, string | undefined>>,
): string[] {
  const a = config.attestation;
  const keys: string[] = [];
  for (const file of a?.publicKeyFiles ?? []) {
    const pem = readConfigured(config, file, 'attestation.publicKey');
    try {
      keys.push(createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString());
    } catch {
      throw new GantryError(
        'CONFIG_INVALID',
        `${config.file}: attestation.publicKey: ${file} is not a PEM public key`,
      );
    }
  }
  const privateAvailable = a?.keyFile !== undefined || (a?.keyEnv !== undefined && Boolean(env[a.keyEnv]));
  if (privateAvailable) {
    const signer = loadConfiguredSigner(config, env);
    if (signer) keys.push(createPublicKey(signer.key).export({ type: 'spki', format: 'pem' }).toString());
  }
  if (keys.length === 0) {
    throw new GantryError(
      'CONFIG_INVALID',
      `${config.file}: attestation: cannot check signed promotion records: ${a?.keyEnv ? `environment variable ${a.keyEnv} is not set` : 'no key is configured'} and there is no attestation.publicKey`,
    );
  }
  return keys;
}

/** The promotion service's view of registries, implemented with the registry client and the copy engine. */
export function registryPort(client: RegistryClient, scheduler: Scheduler = new Scheduler()): RegistryPort {
  return {
    manifest: (repo, reference) => client.manifestGet(ref(repo, reference)),
    resolve: async (repo, reference) => (await client.manifestHead(ref(repo, reference)))?.digest,
    blob: async (repo, descriptor) => {
      const chunks: Buffer[] = [];
      for await (const c of client.blobGet(repo, descriptor.digest, {
        size: descriptor.size,
      }) as AsyncIterable<Buffer>)
        chunks.push(c);
      return Buffer.concat(chunks);
    },
    tags: async (repo) => {
      try {
        return await client.tagList(repo);
      } catch (err) {
        if (isGantryError(err, 'REGISTRY_NAME_UNKNOWN', 'REGISTRY_NOT_FOUND')) return [];
        throw err;
      }
    },
    referrers: async (repo, digest, artifactType) =>
      (await client.referrersList(repo, digest, artifactType)).descriptors,
    copy: async (source, target, digest, opts) => {
      const r = await copyImage(
        new RegistryTarget(client, source),
        digest,
        new RegistryTarget(client, target),
        {
          scheduler,
          ...(opts?.dryRun && { dryRun: true }),
        },
      );
      return {
        bytesTransferred: r.dryRun ? r.bytesPlanned : r.bytesTransferred,
        blobsCopied: r.blobs.copied,
        blobsMounted: r.blobs.mounted,
        blobsSkipped: r.blobs.skipped,
      };
    },
    tag: async (repo, tag, manifest) => {
      await client.manifestPut(repo, tag, manifest.bytes, manifest.mediaType);
    },
    deleteTag: (repo, tag) => client.tagDelete(repo, tag),
    attach: async (repo, artifact) => {
      for (const [digest, bytes] of artifact.blobs) {
        if ((await client.blobHead(repo, digest)) === undefined)
          await client.blobUpload(repo, digest, bytes.byteLength, bytes);
      }
      await client.referrerPush(repo, artifact.manifest, artifact.mediaType);
    },
  };
}

function ref(repo: Repository, reference: string) {
  return reference.includes(':')
    ? { registry: repo.registry, repository: repo.repository, digest: reference as Digest }
    : { registry: repo.registry, repository: repo.repository, tag: reference };
}
