/**
 * The ledger as the promotion layer sees it: an event is recorded before the action it describes
 * (DESIGN.md guarantee 6). The server backs this port with the hash-chained ledger in
 * `src/store/ledger.ts`; the CLI, which keeps its state in the registries, uses
 * {@link noLedger}; tests use {@link MemoryLedger}.
 */

/** The events the promotion layer records. */
export type LedgerEventType =
  | 'promotion.requested'
  | 'promotion.gated'
  | 'promotion.approved'
  | 'promotion.rejected'
  | 'promotion.copying'
  | 'promotion.completed'
  | 'promotion.failed'
  | 'promotion.cancelled'
  | 'rollback.completed';

/** One ledger event: plain JSON, so a store can hash and keep it as it is. */
export interface LedgerEvent {
  readonly type: LedgerEventType;
  /** Who caused it (the requester, an approver, the server itself). */
  readonly actor: string;
  /** When, ISO 8601. */
  readonly time: string;
  /** What it is about: the promotion's id when a job runner gave it one, else `app@digest→env`. */
  readonly subject: string;
  /** Event facts: digests, environment, gate results, tag writes, the error. Plain JSON. */
  readonly payload: Readonly<Record<string, unknown>>;
}

/** Where ledger events go. `record` resolves once the event is durable; the action follows. */
export interface LedgerPort {
  record(event: LedgerEvent): Promise<void>;
}

/** A ledger that keeps nothing (the CLI: the registries hold its record). */
export const noLedger: LedgerPort = Object.freeze({ record: () => Promise.resolve() });

/** A ledger in memory, for tests and for showing what a promotion would record. */
export class MemoryLedger implements LedgerPort {
  /** Every event recorded, oldest first. */
  readonly events: LedgerEvent[] = [];

  /** Appends `event`. */
  record(event: LedgerEvent): Promise<void> {
    this.events.push(structuredClone(event));
    return Promise.resolve();
  }
}
