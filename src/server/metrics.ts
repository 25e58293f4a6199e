/**
 * Prometheus metrics, all prefixed `gantry_`: the process's default metrics, HTTP requests by
 * route template (never the raw URL, which would grow without bound) and status, and the
 * promotion runtime's metrics through a {@link RuntimeObserver}. One registry per server, so
 * servers in one process (tests) do not share counters.
 */
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { PromotionStates } from '../app.js';
import { GantryError } from '../core/index.js';
import type { RuntimeObserver } from '../jobs/index.js';
import type { Store } from '../store/index.js';

/** The server's metrics: its registry, and the observer the promotion runtime reports to. */
export interface ServerMetrics {
  readonly registry: Registry;
  /** Hand this to the promotion runtime: it feeds the `gantry_promotion*`, copy and registry metrics. */
  readonly observer: RuntimeObserver;
  /** Counts a webhook delivery attempt (`gantry_webhook_deliveries_total{endpoint,outcome}`). */
  webhookDelivered(endpoint: string, outcome: 'delivered' | 'retry' | 'dead'): void;
}

/** Job states counted by `gantry_queue_depth`. */
const QUEUE_STATES = ['queued', 'running'] as const;

/** Buckets of `gantry_promotion_step_seconds`: a mounted copy takes milliseconds, a gate wait hours. */
const STEP_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14_400];

/**
 * Creates a registry with the process's default metrics and the runtime's metrics:
 * `gantry_promotions_total{state}` (states entered), `gantry_promotion_step_seconds{state}`,
 * `gantry_copied_bytes_total{registry}` and `gantry_registry_errors_total{registry,code}`.
 * {@link instrument} adds the HTTP metrics and `gantry_queue_depth{state}` when a server uses it.
 * Create it before the runtime so the runtime can report to `observer`; pass it to `buildServer`.
 */
export function createServerMetrics(): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gantry_' });
  const promotions = new Counter({
    name: 'gantry_promotions_total',
    help: 'Promotion states entered, by state',
    labelNames: ['state'] as const,
    registers: [registry],
  });
  // Every state starts at 0, so rate() and alerts see the series before the first promotion.
  for (const state of PromotionStates) promotions.inc({ state }, 0);
  const steps = new Histogram({
    name: 'gantry_promotion_step_seconds',
    help: 'Time a promotion step took, by the state the step ran in',
    labelNames: ['state'] as const,
    buckets: STEP_BUCKETS,
    registers: [registry],
  });
  const copied = new Counter({
    name: 'gantry_copied_bytes_total',
    help: 'Bytes copied by promotions, by destination registry host',
    labelNames: ['registry'] as const,
    registers: [registry],
  });
  const registryErrors = new Counter({
    name: 'gantry_registry_errors_total',
    help: 'Promotion steps failed by a registry error, by registry host and error code',
    labelNames: ['registry', 'code'] as const,
    registers: [registry],
  });
  const webhooks = new Counter({
    name: 'gantry_webhook_deliveries_total',
    help: 'Webhook delivery attempts, by endpoint and outcome (delivered, retry, dead)',
    labelNames: ['endpoint', 'outcome'] as const,
    registers: [registry],
  });
  // The runtime must never fail because of a metric: values that cannot be recorded are dropped.
  const observer = Object.freeze<RuntimeObserver>({
    step: (state, ms) => {
      if (Number.isFinite(ms) && ms >= 0) steps.observe({ state }, ms / 1000);
    },
    entered: (state) => promotions.inc({ state }),
    copied: (host, bytes) => {
      if (Number.isFinite(bytes) && bytes > 0) copied.inc({ registry: host }, bytes);
    },
    registryError: (host, code) => registryErrors.inc({ registry: host, code }),
  });
  return Object.freeze({
    registry,
    observer,
    webhookDelivered: (endpoint: string, outcome: 'delivered' | 'retry' | 'dead') =>
      webhooks.inc({ endpoint, outcome }),
  });
}

/**
 * Adds to `metrics` the HTTP metrics of `server` (`gantry_http_requests_total`,
 * `gantry_http_request_duration_seconds`) and `gantry_queue_depth{state}`, the jobs of `store`
 * queued and running, counted at each scrape. One server per metrics object.
 */
export function instrument(server: FastifyInstance, metrics: ServerMetrics, store: Store): void {
  const { registry } = metrics;
  if (registry.getSingleMetric('gantry_http_requests_total'))
    throw new GantryError('INTERNAL', 'these server metrics already belong to another server');
  const requests = new Counter({
    name: 'gantry_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'gantry_http_request_duration_seconds',
    help: 'Time to answer HTTP requests, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'gantry_queue_depth',
    help: 'Promotion jobs queued and running (all replicas), by state',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      try {
        const rows = await store.db
          .selectFrom('jobs')
          .select(['state', (eb) => eb.fn.countAll<string>().as('n')])
          .where('state', 'in', QUEUE_STATES)
          .groupBy('state')
          .execute();
        for (const state of QUEUE_STATES)
          this.set({ state }, Number(rows.find((r) => r.state === state)?.n ?? 0));
      } catch {
        // A store that cannot be read leaves the gauge without samples; /readyz says why.
      }
    },
  });
  server.addHook('onResponse', async (request, reply) => {
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
  });
}
