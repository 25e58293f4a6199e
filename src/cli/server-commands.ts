/**
 * The commands that run or read the server's store: `serve`, `ledger verify`, `ledger export`.
 * They pull in Fastify, pino, prom-client, kysely, PGlite and pg, which no other command needs, so
 * the build puts this module in a bundle of its own (dist/server.cjs, scripts/build.mjs) and every
 * other command starts without loading or parsing it.
 */
export { serve } from './commands/serve.js';
export { verify as ledgerVerify, exportLedger } from './commands/ledger.js';
