/**
 * Registry authentication: anonymous, HTTP Basic, and the bearer-token flow of the Docker token
 * spec (https://distribution.github.io/distribution/spec/auth/token/) with the OAuth2 POST form
 * (https://distribution.github.io/distribution/spec/auth/oauth/) and a GET fallback for token
 * servers without it. Tokens are cached per host and scope set until shortly before they expire.
 * Secrets never reach logs or error messages.
 */
import type { Readable } from 'node:stream';
import { GantryError, silentLogger, systemClock, type Clock, type Logger } from '../../core/index.js';
import type { Credential, CredentialProvider } from '../credentials/index.js';
import type { HostSettings, HttpTransport } from '../transport/http-transport.js';
import { readBody, MAX_ERROR_BODY_BYTES } from '../transport/read-body.js';
import { redactUrl } from '../transport/redact.js';
import { responseError } from '../transport/registry-error.js';
import { mergeScopes, type Challenge } from './challenge.js';

/** Options for {@link Authenticator}. */
export interface AuthenticatorOptions {
  /** The transport used to reach token servers. Required. */
  readonly transport: HttpTransport;
  /** Where credentials come from. Default: none (anonymous). */
  readonly credentials?: CredentialProvider;
  /** OAuth2 `client_id` sent to token servers. Default `gantry`. */
  readonly clientId?: string;
  /** Token lifetime assumed when the server does not say, in seconds. Default 60 (the spec's default). */
  readonly defaultTokenSeconds?: number;
  /**
   * The registry hosts' TLS settings (the transport's). A plain-HTTP token realm is accepted for
   * an HTTPS registry only when its `tlsVerify` is false. Default: TLS verified everywhere.
   */
  readonly hostSettings?: (host: string) => HostSettings;
  readonly logger?: Logger;
  readonly clock?: Clock;
}

interface CachedToken {
  readonly token: string;
  readonly expiresAt: number;
}

interface HostAuth {
  challenge?: Challenge;
  credential?: Credential | null;
  readonly tokens: Map<string, CachedToken>;
  readonly inflight: Map<string, Promise<CachedToken>>;
  refreshToken?: string;
}

/** Decides which `Authorization` header each request carries. */
export class Authenticator {
  readonly #transport: HttpTransport;
  readonly #credentials: CredentialProvider | undefined;
  readonly #clientId: string;
  readonly #defaultTokenSeconds: number;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #hosts = new Map<string, HostAuth>();
  readonly #hostSettings: (host: string) => HostSettings;

  constructor(options: AuthenticatorOptions) {
    this.#transport = options.transport;
    this.#hostSettings = options.hostSettings ?? (() => ({}));
    this.#credentials = options.credentials;
    this.#clientId = options.clientId ?? 'gantry';
    this.#defaultTokenSeconds = options.defaultTokenSeconds ?? 60;
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * The header for a request to `host` needing `scopes`, from what is already known (a cached
   * token, or basic credentials once the host asked for Basic). `undefined` before any challenge.
   */
  async header(host: string, scopes: readonly string[]): Promise<string | undefined> {
    const state = this.#state(host);
    const challenge = state.challenge;
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') return this.#basic(host, state);
    if (challenge.scheme === 'bearer') {
      const token = await this.#token(host, state, mergeScopes(scopes), false);
      return `Bearer ${token.token}`;
    }
    return undefined;
  }

  /**
   * Handles a 401 (or an `insufficient_scope` 403): learns the challenge and returns the header to
   * retry with. Throws `REGISTRY_UNAUTHORIZED` when no credentials can satisfy it.
   */
  async challenge(
    host: string,
    scopes: readonly string[],
    challenges: readonly Challenge[],
  ): Promise<string> {
    const state = this.#state(host);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    const chosen = bearer ?? basic;
    if (!chosen) {
      throw new GantryError(
        'REGISTRY_UNAUTHORIZED',
        `${host} requires authentication with an unsupported scheme (${challenges.map((c) => c.scheme).join(', ') || 'none given'})`,
        { details: { host } },
      );
    }
    state.challenge = chosen;
    if (chosen.scheme === 'basic') {
      const header = await this.#basic(host, state);
      if (!header) {
        throw new GantryError(
          'REGISTRY_UNAUTHORIZED',
          `${host} requires credentials: run gantry login ${host} or pass --creds`,
          {
            details: { host },
          },
        );
      }
      return header;
    }
    const wanted = mergeScopes(scopes, chosen.params.scope ? [chosen.params.scope] : []);
    const token = await this.#token(host, state, wanted, true);
    return `Bearer ${token.token}`;
  }

  /** Forgets what is cached for a host (used after credentials change). */
  reset(host: string): void {
    this.#hosts.delete(host);
  }

  #state(host: string): HostAuth {
    let state = this.#hosts.get(host);
    if (!state) {
      state = { tokens: new Map(), inflight: new Map() };
      this.#hosts.set(host, state);
    }
    return state;
  }

  async #credential(host: string, state: HostAuth): Promise<Credential | undefined> {
    if (state.credential === undefined) {
      state.credential = (await this.#credentials?.get(host)) ?? null;
    }
    return state.credential ?? undefined;
  }

