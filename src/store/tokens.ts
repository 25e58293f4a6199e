/**
 * API tokens: random 256-bit secrets shown once (`gty_` + 43 base64url characters), stored only
 * as their SHA-256 hash, with roles, groups, teams, an optional expiry and revocation. Creating
 * and revoking a token writes `token.created` / `token.revoked` to the ledger in the same
 * transaction. What the roles mean is the server's business; this file stores strings.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { GantryError } from '../core/index.js';
import type { Ledger } from './ledger.js';
import type { StoreDatabase, TokensTable } from './schema.js';

type TokenRow = Selectable<TokensTable>;

/** The prefix of every Gantry API token (lets secret scanners recognise one). */
export const TOKEN_PREFIX = 'gty_';

/** What a well-formed token looks like: the prefix and 32–128 base64url characters. */
export const TOKEN_PATTERN = /^gty_[A-Za-z0-9_-]{32,128}$/;

/** A token as listed: never its secret, never its hash. */
export interface TokenInfo {
  readonly id: string;
  readonly name: string;
  readonly roles: readonly string[];
  readonly groups: readonly string[];
  readonly teams: readonly string[];
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly revokedAt: Date | null;
}

/** A new token: its secret appears here and nowhere else, ever. */
export interface CreatedToken extends TokenInfo {
  readonly token: string;
}

/** What {@link Tokens.create} needs. */
export interface NewToken {
  readonly name: string;
  readonly roles: readonly string[];
  /** Default none. */
  readonly groups?: readonly string[];
  /** Default none (the token is not limited to teams). */
  readonly teams?: readonly string[];
  /** Default: never expires. */
  readonly expiresAt?: Date;
}

/** Why {@link Tokens.authenticate} refused a token. */
export type TokenRefusal = 'malformed' | 'unknown' | 'expired' | 'revoked';

/** The outcome of {@link Tokens.authenticate}: the token's identity, or why it does not count. */
export type Authentication =
  { readonly ok: true; readonly token: TokenInfo } | { readonly ok: false; readonly reason: TokenRefusal };

/** Who acts and when, for the ledger. */
export interface TokenAudit {
  readonly actor: string;
  readonly time: Date;
}

/** The SHA-256 hash (hex) under which a token is stored. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A fresh token: `gty_` and 256 random bits in base64url. */
export function generateToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** The `tokens` table and its ledger entries. */
export class Tokens {
  readonly #db: Kysely<StoreDatabase>;
  readonly #ledger: Ledger;
  readonly #cacheMs: number;
  /** Valid tokens by hash, with the time (ms) until which the row may be trusted without a query. */
  readonly #valid = new Map<string, { readonly row: TokenRow; readonly until: number }>();

  /**
   * @param db the store's query builder
   * @param ledger where `token.created` and `token.revoked` are recorded
   * @param options `cacheMs`: how long a valid token is trusted without asking the database
   *   again (default 0: every request asks). Expiry is still checked on every request, and a
   *   revocation through this instance takes effect at once; one made by another replica takes
   *   effect here within `cacheMs`.
   */
  constructor(db: Kysely<StoreDatabase>, ledger: Ledger, options: { readonly cacheMs?: number } = {}) {
    this.#db = db;
    this.#ledger = ledger;
    this.#cacheMs = options.cacheMs ?? 0;
  }

  /** Creates a token and records `token.created` in one transaction; returns its secret once. */
  async create(request: NewToken, audit: TokenAudit): Promise<CreatedToken> {
    return this.#insert(generateToken(), request, audit);
  }

  /**
   * Seeds the first admin from `GANTRY_BOOTSTRAP_TOKEN`: a token named `bootstrap` with role
   * `admin`, stored hashed. Idempotent: returns `false` (and writes nothing) when a token with this
   * secret exists already, revoked or not, so a revoked bootstrap token stays revoked across
   * restarts. Throws `USAGE_INVALID` for a token that is not `gty_` + 32–128 base64url characters.
   */
  async seedBootstrap(token: string, audit: TokenAudit): Promise<boolean> {
    if (!TOKEN_PATTERN.test(token)) {
      throw new GantryError(
        'USAGE_INVALID',
        'GANTRY_BOOTSTRAP_TOKEN must be "gty_" followed by 32 to 128 letters, digits, "-" or "_" (e.g. gty_$(openssl rand -hex 32))',
      );
    }
    const hash = hashToken(token);
    const existing = await this.#db
      .selectFrom('tokens')
      .select('id')
      .where('token_hash', '=', hash)
      .executeTakeFirst();
    if (existing) return false;
    try {
      await this.#insert(token, { name: 'bootstrap', roles: ['admin'] }, audit);
    } catch (error) {
      // A second replica seeded the same token at the same moment: the unique hash says so.
      const again = await this.#db
        .selectFrom('tokens')
        .select('id')
        .where('token_hash', '=', hash)
        .executeTakeFirst();
      if (again) return false;
      throw error;
    }
    return true;
  }

