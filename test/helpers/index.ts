/** Test helpers: real and fake registries, a fake token server, image generators, push / pull. */
export * from './fake-registry.js';
export * from './fault-proxy.js';
export * from './free-port.js';
export * from './heavy-faults.js';
export * from './images.js';
export * from './jwt.js';
export * from './process-cleanup.js';
export * from './pull.js';
export * from './push.js';
export * from './registry-http.js';
export * from './registry.js';
export * from './run-command.js';
export * from './test-users.js';
export * from './tls-certs.js';
export * from './token-server.js';
export * from './gantry-server.js';
export * from './reliability.js';
