/**
 * The webhook outbox (docs/decisions/0015-webhooks.md): a ledger append hook that, inside the
 * appending transaction, writes one delivery per matching endpoint and enqueues its `webhook`
 * job. The event therefore exists for webhooks exactly when it exists in the ledger: a
 * rolled-back state change sends nothing, and a committed one is delivered even after a crash.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { GantryError } from '../core/index.js';
import { webhookMatches, type WebhookConfig } from '../config/index.js';
import {
  JobQueue,
  WebhookDeliveries,
  type JsonObject,
  type JsonValue,
  type LedgerAppendHook,
  type LedgerEntry,
  type StoreDatabase,
} from '../store/index.js';

/** The job kind of a delivery. */
export const WEBHOOK_JOB = 'webhook';

/** Options of {@link webhookOutbox}. */
export interface WebhookOutboxOptions {
  /** The endpoints of the current configuration (read at every append: reloads take effect). */
  readonly endpoints: () => readonly WebhookConfig[];
  /** Called after an event was queued for some endpoint (the worker looks soon after). */
  readonly queued?: () => void;
}

/** A new delivery id, the `webhook-id` of its requests: `msg_` and 32 hex digits. */
export function newDeliveryId(): string {
  return `msg_${randomUUID().replaceAll('-', '')}`;
}

/** The ledger hook writing deliveries and their jobs. */
export function webhookOutbox(options: WebhookOutboxOptions): LedgerAppendHook {
  return async (trx, entry) => {
    const endpoints = options.endpoints().filter((e) => webhookMatches(e.events, entry.type));
    if (endpoints.length === 0) return;
    const data = await eventData(trx, entry);
    const deliveries = new WebhookDeliveries(trx);
    const queue = new JobQueue(trx);
    for (const endpoint of endpoints) {
      const id = newDeliveryId();
      const body: JsonObject = {
        type: entry.type,
        id,
        timestamp: entry.time.toISOString(),
        data,
        ledger: { seq: entry.seq, hash: entry.hash },
      };
      await deliveries.insert(trx, {
        id,
        endpoint: endpoint.name,
        event: entry.type,
        subject: entry.subject,
        ledgerSeq: entry.seq,
        body,
        time: entry.time,
      });
      await queue.enqueue(
        { kind: WEBHOOK_JOB, payload: { delivery: id }, maxAttempts: endpoint.attempts },
        trx,
      );
    }
    options.queued?.();
  };
}

/** The state a promotion is in once the event is recorded. */
function stateAfter(entry: LedgerEntry, current: string | undefined): string | undefined {
  const p = entry.payload;
  switch (entry.type) {
    case 'promotion.gated':
      return p.verdict === 'pending' ? 'awaiting-approval' : 'gated';
    case 'promotion.approval':
      return current;
    default:
      return entry.type.startsWith('promotion.') ? entry.type.slice('promotion.'.length) : current;
  }
}

/**
 * The `data` of an event: the promotion's facts from its row (read in the appending transaction,
 * where it is already inserted), with what the entry itself records (gates, approvals, reason,
 * error) taking precedence over the row's last stored progress.
 */
async function eventData(trx: Transaction<StoreDatabase>, entry: LedgerEntry): Promise<JsonObject> {
  const p = entry.payload;
  if (!entry.type.startsWith('promotion.')) {
    return { subject: entry.subject, actor: entry.actor, ...p };
  }
  const row = await trx
    .selectFrom('promotions')
    .selectAll()
    .where('id', '=', entry.subject)
    .executeTakeFirst();
  if (!row) return { promotion: entry.subject, actor: entry.actor, ...p };
  const progress = (row.progress ?? {}) as JsonObject;
  const plan = (row.plan ?? {}) as JsonObject;
  const planned = Array.isArray(plan.applications) ? (plan.applications as JsonObject[]) : [];
  const pick = (key: string): JsonValue | undefined => p[key] ?? progress[key];
  const state = stateAfter(entry, row.state);
  const reason = p.reason ?? progress.reason ?? row.reason ?? undefined;
  const error = p.error ?? progress.error ?? row.error ?? undefined;
  return {
    promotion: row.id,
    kind: row.kind,
    app: row.app,
    apps: row.apps,
    applications: planned.map((a) => ({
      app: a.application ?? null,
      version: a.version ?? null,
      digest: a.digest ?? null,
    })),
    version: row.version,
    digest: row.digest,
    from: row.from_env,
    to: row.to_env,
    requester: row.requester,
    actor: entry.actor,
    approvals: pick('approvals') ?? [],
    gates: pick('gates') ?? [],
    ...(state !== undefined && { state }),
    ...(entry.type === 'promotion.approval' && {
      approval: { approver: p.approver ?? null, groups: p.groups ?? [] },
    }),
    ...(reason != null && (state === 'rejected' || state === 'cancelled') && { reason }),
    ...(error != null && state === 'failed' && { error }),
  };
}

/**
 * Sends delivery `id` again (Standard Webhooks: the same `webhook-id` and body, a new timestamp
 * and signature) to its endpoint as configured now: the delivery becomes pending and a new job
 * is queued, in one transaction. Throws `API_NOT_FOUND`, `WEBHOOK_DELIVERY_PENDING` while an
 * earlier delivery of it is still under way, and `WEBHOOK_ENDPOINT_UNKNOWN` when its endpoint is
 * no longer configured.
 */
export async function redeliver(
  db: Kysely<StoreDatabase>,
  id: string,
  endpoints: readonly WebhookConfig[],
): Promise<void> {
  const deliveries = new WebhookDeliveries(db);
  await db.transaction().execute(async (trx) => {
    const row = await deliveries.lock(trx, id);
    if (!row)
      throw new GantryError('API_NOT_FOUND', `no webhook delivery ${id}`, { details: { delivery: id } });
    const endpoint = endpoints.find((e) => e.name === row.endpoint);
    if (!endpoint)
      throw new GantryError(
        'WEBHOOK_ENDPOINT_UNKNOWN',
        `webhook endpoint "${row.endpoint}" is no longer configured: delivery ${id} cannot be sent again`,
        { details: { delivery: id, endpoint: row.endpoint } },
      );
    if (row.state === 'pending')
      throw new GantryError(
        'WEBHOOK_DELIVERY_PENDING',
        `webhook delivery ${id} is still being delivered; redeliver it once it is delivered or dead`,
        { details: { delivery: id } },
      );
    await deliveries.reopen(trx, id);
    await new JobQueue(trx).enqueue(
      { kind: WEBHOOK_JOB, payload: { delivery: id }, maxAttempts: endpoint.attempts },
      trx,
    );
  });
}
