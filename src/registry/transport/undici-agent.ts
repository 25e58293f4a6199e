/**
 * undici's connection-pooling `Agent` with its `request()` API, loaded without the rest of the
 * package (fetch, WebSocket, caches, mocks), which would otherwise add ~0.1 s to every `gantry`
 * start. This mirrors what undici's own index.js does for `Dispatcher.prototype`.
 */
import Agent from 'undici/lib/dispatcher/agent.js';
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import api from 'undici/lib/api/index.js';

if (typeof (Dispatcher.prototype as { request?: unknown }).request !== 'function') {
  Object.assign(Dispatcher.prototype, api);
}

export { Agent };
