/**
 * A promotion runtime in its own process, for the kill -9 test (run with `node --import tsx`):
 * `runtime-child.ts STORE CONFIG [promote APP VERSION ENV | wait ID]`, STORE being a
 * `postgres://` URL or a PGlite data dir. It starts a runtime (one worker, short lease) and
 * prints one JSON line per event: `{"ready":true}`, `{"id":…}` after promoting, and with
 * `wait`, `{"view":…,"ledger":[types…]}` once the promotion ended, then exits 0.
 */
import { Ledger, openStore, type Store } from '../../src/store/index.js';
import { CI, loadApp, runtimeOf, waitForState } from './runtime-harness.js';

const [storeArg, config, command, ...args] = process.argv.slice(2);
if (!storeArg || !config)
  throw new Error('usage: runtime-child.ts STORE CONFIG [promote APP VERSION ENV | wait ID]');
const say = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value)}\n`);

const store: Store = await openStore(
  storeArg.startsWith('postgres://') ? { databaseUrl: storeArg, poolSize: 4 } : { dataDir: storeArg },
);
const app = await loadApp(config, () => store);
const runtime = runtimeOf(store, app, { workers: 1, leaseMs: 1_500 });
runtime.start();
say({ ready: true });
if (command === 'promote') {
  const [name, version, to] = args as [string, string, string];
  say({ id: (await runtime.promote({ app: name, version, to }, CI)).id });
} else if (command === 'wait') {
  const id = args[0] as string;
  const view = await waitForState(
    (x) => runtime.get(x),
    id,
    ['completed', 'failed', 'rejected', 'cancelled'],
    60_000,
  );
  const ledger: string[] = [];
  for await (const e of new Ledger(store.db).entries({ subject: id })) ledger.push(e.type);
  say({ view, ledger });
  await runtime.stop();
  await app.close();
  await store.close();
  process.exit(0);
}
