/**
 * The composition root: turns a validated configuration into a registry client with the right
 * credentials and TLS per registry, the promotion service's registry port (registry client +
 * copy engine), and the promotion service itself. The only place that wires layers together.
 */
import { readFileSync } from 'node:fs';
import { GantryError, isGantryError, type Digest } from './core/index.js';
import type { Config, CredentialSource, RegistryConfig } from './config/index.js';
import { RegistryTarget, Scheduler, copyImage } from './copy/index.js';
import {
  PromotionService,
  evaluateGates,
  gatherFacts,
  loadSigner,
  type GateEvaluator,
  type PolicyFact,
  type RegistryPort,
  type Signer,
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
  /** Who is acting, recorded in attestations. */
  readonly actor: string;
}

/** The wired application. */
export interface App {
  readonly config: Config;
  readonly client: RegistryClient;
  readonly registry: RegistryPort;
  readonly promotions: PromotionService;
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
          throw new GantryError(
            'CONFIG_INVALID',
            `${config.file}: registries.${r.name}.tls.ca: cannot read ${r.caFile}`,
          );
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
  const registry = registryPort(client);
  const signer = loadConfiguredSigner(config, env);
  const policyTransport = new HttpTransport({ retry: { maxAttempts: 1 } });
  const approvers = () =>
    [...config.approvers.values()].map((a) => ({
      name: a.name,
      groups: a.groups,
      publicKeyPem: readConfigured(config, a.keyFile, `approvers.${a.name}.key`),
    }));
  const gates: GateEvaluator = async (env, candidate, context) => {
    const facts = await gatherFacts(
      {
        registry,
        config,
        approvers: env.gates.some((g) => g.name === 'approval') ? approvers() : [],
        readKey: (path) => readConfigured(config, path, `environments.${env.name}.gates.signature`),
        policy: (url, input, timeoutMs) => askPolicy(policyTransport, url, input, timeoutMs),
        now: new Date(),
        requester: options.actor,
        reports: context.reports,
      },
      context.app,
      context.from,
      env,
      candidate,
      context.version,
    );
    return evaluateGates(env.gates, facts);
  };
  const promotions = new PromotionService({
    config,
    registry,
    actor: options.actor,
    gates,
    ...(signer && { signer }),
  });
  return {
    config,
    client,
    registry,
    promotions,
    close: async () => {
      await Promise.all([client.close(), policyTransport.close()]);
    },
  };
}

function readConfigured(config: Config, path: string, where: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new GantryError('CONFIG_INVALID', `${config.file}: ${where}: cannot read ${path}`);
  }
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

function loadConfiguredSigner(
  config: Config,
  env: Readonly<Record<string, string | undefined>>,
): Signer | undefined {
  const a = config.attestation;
  if (!a) return undefined;
  if (a.keyEnv) {
    const pem = env[a.keyEnv];
    if (!pem)
      throw new GantryError(
        'CONFIG_INVALID',
        `${config.file}: attestation.keyEnv: environment variable ${a.keyEnv} is not set`,
      );
    return loadSigner(pem, `environment variable ${a.keyEnv}`);
  }
  if (a.keyFile) {
    let pem: string;
    try {
      pem = readFileSync(a.keyFile, 'utf8');
    } catch {
      throw new GantryError('CONFIG_INVALID', `${config.file}: attestation.key: cannot read ${a.keyFile}`);
    }
    return loadSigner(pem, a.keyFile);
  }
  return undefined;
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
