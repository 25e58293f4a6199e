/**
 * A ledger port that keeps a step's events until the step's outcome is stored: the runner then
 * appends them to the hash-chained ledger in the one transaction that stores the new state, so
 * an entry and the state change it records commit together. The applier records each event
 * before the action it describes happens in a later step, so "ledger before action" holds.
 */
import type { Transaction } from 'kysely';
import type { LedgerEvent, LedgerPort } from '../app.js';
import type { JsonObject, Ledger, StoreDatabase } from '../store/index.js';

/** Collects events; {@link BufferedLedger.flush} appends them inside a transaction. */
export class BufferedLedger implements LedgerPort {
  readonly #events: LedgerEvent[] = [];

  /** Keeps `event` (a copy) for {@link flush}. */
  record(event: LedgerEvent): Promise<void> {
    this.#events.push(structuredClone(event));
    return Promise.resolve();
  }

  /** The events kept so far, oldest first. */
  get events(): readonly LedgerEvent[] {
    return this.#events;
  }

  /** Forgets the kept events (after they were appended, or with a step whose outcome was dropped). */
  clear(): void {
    this.#events.length = 0;
  }

  /** Appends every kept event to `ledger` inside `trx`, in order. */
  async flush(trx: Transaction<StoreDatabase>, ledger: Ledger): Promise<void> {
    for (const e of this.#events) {
      await ledger.append(trx, {
        type: e.type,
        subject: e.subject,
        actor: e.actor,
        time: new Date(e.time),
        payload: e.payload as JsonObject,
      });
    }
  }
}
