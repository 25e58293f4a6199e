/**
 * `gantry ledger verify` and `gantry ledger export`: check the hash chain of a store (or of an
 * exported file, offline) and write it out as JSON lines. They open the store directly, so on
 * PGlite they need the data dir not to be in use by a running server.
 */
import { readFile } from 'node:fs/promises';
import { GantryError } from '../../core/index.js';
import {
  Ledger,
  ledgerEntryToLine,
  openStore,
  verifyLedgerLines,
  type JsonObject,
  type LedgerVerification,
} from '../../store/index.js';
import { serverUrlOf } from '../cli-options.js';
import { ExitCode } from '../exit-codes.js';
import { isRecord, objectWith, ServerClient } from '../server-client.js';
import { printJson, printLines } from '../output.js';
import { storeOptions, type StoreCommandOptions } from './store-options.js';

/** Options of `gantry ledger verify`. */
export interface LedgerVerifyOptions extends LedgerServerOptions {
  /** Verify an exported JSON-lines file instead of a store. */
  readonly file?: string;
  /** With `--file`: `SEQ:HASH`, the head the export must end at (as published elsewhere). */
  readonly head?: string;
  readonly json?: boolean;
}

/** Store options plus `--server`: a store flag, then `--server`, then `GANTRY_DATABASE_URL`, then `GANTRY_SERVER`. */
export interface LedgerServerOptions extends StoreCommandOptions {
  readonly server?: string;
}

/** The server to ask instead of a store, or undefined. */
function ledgerServer(options: LedgerServerOptions): string | undefined {
  const storeFlag = options.dataDir !== undefined || options.databaseUrl !== undefined;
  if (options.server !== undefined) {
    if (storeFlag)
      throw new GantryError(
        'USAGE_INVALID',
        '--server reads the ledger through the API; drop --data-dir/--database-url',
      );
    return serverUrlOf(options.server);
  }
  if (storeFlag || (process.env.GANTRY_DATABASE_URL ?? '') !== '') return undefined;
  return serverUrlOf(undefined);
}

const verification = objectWith<LedgerVerification>({ ok: 'boolean', entries: 'number', headHash: 'string' });

/** Runs `gantry ledger verify`: exit 0 when the chain is intact, 8 otherwise. */
export async function verify(options: LedgerVerifyOptions): Promise<number> {
  let result: LedgerVerification;
  if (options.file !== undefined) {
    if (options.dataDir !== undefined || options.databaseUrl !== undefined || options.server !== undefined)
      throw new GantryError(
        'USAGE_INVALID',
        '--file verifies an export offline; drop --data-dir/--database-url/--server',
      );
    result = await verifyFile(options.file, options.head);
  } else if (ledgerServer(options) !== undefined) {
    if (options.head !== undefined) throw new GantryError('USAGE_INVALID', '--head goes with --file');
    result = await ServerClient.fromEnvironment(ledgerServer(options) ?? '').get(
      '/ledger/verify',
      verification,
    );
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
export type LedgerExportOptions = LedgerServerOptions;

/** Runs `gantry ledger export`: every entry as one canonical JSON line on stdout. */
export async function exportLedger(options: LedgerExportOptions): Promise<number> {
  const server = ledgerServer(options);
  if (server !== undefined) return exportFromServer(ServerClient.fromEnvironment(server));
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

const write = async (line: string): Promise<void> => {
  if (!process.stdout.write(`${line}\n`)) await new Promise((r) => process.stdout.once('drain', r));
};

const page = objectWith<{ entries: unknown[]; next?: number }>({ entries: 'array' });

/**
 * `gantry ledger export --server`: pages through `GET /api/v1/ledger` and writes each entry as
 * the local export does (canonical JSON, the same eight fields), so the file verifies offline.
 */
async function exportFromServer(client: ServerClient): Promise<number> {
  let after = 0;
  for (;;) {
    const body = await client.get('/ledger', page, { after: String(after), limit: '1000' });
    for (const raw of body.entries) {
      const e = ledgerEntry(raw, client.server);
      if (e.seq <= after)
        throw new GantryError(
          'SERVER_PROTOCOL',
          `${client.server} sent ledger entry ${e.seq} after ${after}`,
        );
      after = e.seq;
      await write(ledgerEntryToLine(e));
    }
    if (body.next === undefined || body.entries.length === 0) return 0;
    if (typeof body.next !== 'number' || body.next !== after)
      throw new GantryError(
        'SERVER_PROTOCOL',
        `${client.server} sent a ledger page whose next is not its last entry`,
      );
  }
}

/** One entry of `GET /api/v1/ledger`, checked, with exactly the fields of the chain. */
function ledgerEntry(raw: unknown, server: string): Parameters<typeof ledgerEntryToLine>[0] {
  const bad = (why: string): GantryError =>
    new GantryError('SERVER_PROTOCOL', `${server} sent a malformed ledger entry (${why})`);
  if (!isRecord(raw)) throw bad('not an object');
  const { seq, time, type, subject, actor, payload, prev_hash, hash } = raw;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) throw bad('seq');
  if (typeof time !== 'string' || Number.isNaN(Date.parse(time))) throw bad('time');
  for (const [k, v] of Object.entries({ type, subject, actor, prev_hash, hash }))
    if (typeof v !== 'string') throw bad(k);
  if (!isRecord(payload)) throw bad('payload');
  return {
    seq,
    time: new Date(time),
    type: type as string,
    subject: subject as string,
    actor: actor as string,
    payload: payload as JsonObject,
    prev_hash: prev_hash as string,
    hash: hash as string,
  };
}
