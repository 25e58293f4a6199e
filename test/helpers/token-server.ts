/**
 * A FAKE Docker token server (https://distribution.github.io/distribution/spec/auth/token/ and
 * https://distribution.github.io/distribution/spec/auth/oauth/) for registries started with
 * `auth: 'token'`. It runs in-process on a free 127.0.0.1 port, signs ES256 JWTs that
 * distribution 2.8.2 accepts (header `x5c` holds the self-signed signing certificate, which is also
 * the registry's `rootcertbundle`) and records every request so tests can assert how many tokens a
 * client fetched and with which scopes.
 */
import { X509Certificate, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signEs256Jwt } from './jwt.js';
import { runCommand } from './run-command.js';
import { defaultTestUsers, type TestUser } from './test-users.js';

/** One entry of a token's `access` claim. */
export interface TokenAccess {
  /** Resource type, normally `repository` (or `registry` for `registry:catalog:*`). */
  type: string;
  /** Resource name, e.g. `team/app`. */
  name: string;
  /** Granted actions, e.g. `['pull', 'push']`. */
  actions: string[];
}

/** What the token server saw in one request to `/token`. */
export interface TokenRequestRecord {
  /** `GET` (token spec) or `POST` (OAuth2 spec). */
  method: string;
  /** Every requested scope string in order (GET: each `scope` parameter; POST: the space-separated list). */
  scopes: string[];
  /** Username presented (Basic auth, form `username`, or owner of the refresh token), valid or not. */
  user?: string;
  /** OAuth2 `grant_type` of POST requests. */
  grantType?: string;
  /** The `service` parameter. */
  service?: string;
  /** The `client_id` parameter. */
  clientId?: string;
  /** True when a refresh token was asked for (`access_type=offline` / `offline_token=true`). */
  offline: boolean;
  /** HTTP status the server answered with. */
  status: number;
  /** The access the issued token grants (absent when no token was issued). */
  granted?: TokenAccess[];
}

/** A canned answer for {@link StartTokenServerOptions.override}. */
export interface TokenServerOverride {
  /** HTTP status. */
  status: number;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /** Response body (a string or bytes; objects are sent as JSON). */
  body?: string | Buffer | object;
}

/** Options of {@link startTokenServer}. */
export interface StartTokenServerOptions {
  /** Accepted users (default: alice / wonderland-secret). */
  users?: readonly TestUser[];
  /** `aud` of issued tokens and the expected `service` (default `gantry-test-registry`). */
  service?: string;
  /** `iss` of issued tokens (default `gantry-test-issuer`). */
  issuer?: string;
  /**
   * Repositories anonymous clients may pull (they never get more than `pull`). Default: none —
   * anonymous requests still get a token, with an empty access list, as real token servers do.
   */
  anonymousPull?: RegExp | readonly string[] | ((repository: string) => boolean);
  /**
   * Actions `user` may perform on `repository` (`'*'` means all). The granted actions are the
   * requested ones intersected with these. Default: everything requested.
   */
  acl?: (user: string, repository: string) => readonly string[];
  /** Makes `POST /token` answer 404, so clients must fall back to `GET`. */
  disablePost?: boolean;
  /** Token lifetime in seconds, sent as `expires_in` and used for `exp` (default 300). */
  expiresIn?: number;
  /**
   * Called before normal handling with the request number (1-based) and what was parsed; return a
   * response to send instead (e.g. a 500) or `undefined` to handle the request normally.
   */
  override?: (request: TokenRequestRecord, n: number) => TokenServerOverride | undefined;
  /** Directory for the signing key and certificate (default: a fresh temp dir, removed by `stop()`). */
  dir?: string;
}

/** A running fake token server. */
export interface TokenServer {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** The token endpoint (`${url}/token`), used as the registry's `realm`. */
  realm: string;
  /** `service` expected by the registry. */
  service: string;
  /** `iss` of issued tokens. */
  issuer: string;
  /** Path of the self-signed signing certificate (PEM) — the registry's `rootcertbundle`. */
  certPemPath: string;
  /** The signing certificate, PEM. */
  certPem: string;
  /** Every request to `/token`, in order. */
  requests: TokenRequestRecord[];
  /** Signs a token directly (no HTTP), e.g. to craft one for the wrong repository. */
  issueToken(subject: string, access: readonly TokenAccess[], options?: { expiresIn?: number }): string;
  /** Closes the server and removes the temp dir it created. */
  stop(): Promise<void>;
}

interface Credentials {
  username: string;
  password: string;
}