  /** Looks a presented token up by its hash; says why it does not count when it does not. */
  async authenticate(token: string, now: Date): Promise<Authentication> {
    if (!TOKEN_PATTERN.test(token)) return { ok: false, reason: 'malformed' };
    const hash = hashToken(token);
    const row = await this.#lookup(hash, now);
    // The lookup is by hash; compare again in constant time so no index quirk decides.
    if (!row || !timingSafeEqual(Buffer.from(row.token_hash, 'hex'), Buffer.from(hash, 'hex')))
      return { ok: false, reason: 'unknown' };
    if (row.revoked_at !== null) return { ok: false, reason: 'revoked' };
    if (row.expires_at !== null && row.expires_at.getTime() <= now.getTime())
      return { ok: false, reason: 'expired' };
    return { ok: true, token: infoOf(row) };
  }

  /** The row of a token hash: from the cache while it may be trusted, else from the database. */
  async #lookup(hash: string, now: Date): Promise<TokenRow | undefined> {
    const cached = this.#valid.get(hash);
    if (cached && cached.until > now.getTime()) return cached.row;
    const row = await this.#db
      .selectFrom('tokens')
      .selectAll()
      .where('token_hash', '=', hash)
      .executeTakeFirst();
    if (this.#cacheMs > 0) {
      if (row && row.revoked_at === null) {
        // Bounded: a flood of distinct valid tokens cannot grow it without limit.
        if (this.#valid.size >= 10_000) this.#valid.clear();
        this.#valid.set(hash, { row, until: now.getTime() + this.#cacheMs });
      } else this.#valid.delete(hash);
    }
    return row;
  }

  /** Every token, oldest first, without secrets or hashes. */
  async list(): Promise<TokenInfo[]> {
    const rows = await this.#db
      .selectFrom('tokens')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(infoOf);
  }

  /**
   * Revokes a token and records `token.revoked` in one transaction. Returns the token, or
   * `undefined` when there is none with this id. Revoking a revoked token changes nothing and
   * writes no second entry.
   */
  async revoke(id: string, audit: TokenAudit): Promise<TokenInfo | undefined> {
    const revoked = await this.#revoke(id, audit);
    // Again after the commit: a request between the first purge and the commit may have cached
    // the row as it was.
    for (const [hash, v] of this.#valid) if (v.row.id === id) this.#valid.delete(hash);
    return revoked;
  }

  #revoke(id: string, audit: TokenAudit): Promise<TokenInfo | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('tokens')
        .selectAll()
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      if (!row) return undefined;
      this.#valid.delete(row.token_hash);
      if (row.revoked_at !== null) return infoOf(row);
      const revoked = await trx
        .updateTable('tokens')
        .set({ revoked_at: audit.time })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.#ledger.append(trx, {
        type: 'token.revoked',
        subject: id,
        actor: audit.actor,
        time: audit.time,
        payload: { name: row.name },
      });
      return infoOf(revoked);
    });
  }

  async #insert(token: string, request: NewToken, audit: TokenAudit): Promise<CreatedToken> {
    const id = `tok_${randomBytes(8).toString('hex')}`;
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('tokens')
        .values({
          id,
          name: request.name,
          token_hash: hashToken(token),
          roles: [...request.roles],
          groups: [...(request.groups ?? [])],
          teams: [...(request.teams ?? [])],
          expires_at: request.expiresAt ?? null,
          created_at: audit.time,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.#ledger.append(trx, {
        type: 'token.created',
        subject: id,
        actor: audit.actor,
        time: audit.time,
        payload: {
          name: request.name,
          roles: [...request.roles],
          groups: [...(request.groups ?? [])],
          teams: [...(request.teams ?? [])],
          ...(request.expiresAt && { expiresAt: request.expiresAt.toISOString() }),
        },
      });
      return { ...infoOf(row), token };
    });
  }
}

function infoOf(row: {
  id: string;
  name: string;
  roles: string[];
  groups: string[];
  teams: string[];
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
}): TokenInfo {
  return Object.freeze({
    id: row.id,
    name: row.name,
    roles: Object.freeze([...row.roles]),
    groups: Object.freeze([...row.groups]),
    teams: Object.freeze([...row.teams]),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  });
}
