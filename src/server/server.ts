/**
 * The HTTP server (Fastify): routes declared with zod schemas (route.ts), token authentication
 * and roles on every route but the public ones, one error → status table, request ids in logs and
 * responses, Prometheus metrics. Built around an open store and the current app; listening,
 * signals and reloads are run-server.ts's business.
 */
import { randomUUID } from 'node:crypto';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { pino } from 'pino';
import type { App } from '../app.js';
import type { WebhookConfig } from '../config/index.js';
import {
  unwiredCandidateSink,
  type CandidateSink,
  type HoldDesk,
  type PromotionDesk,
} from '../jobs/index.js';
import { GantryError } from '../core/index.js';
import { Ledger, Tokens, type Store, type TokenRefusal } from '../store/index.js';
import { setCaller } from './caller.js';
import type { ServerContext } from './context.js';
import type { SnapshotOptions } from './snapshot.js';
import { registerDashboard } from './dashboard.js';
import { answerClientError, handleError, notFound } from './errors.js';
import { EventStreams } from './event-stream.js';
import { createServerMetrics, instrument, type ServerMetrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { grants, type Access } from './roles.js';
import { register, type AnyRoute } from './route.js';
import { candidateRoutes } from './routes/candidates.js';
import { deploymentRoutes } from './routes/deployments.js';
import { environmentRoutes } from './routes/environments.js';
import { eventRoutes } from './routes/events.js';
import { holdRoutes } from './routes/holds.js';
import { ledgerRoutes } from './routes/ledger.js';
import { lifecycleRoutes } from './routes/lifecycle.js';
import { operationRoutes } from './routes/operations.js';
import { pipelineRoutes } from './routes/pipeline.js';
import { promotionRoutes } from './routes/promotions.js';
import {
  REGISTRY_EVENTS_BODY_LIMIT,
  SIGNATURE_HEADER,
  registryEventRoutes,
} from './routes/registry-events.js';
import { sessionRoutes } from './routes/session.js';
import { tokenRoutes } from './routes/tokens.js';
import { webhookRoutes } from './routes/webhooks.js';

/** Options of {@link buildServer}. */
export interface ServerOptions {
  /** The open store (the caller closes it). */
  readonly store: Store;
  /** The app wired from the current configuration (called per request: reloads take effect). */
  readonly app: () => App;
  /** A pino logger; default: no logs. */
  readonly logger?: FastifyBaseLogger;
  /** The clock. Default `() => new Date()`. */
  readonly now?: () => Date;
  /** Gantry's version, for the OpenAPI document. Default `0.0.0`. */
  readonly version?: string;
  /** Largest request body in bytes. Default 64 KiB. */
  readonly bodyLimit?: number;
  /**
   * How long `GET /api/v1/status` serves one reading of the registries: fresh for `freshMs`
   * (default 2000), then served while a new reading runs for up to `maxStaleMs` (default 30000).
   * `{freshMs: 0, maxStaleMs: 0}` reads the registries on every request.
   */
  readonly statusCache?: SnapshotOptions;
  /**
   * How long a valid API token is trusted without a store query (ms; default 1000). A revocation
   * through this server takes effect at once; through another replica, within this time.
   */
  readonly tokenCacheMs?: number;
  /**
   * The promotion runtime the promotion, release and rollback routes use. Default none: those
   * routes are then not served at all (404).
   */
  readonly desk?: PromotionDesk;
  /** The ledger routes append to (e.g. one with the webhook outbox hook). Default: a new one. */
  readonly ledger?: Ledger;
  /** The configured webhook endpoints (the delivery log routes). Default: none. */
  readonly webhooks?: () => readonly WebhookConfig[];
  /** Holds on auto-promotion. Default none: the hold routes are then not served (404). */
  readonly holds?: HoldDesk;
  /**
   * The metrics registry, made with `createServerMetrics()` before the runtime so that the
   * runtime reports to its `observer`. Default: a new one. One server per metrics object.
   */
  readonly metrics?: ServerMetrics;
  /**
   * Where registry notifications put candidates. Default: none; notifications are then read,
   * answered and logged, but no candidate is kept.
   */
  readonly candidates?: CandidateSink;
  /**
   * The built dashboard (dist/web), served at `/`. Default none; a directory without a build is
   * ignored.
   */
  readonly dashboardDir?: string;
  /** Tells the lifecycle worker a run was queued through the API. Default: it finds it on its next look. */
  readonly lifecycleQueued?: () => void;
}

/** A built server, not yet listening. */
export interface GantryServer {
  readonly http: FastifyInstance;
  readonly ledger: Ledger;
  readonly tokens: Tokens;
  /** What environments hold has changed (a promotion completed here): cached status is dropped. */
  statusChanged(reason?: string): void;
}

const REFUSALS: Readonly<Record<TokenRefusal | 'missing', string>> = {
  missing: 'this route needs an API token: Authorization: Bearer gty_…',
  malformed: 'the Authorization header is not "Bearer gty_…" with a well-formed token',
  unknown: 'the API token is not known',
  expired: 'the API token has expired',
  revoked: 'the API token has been revoked',
};

/** Builds the server with every route registered. */
export async function buildServer(options: ServerOptions): Promise<GantryServer> {
  const http: FastifyInstance = Fastify({
    loggerInstance: options.logger ?? pino({ level: 'silent' }),
    genReqId: () => randomUUID(),
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    // Fastify's request log holds method, URL and client only, never headers (they carry tokens).
    return503OnClosing: true,
    // Fastify's own refusals before routing (a malformed percent-encoding in the path) get the API's error body too.
    frameworkErrors: (error, request, reply) => {
      const body = handleError(error, request, reply);
      void (reply as FastifyReply).send(body);
    },
    // And so do requests Node's parser refuses before Fastify sees them (headers past 16 KB).
    clientErrorHandler: answerClientError,
  });
  const ledger = options.ledger ?? new Ledger(options.store.db);
  // A valid token is trusted for a second without asking the store again (a query per request
  // would cap the API at a few hundred requests/s on PGlite); see Tokens.
  const tokens = new Tokens(options.store.db, ledger, { cacheMs: options.tokenCacheMs ?? 1000 });
  const now = options.now ?? (() => new Date());
  const metrics = options.metrics ?? createServerMetrics();
  instrument(http, metrics, options.store);
  const streams = new EventStreams();
  // Open event streams would keep close() waiting for their clients: end them first.
  http.addHook('preClose', (done) => {
    streams.closeAll();
    done();
  });
  const statusListeners: ((reason: string) => void)[] = [];
  const statusChanged = (reason = 'status'): void => {
    for (const l of statusListeners) l(reason);
  };
  const ctx: ServerContext = {
    store: options.store,
    ledger,
    tokens,
    app: options.app,
    now,
    metrics,
    version: options.version ?? '0.0.0',
    statusCache: options.statusCache ?? { freshMs: 2000, maxStaleMs: 30_000 },
    ...(options.desk && { desk: options.desk }),
    webhooks: options.webhooks ?? (() => []),
    ...(options.candidates && { candidates: options.candidates }),
    ...(options.holds && { holds: options.holds }),
    statusChanged,
    onStatusChange: (listener) => void statusListeners.push(listener),
  };

  http.setErrorHandler((error, request, reply) => handleError(error, request, reply));
  const dashboard =
    options.dashboardDir !== undefined ? await registerDashboard(http, options.dashboardDir) : undefined;
  http.setNotFoundHandler((request, reply) => {
    if (dashboard?.page(request, reply)) return reply;
    return handleError(notFound(request), request, reply);
  });
  http.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  const authorize = async (request: FastifyRequest, access: Access): Promise<void> => {
    if (access === 'public') return;
    const header = request.headers.authorization;
    // A signed registry notification carries no token: its route checks the HMAC over the body.
    if (access === 'notify' && !header && request.headers[SIGNATURE_HEADER] !== undefined) return;
    if (header === undefined || header === '') throw unauthenticated('missing');
    const match = /^Bearer +(\S+)$/i.exec(header);
    if (!match?.[1]) throw unauthenticated('malformed');
    const auth = await tokens.authenticate(match[1], now());
    if (!auth.ok) throw unauthenticated(auth.reason);
    if (!grants(auth.token.roles, access))
      throw new GantryError('API_FORBIDDEN', `this route needs the ${access} role`);
    // Admin routes (tokens, gc, sync, redelivery) cover every team: a team-limited token could mint an unlimited one.
    if (access === 'admin' && auth.token.teams.length > 0)
      throw new GantryError(
        'API_FORBIDDEN',
        'the admin routes cover every application: a token limited to teams cannot use them',
      );
    setCaller(request, auth.token);
  };

  const routes: AnyRoute[] = [];
  let document: unknown;
  routes.push(
    ...operationRoutes(ctx, () => (document ??= openApiDocument(routes, ctx.version))),
    ...tokenRoutes(ctx),
    ...ledgerRoutes(ctx),
    ...environmentRoutes(ctx),
    ...(ctx.desk ? promotionRoutes(ctx, ctx.desk, streams) : []),
    ...candidateRoutes(ctx),
    ...webhookRoutes(ctx),
    ...registryEventRoutes(ctx, ctx.candidates ?? unwiredCandidateSink(http.log)),
    ...deploymentRoutes(ctx),
    ...(ctx.holds ? holdRoutes(ctx, ctx.holds) : []),
    ...sessionRoutes(ctx),
    ...pipelineRoutes(ctx),
    ...eventRoutes(ctx, streams),
    ...lifecycleRoutes(ctx, options.lifecycleQueued),
  );
  for (const r of routes) if (!r.rawBody) register(http, r, authorize);
  // Routes that verify a signature get the body as bytes, whatever its content type.
  await http.register((scope, _opts, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: REGISTRY_EVENTS_BODY_LIMIT },
      (_r, body, done) => done(null, body),
    );
    for (const r of routes) if (r.rawBody) register(scope, r, authorize);
    done();
  });
  await http.ready();
  return { http, ledger, tokens, statusChanged };
}

function unauthenticated(reason: TokenRefusal | 'missing'): GantryError {
  return new GantryError('API_UNAUTHENTICATED', REFUSALS[reason], { details: { reason } });
}