  async #basic(host: string, state: HostAuth): Promise<string | undefined> {
    const cred = await this.#credential(host, state);
    if (!cred?.username || cred.password === undefined) return undefined;
    return `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
  }

  async #token(host: string, state: HostAuth, scopes: string[], force: boolean): Promise<CachedToken> {
    const key = scopes.join(' ');
    const cached = state.tokens.get(key);
    if (!force && cached && cached.expiresAt > this.#clock.now()) return cached;
    const pending = state.inflight.get(key);
    if (pending) return pending;
    const p = this.#fetchToken(host, state, scopes).finally(() => state.inflight.delete(key));
    state.inflight.set(key, p);
    const token = await p;
    state.tokens.set(key, token);
    return token;
  }

  async #fetchToken(host: string, state: HostAuth, scopes: string[]): Promise<CachedToken> {
    const challenge = state.challenge;
    const realm = challenge?.params.realm;
    if (!realm) {
      throw new GantryError('REGISTRY_PROTOCOL', `${host} sent a Bearer challenge without a realm`, {
        details: { host },
      });
    }
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw new GantryError('REGISTRY_PROTOCOL', `${host} sent an invalid token realm`, {
        details: { host },
      });
    }
    this.#checkRealm(host, realmUrl);
    const service = challenge.params.service;
    const cred = await this.#credential(host, state);
    if (cred?.registryToken) {
      return { token: cred.registryToken, expiresAt: Number.MAX_SAFE_INTEGER };
    }
    const refresh = cred?.identityToken ?? state.refreshToken;
    if (refresh) {
      return this.#postToken(host, state, realmUrl, service, scopes, {
        grant_type: 'refresh_token',
        refresh_token: refresh,
      });
    }
    if (cred?.username && cred.password !== undefined) {
      try {
        return await this.#postToken(host, state, realmUrl, service, scopes, {
          grant_type: 'password',
          username: cred.username,
          password: cred.password,
        });
      } catch (err) {
        const status = err instanceof GantryError ? err.details.status : undefined;
        // Token servers without OAuth2 POST answer 400, 401, 404 or 405: fall back to GET with Basic.
        if (typeof status !== 'number' || ![400, 401, 404, 405].includes(status)) throw err;
        this.#logger.debug({ realm: redactUrl(realmUrl), status }, 'token POST refused, falling back to GET');
      }
    }
    return this.#getToken(host, realmUrl, service, scopes, cred);
  }

  /**
   * Refuses a realm that would weaken the registry's own transport: anything but http(s), and a
   * plain-HTTP realm for an HTTPS registry (the password, refresh token and issued token would
   * cross the network in clear text) unless TLS verification is off for that registry.
   */
  #checkRealm(host: string, realm: URL): void {
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw new GantryError(
        'REGISTRY_PROTOCOL',
        `${host} sent a token realm with an unsupported scheme (${realm.protocol})`,
        { details: { host } },
      );
    }
    const registryIsHttps = this.#transport.origin(host).startsWith('https:');
    if (realm.protocol === 'http:' && registryIsHttps && this.#hostSettings(host).tlsVerify !== false) {
      throw new GantryError(
        'REGISTRY_TLS',
        `${host} is HTTPS but sends clients to a plain-HTTP token server (${redactUrl(realm)}); refusing to send credentials or tokens without TLS (pass --tls-verify=false only for a test registry)`,
        { details: { host, realm: redactUrl(realm) } },
      );
    }
  }

  async #getToken(
    host: string,
    realm: URL,
    service: string | undefined,
    scopes: string[],
    cred: Credential | undefined,
  ): Promise<CachedToken> {
    const url = new URL(realm);
    if (service) url.searchParams.set('service', service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = {};
    if (cred?.username && cred.password !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
    }
    const res = await this.#transport.request({ method: 'GET', url, headers });
    return this.#readToken(host, 'GET', url, res.status, res.body);
  }

  async #postToken(
    host: string,
    state: HostAuth,
    realm: URL,
    service: string | undefined,
    scopes: string[],
    grant: Record<string, string>,
  ): Promise<CachedToken> {
    const form = new URLSearchParams({ ...grant, client_id: this.#clientId });
    if (service) form.set('service', service);
    if (scopes.length > 0) form.set('scope', scopes.join(' '));
    if (grant.grant_type === 'password') form.set('access_type', 'offline');
    const res = await this.#transport.request({
      method: 'POST',
      url: realm,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(form.toString()),
    });
    const token = await this.#readToken(host, 'POST', realm, res.status, res.body, state);
    return token;
  }

  async #readToken(
    host: string,
    method: string,
    url: URL,
    status: number,
    body: Readable,
    state?: HostAuth,
  ): Promise<CachedToken> {
    const bytes = await readBody(body, MAX_ERROR_BODY_BYTES, { what: 'token response' });
    if (status !== 200) {
      const err = responseError(method, url, status, bytes, `token request for ${host}`);
      if (status === 401 || status === 403) {
        throw new GantryError('REGISTRY_UNAUTHORIZED', `${err.message} (check the credentials for ${host})`, {
          details: err.details,
        });
      }
      throw err;
    }
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(bytes.toString()) as Record<string, unknown>;
    } catch {
      throw new GantryError('REGISTRY_PROTOCOL', `token server for ${host} answered with invalid JSON`, {
        details: { url: redactUrl(url) },
      });
    }
    const token = typeof json.token === 'string' ? json.token : json.access_token;
    if (typeof token !== 'string' || token.length === 0) {
      throw new GantryError('REGISTRY_PROTOCOL', `token server for ${host} returned no token`, {
        details: { url: redactUrl(url) },
      });
    }
    if (state && typeof json.refresh_token === 'string') state.refreshToken = json.refresh_token;
    const seconds =
      typeof json.expires_in === 'number' && json.expires_in > 0
        ? json.expires_in
        : this.#defaultTokenSeconds;
    // Refresh a little early so a token never expires mid-request.
    const margin = Math.min(10, seconds / 4);
    return { token, expiresAt: this.#clock.now() + (seconds - margin) * 1000 };
  }
}
