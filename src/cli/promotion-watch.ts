/**
 * Following a promotion on a server until it ends: its server-sent events
 * (`GET /api/v1/promotions/{id}/events`), with the promotion read again (`GET /promotions/{id}`)
 * whenever the stream breaks. A stream that breaks again before it delivered anything is given up
 * (`SERVER_UNREACHABLE`), so a server that is gone is reported rather than retried forever.
 */
import { GantryError } from '../core/index.js';
import type { PromotionState } from '../app.js';
import type { PromotionStreamEvent, PromotionView } from '../jobs/index.js';
import { isRecord, objectWith, type ServerClient, type Shape } from './server-client.js';

/** States nothing leaves (the runtime's `TerminalStates`, kept here so waiting loads no domain code). */
const ENDED: ReadonlySet<string> = new Set(['completed', 'rejected', 'failed', 'cancelled']);

/** True when a promotion in `state` has ended. */
export function hasEnded(state: string): boolean {
  return ENDED.has(state);
}

/** The shape check of a {@link PromotionView}. */
export const promotionView: Shape<PromotionView> = objectWith<PromotionView>({
  id: 'string',
  state: 'string',
  environment: 'string',
  applications: 'array',
});

/** How a wait ended. */
export type WatchResult =
  | { readonly ended: true; readonly view: PromotionView }
  /** The deadline passed first; the promotion goes on in `state`. */
  | { readonly ended: false; readonly state: PromotionState };

/** Options of {@link watchPromotion}. */
export interface WatchOptions {
  /** Stop waiting at this time (ms since the epoch). Default: wait for the end. */
  readonly deadline?: number;
  /** Called with every event, in order. */
  readonly onEvent?: (event: PromotionStreamEvent) => void;
  /** The state known before watching (shown on a timeout before any event). */
  readonly state: PromotionState;
}

/** Follows promotion `id` until it ends or the deadline passes. */
export async function watchPromotion(
  client: ServerClient,
  id: string,
  options: WatchOptions,
): Promise<WatchResult> {
  const path = `/promotions/${encodeURIComponent(id)}`;
  let state = options.state;
  const abort = new AbortController();
  const remaining = options.deadline === undefined ? undefined : options.deadline - Date.now();
  if (remaining !== undefined && remaining <= 0) return { ended: false, state };
  // setTimeout takes at most 2^31-1 ms (24.8 days); a longer wait is as good as none.
  const timer =
    remaining === undefined ? undefined : setTimeout(() => abort.abort(), Math.min(remaining, 2 ** 31 - 1));
  let strikes = 0;
  try {
    for (;;) {
      let delivered = false;
      let broken: GantryError | undefined;
      try {
        for await (const raw of client.events(`${path}/events`, abort.signal)) {
          const event = streamEvent(raw.event, raw.data, client.server);
          if (!event) continue;
          delivered = true;
          if (event.type === 'state') state = event.state;
          options.onEvent?.(event);
          if (event.type === 'end') return { ended: true, view: event.promotion };
        }
      } catch (error) {
        if (abort.signal.aborted) return { ended: false, state };
        if (!(error instanceof GantryError) || error.code !== 'SERVER_UNREACHABLE') throw error;
        broken = error;
      }
      if (delivered) strikes = 0;
      strikes++;
      if (strikes > 1)
        throw (
          broken ??
          new GantryError(
            'SERVER_UNREACHABLE',
            `${client.server} closed the event stream of promotion ${id} twice before it ended`,
          )
        );
      // The stream broke (or closed early): read the promotion, and follow it again if it goes on.
      const view = await client.get(path, promotionView);
      if (hasEnded(view.state)) return { ended: true, view };
      if (view.state !== state) {
        state = view.state;
        options.onEvent?.({ type: 'state', id, state, time: view.updatedAt });
      }
      if (abort.signal.aborted) return { ended: false, state };
    }
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** One stream event, checked; undefined for an event type this CLI does not know (newer servers). */
export function streamEvent(name: string, data: string, server: string): PromotionStreamEvent | undefined {
  if (name !== 'state' && name !== 'progress' && name !== 'end') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    throw new GantryError('SERVER_PROTOCOL', `${server} sent a ${name} event that is not JSON`);
  }
  const bad = (why: string): GantryError =>
    new GantryError('SERVER_PROTOCOL', `${server} sent a malformed ${name} event (${why})`);
  if (!isRecord(value) || value.type !== name) throw bad(`its type is not ${name}`);
  if (name === 'state' && typeof value.state !== 'string') throw bad('no state');
  if (name === 'progress')
    for (const key of ['application', 'bytesTransferred', 'bytesTotal', 'blobsDone', 'blobsTotal'])
      if (typeof value[key] !== 'number') throw bad(`${key} is not a number`);
  if (name === 'end') {
    try {
      promotionView(value.promotion);
    } catch (error) {
      throw bad(`promotion: ${(error as Error).message}`);
    }
  }
  return value as unknown as PromotionStreamEvent;
}