/** Parses `type:name:actions` (the name may itself contain colons, e.g. a port). */
function parseScope(scope: string): TokenAccess | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const actions = scope
    .slice(last + 1)
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions };
}

function parseBasic(header: string | undefined): Credentials | undefined {
  if (header === undefined) return undefined;
  const m = /^Basic\s+(.+)$/i.exec(header.trim());
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { username: decoded, password: '' };
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: string | Buffer | object, headers = {}): void {
  const bytes =
    typeof body === 'string' || Buffer.isBuffer(body) ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
  const isJson = !(typeof body === 'string' || Buffer.isBuffer(body));
  res.writeHead(status, {
    'Content-Type': isJson ? 'application/json' : 'text/plain; charset=utf-8',
    'Content-Length': String(bytes.length),
    ...headers,
  });
  res.end(bytes);
}

/** Creates the EC P-256 signing key (node:crypto) and a self-signed certificate for it (openssl). */
async function makeSigningCertificate(
  dir: string,
): Promise<{ privateKey: KeyObject; certPemPath: string; certPem: string; x5c: string }> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keyPath = join(dir, 'token-signer.key');
  const certPemPath = join(dir, 'token-signer.pem');
  await writeFile(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await runCommand('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    keyPath,
    '-out',
    certPemPath,
    '-days',
    '2',
    '-sha256',
    '-subj',
    '/CN=gantry-test-token-signer',
  ]);
  const certPem = await readFile(certPemPath, 'utf8');
  const x5c = new X509Certificate(certPem).raw.toString('base64');
  return { privateKey, certPemPath, certPem, x5c };
}

/**
 * Starts the FAKE token server. `GET /token?service=…&scope=…` (optional Basic auth,
 * `offline_token=true` for a refresh token) and OAuth2 `POST /token` (form body with
 * `grant_type=password` + `username`/`password`, or `grant_type=refresh_token` + `refresh_token`;
 * `client_id`, `service`, space-separated `scope`, `access_type=offline` for a refresh token).
 * Answers `{token, access_token, expires_in, issued_at[, refresh_token, scope]}`; bad credentials
 * get 401.
 */
