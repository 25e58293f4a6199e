/**
 * `GET /api/v1/events`: one server-sent-event stream of everything the dashboard's live views
 * follow, limited to the caller's teams: `promotion` (a promotion's view whenever one is created
 * or changes state, on any replica), `progress` (copy progress of promotions run here, a few
 * reports a second per application; a stream opened mid-copy first gets the progress so far) and
 * `status` (the environment × application matrix changed: a promotion completed, a rollback, a
 * deployment report), with a `: keep-alive` comment every 15 s. One subscription to the desk
 * serves every open stream, while one is open and for 30 s after the last one closed.
 */
import { z } from 'zod';
import type { DeskEvent, PromotionView } from '../../jobs/index.js';
import { callerOf } from '../caller.js';
import type { ServerContext } from '../context.js';
import type { EventStream, EventStreams } from '../event-stream.js';
import { route, type AnyRoute } from '../route.js';
import { visibleApplications } from '../teams.js';

/**
 * Copy progress of one application of a promotion is sent at most this often (ms), its last report
 * always. The copy already reports at most every 250 ms with a trailing report (copyProgress in
 * src/app-registry.ts); this only bounds a burst, so it must stay below that interval, or a
 * trailing report arriving a hair early would be dropped and leave the bar stale.
 */
const PROGRESS_INTERVAL_MS = 100;

/** How long the hub stays subscribed after its last stream closed (ms). */
const IDLE_UNSUBSCRIBE_MS = 30_000;

interface Client {
  readonly stream: EventStream;
  /** The applications the caller sees; `undefined`: all. */
  readonly visible: ReadonlySet<string> | undefined;
}

/** The open event streams of one server and the one desk subscription they share. */
class EventHub {
  readonly #ctx: ServerContext;
  readonly #clients = new Set<Client>();
  readonly #progressSent = new Map<string, number>();
  /**
   * The latest progress of each application of each promotion still copying, sent to a stream
   * when it opens: a dashboard opened (or reloaded) mid-copy shows where the copy is at once.
   */
  readonly #latestProgress = new Map<string, Omit<Extract<DeskEvent, { type: 'progress' }>, 'type'>>();
  /** Promotions whose completion was announced as a `status` event. */
  readonly #completed = new Set<string>();
  #unsubscribe: (() => void) | undefined;
  /** Ends the desk subscription a while after the last stream closed (a reload reconnects). */
  #idle: NodeJS.Timeout | undefined;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
    ctx.onStatusChange((reason) => {
      // Completed promotions are announced from their `promotion` events, whichever replica ran them.
      if (reason !== 'promotion.completed') this.#status(reason);
    });
  }

  add(client: Client): void {
    this.#clients.add(client);
    clearTimeout(this.#idle);
    this.#idle = undefined;
    client.stream.onClose(() => {
      this.#clients.delete(client);
      if (this.#clients.size > 0) return;
      // Kept for a while: a dashboard that reloads mid-copy gets the progress so far at once.
      this.#idle = setTimeout(() => {
        this.#idle = undefined;
        if (this.#clients.size > 0) return;
        this.#unsubscribe?.();
        this.#unsubscribe = undefined;
        this.#progressSent.clear();
        this.#latestProgress.clear();
        this.#completed.clear();
      }, IDLE_UNSUBSCRIBE_MS);
      this.#idle.unref();
    });
    if (!this.#unsubscribe && this.#ctx.desk?.watchAll)
      this.#unsubscribe = this.#ctx.desk.watchAll((event) => this.#relay(event));
    for (const data of this.#latestProgress.values())
      if (!client.visible || client.visible.has(data.application)) client.stream.send('progress', data);
  }

  #relay(event: DeskEvent): void {
    if (event.type === 'promotion') {
      const view = event.promotion;
      for (const c of this.#clients) if (visibleIn(c.visible, view)) c.stream.send('promotion', view);
      if (view.state === 'completed' && !this.#completed.has(view.id)) {
        this.#completed.add(view.id);
        // Only recent completions can be seen again (the poll's overlap): keep the set small.
        if (this.#completed.size > 1000) this.#completed.delete(this.#completed.values().next().value!);
        this.#status('promotion.completed', view);
      }
      if (view.state !== 'copying')
        for (const key of [...this.#progressSent.keys(), ...this.#latestProgress.keys()])
          if (key.startsWith(`${view.id}\n`)) {
            this.#progressSent.delete(key);
            this.#latestProgress.delete(key);
          }
      return;
    }
    const now = Date.now();
    const key = `${event.id}\n${event.application}`;
    const { type: _type, ...data } = event;
    this.#latestProgress.set(key, data);
    const last = this.#progressSent.get(key);
    const final = event.blobsDone >= event.blobsTotal;
    if (!final && last !== undefined && now - last < PROGRESS_INTERVAL_MS) return;
    this.#progressSent.set(key, now);
    for (const c of this.#clients)
      if (!c.visible || c.visible.has(event.application)) c.stream.send('progress', data);
  }

  #status(reason: string, view?: PromotionView): void {
    const data = { reason, time: this.#ctx.now().toISOString() };
    for (const c of this.#clients) if (!view || visibleIn(c.visible, view)) c.stream.send('status', data);
  }
}

/** True when a caller seeing `visible` (undefined: everything) may see every application of `view`. */
function visibleIn(visible: ReadonlySet<string> | undefined, view: PromotionView): boolean {
  if (!visible) return true;
  return view.applications.length > 0 && view.applications.every((a) => visible.has(a.application));
}

/** The event stream route; `streams` holds the open streams (ended on shutdown). */
export function eventRoutes(ctx: ServerContext, streams: EventStreams): AnyRoute[] {
  const hub = new EventHub(ctx);
  return [
    route({
      method: 'GET',
      url: '/api/v1/events',
      summary:
        'Server-sent events of every promotion the caller may see: `promotion` (its view, when created or changed, on any replica), `progress` (`{id, application, bytesTransferred, bytesTotal, blobsDone, blobsTotal}`, copies run on this replica, ≤ 4/s per promotion), `status` (`{reason, time}`: the status matrix changed); a `: keep-alive` comment every 15 s',
      access: 'read',
      query: z.strictObject({}),
      produces: 'text/event-stream',
      handler: ({ request, reply }) => {
        const caller = callerOf(request);
        const visible = visibleApplications(ctx.app().config, caller.token);
        if (request.method === 'HEAD') {
          reply.header('cache-control', 'no-store');
          return Promise.resolve('');
        }
        const stream = streams.open(request, reply);
        hub.add({ stream, visible });
        return Promise.resolve(undefined);
      },
    }),
  ];
}
