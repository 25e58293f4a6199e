/**
 * Semantic checks and normalisation of a schema-valid configuration: references between sections,
 * regexes, tag names, cycles in `from`, and tag-mode environments sharing their source's
 * repository. Problems are returned as values with their key paths.
 */
import type {
  ApplicationConfig,
  Config,
  CredentialSource,
  EnvironmentConfig,
  RegistryConfig,
} from './config.js';
import type { RawConfig } from './schema.js';
import { suggest } from './problems.js';
import { toGateConfig } from './gates-schema.js';
import { compileSafeRegex } from './safe-regex.js';
import { parseDuration } from './duration.js';
import { isValidRegistryHost } from '../registry/index.js';
import { isValidTag } from '../core/index.js';
import { normalizeWebhooks } from './webhooks.js';
import { normalizeRetention, normalizeSync } from './lifecycle.js';

/** A problem before positions are attached. */
export interface PathProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const PATH_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/** Normalises `raw`; returns the config, or the problems found. */
export function normalizeConfig(file: string, raw: RawConfig): { config?: Config; problems: PathProblem[] } {
  const problems: PathProblem[] = [];
  const registries = new Map<string, RegistryConfig>();
  /** Registries already reported as broken: environments using them are not reported again. */
  const broken = new Set<string>();
  for (const [name, r] of Object.entries(raw.registries)) {
    let url: URL | undefined;
    const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(r.url)?.[1];
    const why = registryUrlProblem(r.url, authority);
    if (why) {
      broken.add(name);
      problems.push({ path: ['registries', name, 'url'], message: why });
      continue;
    }
    try {
      url = new URL(r.url);
    } catch {
      broken.add(name);
      problems.push({
        path: ['registries', name, 'url'],
        message: `"${r.url}" is not a URL (expected https://host[:port])`,
      });
      continue;
    }
    if (authority !== undefined && url.hostname !== authority.toLowerCase().replace(/:\d+$/, '')) {
      broken.add(name);
      problems.push({
        path: ['registries', name, 'url'],
        message: `"${r.url}" has an invalid host (it would mean ${url.hostname}; write that instead)`,
      });
      continue;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      problems.push({
        path: ['registries', name, 'url'],
        message: `scheme must be https or http, got ${url.protocol}`,
      });
      continue;
    }
    if (url.pathname !== '/' && url.pathname !== '') {
      problems.push({
        path: ['registries', name, 'url'],
        message: 'a registry URL has no path (put repository paths in environment prefixes)',
      });
    }
    const credentials = credentialSource(r.credentials);
    registries.set(
      name,
      Object.freeze({
        name,
        host: url.host,
        scheme: url.protocol === 'http:' ? 'http' : 'https',
        tlsVerify: r.tls?.verify ?? true,
        ...(r.tls?.ca !== undefined && { caFile: r.tls.ca }),
        ...(r.concurrency !== undefined && { concurrency: r.concurrency }),
        ...(credentials && { credentials }),
      }),
    );
  }

  const envNames = Object.keys(raw.environments);
  const environments = new Map<string, EnvironmentConfig>();
  for (const [name, e] of Object.entries(raw.environments)) {
    const at = (...rest: (string | number)[]) => ['environments', name, ...rest];
    const registry = registries.get(e.registry);
    if (!registry && broken.has(e.registry)) continue;
    if (!registry) {
      const hint = suggest(e.registry, [...registries.keys()]);
      problems.push({
        path: at('registry'),
        message: `unknown registry "${e.registry}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
      });
      continue;
    }
    const prefix = e.prefix.replace(/^\/+|\/+$/g, '');
    if (prefix && !PATH_RE.test(prefix)) {
      problems.push({
        path: at('prefix'),
        message: `"${e.prefix}" is not a valid repository path (lowercase, "/"-separated)`,
      });
    }
    e.from.forEach((f, i) => {
      if (!raw.environments[f]) {
        const hint = suggest(f, envNames);
        problems.push({
          path: at('from', i),
          message: `unknown environment "${f}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
        });
      } else if (f === name) {
        problems.push({ path: at('from', i), message: 'an environment cannot be promoted from itself' });
      }
    });
    const immutable: RegExp[] = [];
    (e.tags?.immutable ?? []).forEach((pattern, i) => {
      const compiled = compileSafeRegex(pattern);
      if (compiled instanceof RegExp) immutable.push(compiled);
      else problems.push({ path: at('tags', 'immutable', i), message: compiled.problem });
    });
    (e.tags?.floating ?? []).forEach((tag, i) => {
      if (!isValidTag(tag))
        problems.push({ path: at('tags', 'floating', i), message: `"${tag}" is not a valid tag` });
      else if (immutable.some((re) => re.test(tag))) {
        problems.push({
          path: at('tags', 'floating', i),
          message: `"${tag}" is also matched by an immutable pattern`,
        });
      }
    });
    if (e.mode === 'tag') {
      if (!e.tag)
        problems.push({
          path: at('tag'),
          message: 'mode: tag needs the environment tag to move, e.g. tag: staging',
        });
      else if (!isValidTag(e.tag))
        problems.push({ path: at('tag'), message: `"${e.tag}" is not a valid tag` });
      if (e.from.length === 0)
        problems.push({
          path: at('from'),
          message: 'mode: tag needs a from: environment whose repository it shares',
        });
    } else if (e.tag !== undefined) {
      problems.push({ path: at('tag'), message: 'tag: is only used with mode: tag' });
    }
    const poll = pollInterval(e.poll, e.mode, (message) => problems.push({ path: at('poll'), message }));
    const retention = normalizeRetention(e.retention, at, problems);
    // A last stage (nothing promotes from it) is protected unless the file says otherwise.
    const isLastStage = !Object.values(raw.environments).some((other) => other.from.includes(name));
    if (e.auto && e.from.length === 0)
      problems.push({
        path: at('auto'),
        message: 'auto: true promotes new candidates of a source environment: it needs from: [ENV]',
      });
    environments.set(
      name,
      Object.freeze({
        name,
        registry,
        prefix,
        mode: e.mode,
        ...(e.tag !== undefined && { tag: e.tag }),
        from: Object.freeze([...e.from]),
        immutable: Object.freeze(immutable),
        floating: Object.freeze([...(e.tags?.floating ?? []), ...(e.mode === 'tag' && e.tag ? [e.tag] : [])]),
        gates: Object.freeze(e.gates.map((g) => Object.freeze(toGateConfig(g)))),
        auto: e.auto,
        allowOverride: e.allowOverride,
        ...(poll !== undefined && { poll }),
        protected: e.protected ?? isLastStage,
        ...(retention && { retention }),
      }),
    );
  }

  for (const env of environments.values()) {
    if (env.mode !== 'tag') continue;
    env.from.forEach((f, i) => {
      const src = environments.get(f);
      if (src && (src.registry.host !== env.registry.host || src.prefix !== env.prefix)) {
        problems.push({
          path: ['environments', env.name, 'from', i],
          message: `mode: tag shares the repository of its source, but "${f}" is ${src.registry.host}/${src.prefix || '(no prefix)'} and this is ${env.registry.host}/${env.prefix || '(no prefix)'}`,
        });
      }
    });
  }
  const cycle = findCycle(raw);
  if (cycle)
    problems.push({
      path: ['environments', cycle[0] ?? '', 'from'],
      message: `promotion cycle: ${cycle.join(' → ')}`,
    });

  const applications = new Map<string, ApplicationConfig>();
  raw.applications.forEach((a, i) => {
    const app =
      typeof a === 'string'
        ? { name: a, repository: a }
        : { name: a.name, repository: a.repository ?? a.name };
    if (applications.has(app.name))
      problems.push({ path: ['applications', i], message: `application "${app.name}" is listed twice` });
    if (!PATH_RE.test(app.repository))
      problems.push({
        path: ['applications', i],
        message: `"${app.repository}" is not a valid repository path`,
      });
    applications.set(app.name, Object.freeze(app));
  });

  const teams = new Map<string, readonly string[]>();
  for (const [team, apps] of Object.entries(raw.teams)) {
    apps.forEach((a, i) => {
      if (!applications.has(a))
        problems.push({ path: ['teams', team, i], message: `application "${a}" is not in applications` });
    });
    teams.set(team, Object.freeze([...new Set(apps)]));
  }

  const approvers = new Map(
    Object.entries(raw.approvers).map(
      ([n, a]) =>
        [n, Object.freeze({ name: n, groups: Object.freeze([...a.groups]), keyFile: a.key })] as const,
    ),
  );
  const groups = new Set([...approvers.values()].flatMap((a) => a.groups));
  for (const env of environments.values()) {
    env.gates.forEach((g, i) => {
      if (g.name !== 'approval') return;
      // Without `approvers:`, approvals come only through `gantry serve` (API tokens carry the
      // approver's groups); with them, signed approvals count too and must be able to pass.
      for (const group of g.options.groups) {
        if (approvers.size > 0 && !groups.has(group)) {
          problems.push({
            path: ['environments', env.name, 'gates', i, 'approval', 'groups'],
            message: `no approver is in group "${group}"`,
          });
        }
      }
      if (approvers.size > 0 && approvers.size < g.options.count) {
        problems.push({
          path: ['environments', env.name, 'gates', i, 'approval', 'count'],
          message: `needs ${g.options.count} approvers but only ${approvers.size} are configured`,
        });
      }
    });
    env.gates.forEach((g, i) => {
      if (
        (g.name === 'previous-env' || g.name === 'soak') &&
        !environments.has(g.options.env) &&
        !raw.environments[g.options.env]
      ) {
        const hint = suggest(g.options.env, envNames);
        problems.push({
          path: ['environments', env.name, 'gates', i, g.name, 'env'],
          message: `unknown environment "${g.options.env}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
        });
      }
    });
  }

  const webhooks = normalizeWebhooks(raw.webhooks, problems);
  const sync = normalizeSync(raw.sync, new Set(Object.keys(raw.registries)), problems);

  if (problems.length > 0) return { problems };
  const attestation = raw.attestation
    ? Object.freeze({
        ...(raw.attestation.key !== undefined && { keyFile: raw.attestation.key }),
        ...(raw.attestation.keyEnv !== undefined && { keyEnv: raw.attestation.keyEnv }),
        publicKeyFiles: Object.freeze([
          ...(raw.attestation.publicKey !== undefined ? [raw.attestation.publicKey] : []),
          ...(raw.attestation.trustedKeys ?? []),
        ]),
      })
    : undefined;
  return {
    problems,
    config: Object.freeze({
      file,
      registries,
      environments,
      applications,
      approvers,
      teams,
      webhooks,
      sync,
      ...(attestation && { attestation }),
      ...(raw.events && { events: Object.freeze({ ...raw.events }) }),
    }),
  };
}

/** Shortest `poll:` interval: a registry is not listed more often than this. */
export const MIN_POLL_MS = 10_000;

function pollInterval(
  text: string | undefined,
  mode: 'copy' | 'tag',
  problem: (message: string) => void,
): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined) problem(`"${text}" is not a duration (e.g. 30s, 1m, 1h)`);
  else if (ms < MIN_POLL_MS) problem(`"${text}" is too often: poll at most every 10s`);
  else if (mode === 'tag')
    problem(
      "poll: watches pushes to an environment's own repository; a mode: tag environment has none (poll its source)",
    );
  else return ms;
  return undefined;
}

function credentialSource(c: RawConfig['registries'][string]['credentials']): CredentialSource | undefined {
  if (!c) return undefined;
  if ('helper' in c) return { kind: 'helper', helper: c.helper };
  if ('env' in c) return { kind: 'env', env: c.env };
  if ('usernameEnv' in c) return { kind: 'env-pair', usernameEnv: c.usernameEnv, passwordEnv: c.passwordEnv };
  return { kind: 'docker-config', path: c.dockerConfig };
}

function findCycle(raw: RawConfig): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, 'visiting');
    stack.push(name);
    for (const f of raw.environments[name]?.from ?? []) {
      if (!raw.environments[f]) continue;
      const c = visit(f);
      if (c) return c;
    }
    stack.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const name of Object.keys(raw.environments)) {
    const c = visit(name);
    if (c) return c;
  }
  return undefined;
}

/**
 * Why a registry URL cannot be used, checked on the text as written: a URL parser would quietly
 * turn `https://1.2.3` into `1.2.0.3` and accept port 0, and credentials belong in `credentials:`.
 */
function registryUrlProblem(text: string, authority: string | undefined): string | undefined {
  if (authority === undefined) return undefined; // not a URL at all: reported below
  if (authority.includes('@')) {
    return 'a registry URL must not contain credentials (use credentials: instead)';
  }
  if (authority.length > 0 && !isValidRegistryHost(authority.toLowerCase())) {
    return `"${text}" has an invalid host or port (expected https://host[:port], port 1-65535)`;
  }
  return undefined;
}