export async function startTokenServer(options: StartTokenServerOptions = {}): Promise<TokenServer> {
  const users = [...(options.users ?? defaultTestUsers())];
  const service = options.service ?? 'gantry-test-registry';
  const issuer = options.issuer ?? 'gantry-test-issuer';
  const expiresIn = options.expiresIn ?? 300;
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'gantry-token-')));
  const signer = await makeSigningCertificate(dir);
  const refreshTokens = new Map<string, string>(); // refresh token -> username
  const requests: TokenRequestRecord[] = [];

  const anonymousMayPull = (repository: string): boolean => {
    const rule = options.anonymousPull;
    if (rule === undefined) return false;
    if (rule instanceof RegExp) return rule.test(repository);
    if (typeof rule === 'function') return rule(repository);
    return rule.includes(repository);
  };

  const isValid = (c: Credentials): boolean =>
    users.some((u) => u.username === c.username && u.password === c.password);

  /** Merges the requested scopes per resource and keeps what `user` may do. */
  const grant = (scopes: readonly string[], user: string | undefined): TokenAccess[] => {
    const merged = new Map<string, TokenAccess>();
    for (const s of scopes) {
      const parsed = parseScope(s);
      if (!parsed) continue;
      const key = `${parsed.type}:${parsed.name}`;
      const entry = merged.get(key);
      if (entry) entry.actions.push(...parsed.actions.filter((a) => !entry.actions.includes(a)));
      else merged.set(key, { ...parsed, actions: [...new Set(parsed.actions)] });
    }
    const out: TokenAccess[] = [];
    for (const access of merged.values()) {
      let actions: string[];
      if (user === undefined) {
        actions =
          access.type === 'repository' && anonymousMayPull(access.name)
            ? access.actions.filter((a) => a === 'pull')
            : [];
      } else if (options.acl) {
        const allowed = options.acl(user, access.name);
        actions = allowed.includes('*') ? access.actions : access.actions.filter((a) => allowed.includes(a));
      } else {
        actions = access.actions;
      }
      if (actions.length > 0) out.push({ ...access, actions });
    }
    return out;
  };

  const issueToken = (
    subject: string,
    access: readonly TokenAccess[],
    opts: { expiresIn?: number } = {},
  ): string => {
    const now = Math.floor(Date.now() / 1000);
    return signEs256Jwt(
      {
        iss: issuer,
        sub: subject,
        aud: service,
        exp: now + (opts.expiresIn ?? expiresIn),
        nbf: now - 10,
        iat: now,
        jti: randomUUID(),
        access: access.map((a) => ({ type: a.type, name: a.name, actions: [...a.actions] })),
      },
      signer.privateKey,
      { x5c: [signer.x5c] },
    );
  };

  const respondWithToken = (
    res: ServerResponse,
    record: TokenRequestRecord,
    user: string | undefined,
    refreshToken: string | undefined,
  ): void => {
    const granted = grant(record.scopes, user);
    record.granted = granted;
    record.status = 200;
    const token = issueToken(user ?? '', granted);
    const body: Record<string, unknown> = {
      token,
      access_token: token,
      expires_in: expiresIn,
      issued_at: new Date().toISOString(),
    };
    if (record.method === 'POST') {
      body.scope = granted.map((g) => `${g.type}:${g.name}:${g.actions.join(',')}`).join(' ');
    }
    if (refreshToken !== undefined) body.refresh_token = refreshToken;
    send(res, 200, body, { 'Cache-Control': 'no-store' });
  };

  const newRefreshToken = (user: string): string => {
    const rt = randomBytes(24).toString('base64url');
    refreshTokens.set(rt, user);
    return rt;
  };

  const unauthorized = (res: ServerResponse, record: TokenRequestRecord, message: string): void => {
    record.status = 401;
    send(
      res,
      401,
      { error: 'invalid_grant', errors: [{ code: 'UNAUTHORIZED', message }] },
      { 'WWW-Authenticate': 'Basic realm="gantry-test-token-server"' },
    );
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    const body = await readBody(req);
    const method = req.method ?? 'GET';
    if (url.pathname !== '/token') {
      send(res, 404, 'not found\n');
      return;
    }
    if (method === 'POST') {
      const form = new URLSearchParams(body.toString('utf8'));
      const record: TokenRequestRecord = {
        method,
        scopes: (form.get('scope') ?? '').split(' ').filter((s) => s !== ''),
        user: form.get('username') ?? undefined,
        grantType: form.get('grant_type') ?? undefined,
        service: form.get('service') ?? undefined,
        clientId: form.get('client_id') ?? undefined,
        offline: form.get('access_type') === 'offline',
        status: 0,
      };
      const refresh = form.get('refresh_token');
      if (record.grantType === 'refresh_token' && refresh !== null) record.user = refreshTokens.get(refresh);
      requests.push(record);
      const override = options.override?.(record, requests.length);
      if (override) {
        record.status = override.status;
        send(res, override.status, override.body ?? '', override.headers);
        return;
      }
      if (options.disablePost) {
        record.status = 404;
        send(res, 404, '404 page not found\n');
        return;
      }
      if (record.grantType === 'password') {
        const creds = { username: form.get('username') ?? '', password: form.get('password') ?? '' };
        if (!isValid(creds)) return unauthorized(res, record, 'invalid username or password');
        return respondWithToken(
          res,
          record,
          creds.username,
          record.offline ? newRefreshToken(creds.username) : undefined,
        );
      }
      if (record.grantType === 'refresh_token') {
        const owner = refresh === null ? undefined : refreshTokens.get(refresh);
        if (owner === undefined || refresh === null)
          return unauthorized(res, record, 'unknown refresh token');
        return respondWithToken(res, record, owner, refresh);
      }
      record.status = 400;
      send(res, 400, { error: 'unsupported_grant_type' });
      return;
    }
    if (method === 'GET') {
      const creds = parseBasic(req.headers.authorization);
      const record: TokenRequestRecord = {
        method,
        scopes: url.searchParams.getAll('scope'),
        user: creds?.username,
        service: url.searchParams.get('service') ?? undefined,
        clientId: url.searchParams.get('client_id') ?? undefined,
        offline: url.searchParams.get('offline_token') === 'true',
        status: 0,
      };
      requests.push(record);
      const override = options.override?.(record, requests.length);
      if (override) {
        record.status = override.status;
        send(res, override.status, override.body ?? '', override.headers);
        return;
      }
      if (creds && !isValid(creds)) return unauthorized(res, record, 'invalid username or password');
      const user = creds?.username;
      const refreshToken = user !== undefined && record.offline ? newRefreshToken(user) : undefined;
      return respondWithToken(res, record, user, refreshToken);
    }
    send(res, 405, 'method not allowed\n', { Allow: 'GET, POST' });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, `token server error: ${String(error)}\n`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  let stopped = false;

  return {
    url,
    realm: `${url}/token`,
    service,
    issuer,
    certPemPath: signer.certPemPath,
    certPem: signer.certPem,
    requests,
    issueToken,
    async stop() {
      if (stopped) return;
      stopped = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
