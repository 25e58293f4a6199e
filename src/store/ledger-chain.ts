/**
 * The ledger's hash chain as pure functions: how an entry is hashed, and a verifier that checks
 * entries one by one in sequence order. The database check (`Ledger.verify`) and the offline check
 * of an export (`verifyLedgerLines`) both use it, so they cannot disagree.
 */
import { createHash } from 'node:crypto';
import { canonicalJson, type JsonObject } from './canonical-json.js';
import { GENESIS_HASH } from './migrations.js';

export { GENESIS_HASH };

/** One ledger entry as stored and exported. */
export interface LedgerEntry {
  /** Position in the chain: 1, 2, 3, … without gaps. */
  readonly seq: number;
  /** When the event happened (millisecond precision). */
  readonly time: Date;
  /** Event type, e.g. `promotion.requested`. */
  readonly type: string;
  /** What the event is about, e.g. a promotion id or a token id. */
  readonly subject: string;
  /** Who caused it (a normalised identity, or `system`). */
  readonly actor: string;
  /** Event details (JSON). */
  readonly payload: JsonObject;
  /** The previous entry's hash ({@link GENESIS_HASH} for the first). */
  readonly prev_hash: string;
  /** sha256 (hex) of the canonical JSON of every other field, see {@link hashLedgerEntry}. */
  readonly hash: string;
}

/** Why verification stopped. */
export type LedgerFault =
  /** An entry's content does not hash to its stored hash: it was edited. */
  | 'hash-mismatch'
  /** An entry does not name the previous entry's hash: entries were removed, inserted or reordered. */
  | 'chain-broken'
  /** A sequence number is missing or out of order: an entry was removed or moved. */
  | 'seq-gap'
  /** The chain ends before the recorded head, or at another hash: the newest entries were removed. */
  | 'head-mismatch'
  /** An exported line is not a ledger entry. */
  | 'malformed';

/** The outcome of a verification. */
export interface LedgerVerification {
  /** True when every entry checked out. */
  readonly ok: boolean;
  /** How many entries were verified as good. */
  readonly entries: number;
  /** The hash of the last good entry ({@link GENESIS_HASH} when there is none). */
  readonly headHash: string;
  /** The first entry found bad (for `head-mismatch`: the seq where an entry is missing). */
  readonly firstBadSeq?: number;
  /** What was wrong with it. */
  readonly reason?: LedgerFault;
}

/** The hash of an entry: sha256, hex, of the canonical JSON of its fields other than `hash`. */
export function hashLedgerEntry(entry: Omit<LedgerEntry, 'hash'>): string {
  const canonical = canonicalJson({
    seq: entry.seq,
    time: entry.time.toISOString(),
    type: entry.type,
    subject: entry.subject,
    actor: entry.actor,
    payload: entry.payload,
    prev_hash: entry.prev_hash,
  });
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/**
 * Checks a chain fed to it in sequence order. `add` returns false at the first fault and the
 * verifier then ignores further entries; `finish` checks the end of the chain.
 */
export class LedgerChainVerifier {
  #entries = 0;
  #headHash = GENESIS_HASH;
  #fault: { seq: number; reason: LedgerFault } | undefined;

  /** Checks the next entry. */
  add(entry: LedgerEntry): boolean {
    if (this.#fault !== undefined) return false;
    const expectedSeq = this.#entries + 1;
    if (entry.seq !== expectedSeq) return this.#fail(Math.min(entry.seq, expectedSeq), 'seq-gap');
    if (hashLedgerEntry(entry) !== entry.hash) return this.#fail(entry.seq, 'hash-mismatch');
    if (entry.prev_hash !== this.#headHash) return this.#fail(entry.seq, 'chain-broken');
    this.#entries = entry.seq;
    this.#headHash = entry.hash;
    return true;
  }

  /** Records a fault found outside the chain (e.g. a malformed line at `seq`). */
  reject(seq: number, reason: LedgerFault): void {
    if (this.#fault === undefined) this.#fail(seq, reason);
  }

  /**
   * The result. When the expected head (seq and hash, e.g. from the `ledger_head` row or a
   * published checkpoint) is given, a chain that stops short of it or ends elsewhere is a
   * `head-mismatch`.
   */
  finish(expectedHead?: { readonly seq: number; readonly hash: string }): LedgerVerification {
    if (this.#fault === undefined && expectedHead !== undefined) {
      if (this.#entries !== expectedHead.seq || this.#headHash !== expectedHead.hash) {
        this.#fail(Math.min(this.#entries, expectedHead.seq) + 1, 'head-mismatch');
      }
    }
    const base = { entries: this.#entries, headHash: this.#headHash };
    if (this.#fault === undefined) return { ok: true, ...base };
    return { ok: false, ...base, firstBadSeq: this.#fault.seq, reason: this.#fault.reason };
  }

  #fail(seq: number, reason: LedgerFault): false {
    this.#fault = { seq, reason };
    return false;
  }
}

/** One entry as an export line: canonical JSON, `time` as ISO 8601. */
export function ledgerEntryToLine(entry: LedgerEntry): string {
  return canonicalJson({ ...entry, time: entry.time.toISOString() });
}

/**
 * Verifies an export offline: one JSON entry per line, in order, as `Ledger.exportLines` writes
 * them (blank lines are ignored). Pure: no database, no clock. Pass `expectedHead` (e.g. the
 * `headHash` that `GET /ledger/verify` reported) to also detect removed trailing entries.
 */
export function verifyLedgerLines(
  lines: Iterable<string>,
  expectedHead?: { readonly seq: number; readonly hash: string },
): LedgerVerification {
  const verifier = new LedgerChainVerifier();
  let expectedSeq = 1;
  for (const line of lines) {
    if (line.trim() === '') continue;
    const entry = parseLine(line);
    if (entry === undefined) {
      verifier.reject(expectedSeq, 'malformed');
      break;
    }
    if (!verifier.add(entry)) break;
    expectedSeq = entry.seq + 1;
  }
  return verifier.finish(expectedHead);
}

function parseLine(line: string): LedgerEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const strings = ['type', 'subject', 'actor', 'prev_hash', 'hash', 'time'] as const;
  if (!strings.every((k) => typeof v[k] === 'string')) return undefined;
  if (typeof v.seq !== 'number' || !Number.isSafeInteger(v.seq)) return undefined;
  if (typeof v.payload !== 'object' || v.payload === null || Array.isArray(v.payload)) return undefined;
  const time = new Date(v.time as string);
  // The hash covers the ISO form; a time that does not round-trip cannot verify.
  if (Number.isNaN(time.getTime()) || time.toISOString() !== v.time) return undefined;
  return {
    seq: v.seq,
    time,
    type: v.type as string,
    subject: v.subject as string,
    actor: v.actor as string,
    payload: v.payload as JsonObject,
    prev_hash: v.prev_hash as string,
    hash: v.hash as string,
  };
}
