/**
 * One referrer writer in its own process, for the cross-process race in
 * referrers-concurrency.test.ts. Usage: `referrer-writer.ts HOST REPOSITORY MEDIA_TYPE` with the
 * manifest (base64) on stdin's first line; prints `ready`, waits for `go` on stdin, pushes the
 * referrer, prints its digest and exits.
 */
import { createInterface } from 'node:readline';
import { clientFor } from './clients.js';

const [host, repository, mediaType] = process.argv.slice(2);
if (!host || !repository || !mediaType)
  throw new Error('usage: referrer-writer.ts HOST REPOSITORY MEDIA_TYPE');
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const manifest = Buffer.from(String((await lines.next()).value), 'base64');
const client = clientFor({ host, tls: false });
process.stdout.write('ready\n');
await lines.next();
const pushed = await client.referrerPush({ registry: host, repository }, manifest, mediaType);
process.stdout.write(`${pushed.digest}\n`);
await client.close();
process.exit(0);
