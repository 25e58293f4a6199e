/** Public surface of the server layer: `gantry serve`'s HTTP API. */
export { buildServer, type GantryServer, type ServerOptions } from './server.js';
export {
  runServer,
  SERVER_ACTOR,
  type AppDeps,
  type LoadedApp,
  type ServerRuntimeOptions,
  type RunningServer,
  type RunServerOptions,
} from './run-server.js';
export { httpStatusFor } from './http-status.js';
export { requestLogSerializer, redactQuery } from './request-log.js';
export { roleSchema, type Access } from './roles.js';
export { createServerMetrics, type ServerMetrics } from './metrics.js';
