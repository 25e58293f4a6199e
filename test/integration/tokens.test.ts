/**
 * The token store (src/store/tokens.ts) on a real PGlite store: secrets hashed, refusal reasons,
 * bootstrap seeding idempotent (and a revoked bootstrap token stays revoked), ledger entries
 * written in the same transaction as the change.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGantryError } from '../../src/core/index.js';
import { Ledger, openStore, Tokens, type Store } from '../../src/store/index.js';

describe('Tokens', () => {
  let dir = '';
  let store: Store;
  let tokens: Tokens;
  let ledger: Ledger;
  const t0 = new Date(Date.UTC(2026, 0, 1));
  const audit = { actor: 'admin (tok_0)', time: t0 };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-tokens-'));
    store = await openStore({ dataDir: join(dir, 'data') });
    ledger = new Ledger(store.db);
    tokens = new Tokens(store.db, ledger);
  }, 120_000);
  afterAll(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates 256-bit tokens stored only as their SHA-256, each distinct', async () => {
    const a = await tokens.create({ name: 'a', roles: ['ci'] }, audit);
    const b = await tokens.create({ name: 'b', roles: ['ci'] }, audit);
    expect(a.token).not.toBe(b.token);
    expect(Buffer.from(a.token.slice(4), 'base64url')).toHaveLength(32);
    const rows = await store.db.selectFrom('tokens').selectAll().execute();
    expect(rows.find((r) => r.id === a.id)?.token_hash).toBe(
      createHash('sha256').update(a.token).digest('hex'),
    );
    expect(JSON.stringify(rows)).not.toContain(a.token.slice(4));
    expect(JSON.stringify(await tokens.list())).not.toMatch(/gty_|token_hash|[0-9a-f]{64}/);
  });

  it('says why a token does not count', async () => {
    const expiring = await tokens.create(
      { name: 'e', roles: ['viewer'], expiresAt: new Date(t0.getTime() + 1000) },
      audit,
    );
    expect(await tokens.authenticate(expiring.token, t0)).toMatchObject({ ok: true, token: { name: 'e' } });
    expect(await tokens.authenticate(expiring.token, new Date(t0.getTime() + 1000))).toEqual({
      ok: false,
      reason: 'expired',
    });
    expect(await tokens.authenticate('gty_short', t0)).toEqual({ ok: false, reason: 'malformed' });
    expect(await tokens.authenticate(`Bearer ${expiring.token}`, t0)).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(await tokens.authenticate(`gty_${'A'.repeat(43)}`, t0)).toEqual({ ok: false, reason: 'unknown' });
    await tokens.revoke(expiring.id, audit);
    expect(await tokens.authenticate(expiring.token, t0)).toEqual({ ok: false, reason: 'revoked' });
    expect(await tokens.revoke('tok_ffffffffffffffff', audit)).toBeUndefined();
  });

  it('seeds the bootstrap admin once, and a revoked bootstrap token stays revoked', async () => {
    const secret = `gty_${'0123456789abcdef'.repeat(4)}`;
    expect(await tokens.seedBootstrap(secret, audit)).toBe(true);
    expect(await tokens.seedBootstrap(secret, audit)).toBe(false);
    const auth = await tokens.authenticate(secret, t0);
    expect(auth).toMatchObject({ ok: true, token: { name: 'bootstrap', roles: ['admin'] } });
    if (!auth.ok) throw new Error('unreachable');
    await tokens.revoke(auth.token.id, audit);
    expect(await tokens.seedBootstrap(secret, audit)).toBe(false);
    expect(await tokens.authenticate(secret, t0)).toEqual({ ok: false, reason: 'revoked' });
    expect((await tokens.list()).filter((t) => t.name === 'bootstrap')).toHaveLength(1);
    const weak = await tokens.seedBootstrap('changeme', audit).catch((e: unknown) => e);
    expect(isGantryError(weak, 'USAGE_INVALID')).toBe(true);
  });

  it('writes token.created and token.revoked with the change, and the chain verifies', async () => {
    const before = (await ledger.head()).seq;
    const t = await tokens.create(
      { name: 'logged', roles: ['approver:prod'], groups: ['ops'], teams: ['a'] },
      audit,
    );
    await tokens.revoke(t.id, audit);
    await tokens.revoke(t.id, audit);
    const entries = [];
    for await (const e of ledger.entries({ after: before })) entries.push(e);
    expect(entries.map((e) => [e.type, e.subject, e.actor])).toEqual([
      ['token.created', t.id, audit.actor],
      ['token.revoked', t.id, audit.actor],
    ]);
    expect(entries[0]?.payload).toEqual({
      name: 'logged',
      roles: ['approver:prod'],
      groups: ['ops'],
      teams: ['a'],
    });
    expect(JSON.stringify(entries)).not.toContain(t.token);
    expect(await ledger.verify()).toMatchObject({ ok: true });
  });

  it('with a cache: a revocation here counts at once; one by another replica within cacheMs, expiry always', async () => {
    const here = new Tokens(store.db, ledger, { cacheMs: 60_000 });
    const replica = new Tokens(store.db, ledger, { cacheMs: 60_000 });
    const a = await here.create({ name: 'cached-a', roles: ['viewer'] }, audit);
    expect(await here.authenticate(a.token, t0)).toMatchObject({ ok: true });
    await here.revoke(a.id, audit);
    expect(await here.authenticate(a.token, t0)).toEqual({ ok: false, reason: 'revoked' });

    const b = await here.create(
      { name: 'cached-b', roles: ['viewer'], expiresAt: new Date(t0.getTime() + 120_000) },
      audit,
    );
    expect(await here.authenticate(b.token, t0)).toMatchObject({ ok: true });
    await replica.revoke(b.id, audit);
    // Trusted from the cache until cacheMs has passed, then asked again.
    expect(await here.authenticate(b.token, new Date(t0.getTime() + 59_000))).toMatchObject({ ok: true });
    expect(await here.authenticate(b.token, new Date(t0.getTime() + 60_001))).toEqual({
      ok: false,
      reason: 'revoked',
    });

    const c = await here.create(
      { name: 'cached-c', roles: ['viewer'], expiresAt: new Date(t0.getTime() + 1000) },
      audit,
    );
    expect(await here.authenticate(c.token, t0)).toMatchObject({ ok: true });
    expect(await here.authenticate(c.token, new Date(t0.getTime() + 1000))).toEqual({
      ok: false,
      reason: 'expired',
    });
  });
});
