/**
 * `gantry ledger verify` and `gantry ledger export`: check the hash chain of a store (or of an
 * exported file, offline) and write it out as JSON lines. They open the store directly, so on
 * PGlite they need the data dir not to be in use by a running server.
 */
import { readFile } from 'node:fs/promises';
import { GantryError } from '../../core/index.js';
import { Ledger, openStore, verifyLedgerLines, type LedgerVerification } from '../../store/index.js';
import { ExitCode } from '../exit-codes.js';
import { printJson, printLines } from '../output.js';
import { storeOptions, type StoreCommandOptions } from './store-options.js';

/** Options of `gantry ledger verify`. */
export interface LedgerVerifyOptions extends StoreCommandOptions {
  /** Verify an exported JSON-lines file instead of a store. */
  readonly file?: string;
  /** With `--file`: `SEQ:HASH`, the head the export must end at (as published elsewhere). */
  readonly head?: string;
  readonly json?: boolean;
}

/** Runs `gantry ledger verify`: exit 0 when the chain is intact, 8 otherwise. */
export async function verify(options: LedgerVerifyOptions): Promise<number> {
  let result: LedgerVerification;
  if (options.file !== undefined) {
    if (options.dataDir !== undefined || options.databaseUrl !== undefined)
      throw new GantryError(
        'USAGE_INVALID',
        '--file verifies an export offline; drop --data-dir/--database-url',
      );
    result = await verifyFile(options.file, options.head);
  } else {
    if (options.head !== undefined) throw new GantryError('USAGE_INVALID', '--head goes with --file');
    const store = await openStore(storeOptions(options, { mustExist: true }));
    try {
      result = await new Ledger(store.db).verify();
    } finally {
      await store.close();
    }
  }
  if (options.json) printJson(result);
  else if (result.ok) printLines(`ledger ok: ${result.entries} entries, head ${result.headHash}`);
  else
    printLines(
      `ledger BROKEN at entry ${result.firstBadSeq ?? '?'} (${result.reason ?? 'unknown'}); ${result.entries} entries before it are intact`,
    );
  return result.ok ? ExitCode.ok : ExitCode.integrity;
}

async function verifyFile(file: string, head: string | undefined): Promise<LedgerVerification> {
  let expected: { seq: number; hash: string } | undefined;
  if (head !== undefined) {
    const m = /^(\d{1,15}):([0-9a-f]{64})$/.exec(head);
    if (!m)
      throw new GantryError('USAGE_INVALID', '--head must be SEQ:HASH (a sequence number and 64 hex digits)');
    expected = { seq: Number(m[1]), hash: m[2] ?? '' };
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new GantryError('LOCAL_IO', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  return verifyLedgerLines(text.split('\n'), expected);
}

/** Options of `gantry ledger export`. */
export type LedgerExportOptions = StoreCommandOptions;

/** Runs `gantry ledger export`: every entry as one canonical JSON line on stdout. */
export async function exportLedger(options: LedgerExportOptions): Promise<number> {
  const store = await openStore(storeOptions(options, { mustExist: true }));
  try {
    for await (const line of new Ledger(store.db).exportLines()) {
      if (!process.stdout.write(`${line}\n`)) await new Promise((r) => process.stdout.once('drain', r));
    }
  } finally {
    await store.close();
  }
  return 0;
}
