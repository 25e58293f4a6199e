import { describe, expect, it } from 'vitest';
import {
  GENESIS_HASH,
  hashLedgerEntry,
  LedgerChainVerifier,
  ledgerEntryToLine,
  verifyLedgerLines,
  type LedgerEntry,
} from './ledger-chain.js';

/** A valid chain of `n` entries. */
function chain(n: number): LedgerEntry[] {
  const entries: LedgerEntry[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const body = {
      seq,
      time: new Date(Date.UTC(2026, 0, 1, 0, 0, seq, 123)),
      type: 'promotion.requested',
      subject: `p-${seq}`,
      actor: 'alice',
      payload: { seq, tags: ['1.0.0'] },
      prev_hash: prev,
    };
    const hash = hashLedgerEntry(body);
    entries.push({ ...body, hash });
    prev = hash;
  }
  return entries;
}

const lines = (entries: LedgerEntry[]): string[] => entries.map(ledgerEntryToLine);

describe('ledger chain', () => {
  it('hashes the canonical form: key order and undefined properties do not matter', () => {
    const [entry] = chain(1);
    const payload = { tags: ['1.0.0'], seq: 1, gone: undefined } as unknown as LedgerEntry['payload'];
    const reordered = { ...entry!, payload };
    expect(hashLedgerEntry(reordered)).toBe(entry!.hash);
    expect(hashLedgerEntry({ ...entry!, time: new Date(entry!.time.getTime() + 1) })).not.toBe(entry!.hash);
  });

  it('accepts a good chain and reports its head', () => {
    const entries = chain(3);
    const result = verifyLedgerLines(lines(entries), { seq: 3, hash: entries[2]!.hash });
    expect(result).toEqual({ ok: true, entries: 3, headHash: entries[2]!.hash });
    expect(verifyLedgerLines([])).toEqual({ ok: true, entries: 0, headHash: GENESIS_HASH });
  });

  it.each([
    [
      'an edited entry',
      (e: LedgerEntry[]) => [e[0]!, { ...e[1]!, actor: 'mallory' }, e[2]!],
      2,
      'hash-mismatch',
    ],
    ['a removed entry', (e: LedgerEntry[]) => [e[0]!, e[2]!], 2, 'seq-gap'],
    ['two swapped entries', (e: LedgerEntry[]) => [e[0]!, e[2]!, e[1]!], 2, 'seq-gap'],
    [
      'an entry renumbered and rehashed into another place',
      (e: LedgerEntry[]) => {
        const moved = { ...e[2]!, seq: 2 };
        return [e[0]!, { ...moved, hash: hashLedgerEntry(moved) }];
      },
      2,
      'chain-broken',
    ],
    ['a duplicated entry', (e: LedgerEntry[]) => [e[0]!, e[0]!, e[1]!], 1, 'seq-gap'],
  ])('finds %s', (_name, tamper, firstBadSeq, reason) => {
    expect(verifyLedgerLines(lines(tamper(chain(3))))).toMatchObject({ ok: false, firstBadSeq, reason });
  });

  it('finds removed newest entries only against an expected head', () => {
    const entries = chain(3);
    const short = lines(entries.slice(0, 2));
    expect(verifyLedgerLines(short).ok).toBe(true);
    expect(verifyLedgerLines(short, { seq: 3, hash: entries[2]!.hash })).toMatchObject({
      ok: false,
      entries: 2,
      firstBadSeq: 3,
      reason: 'head-mismatch',
    });
  });

  it.each([
    ['not JSON', '{'],
    ['an array', '[]'],
    ['a missing field', JSON.stringify({ seq: 1 })],
    ['a time that is not ISO 8601 UTC', ledgerEntryToLine(chain(1)[0]!).replace('.123Z', '.123+00:00')],
  ])('calls %s malformed', (_name, line) => {
    expect(verifyLedgerLines([line])).toMatchObject({ ok: false, firstBadSeq: 1, reason: 'malformed' });
  });

  it('ignores blank lines and stops at the first fault', () => {
    const entries = chain(3);
    expect(verifyLedgerLines(['', ...lines(entries), '  ']).ok).toBe(true);
    const verifier = new LedgerChainVerifier();
    expect(verifier.add({ ...entries[0]!, hash: 'f'.repeat(64) })).toBe(false);
    expect(verifier.add(entries[1]!)).toBe(false);
    expect(verifier.finish()).toMatchObject({ ok: false, entries: 0, firstBadSeq: 1 });
  });
});
