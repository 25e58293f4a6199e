/**
 * `gantry hold list` and `gantry hold release APP --env ENV`: holds on auto-promotion, on a
 * server only (a rollback through the server puts one; see docs/server.md "Auto-promotion and
 * holds").
 */
import type { HoldView } from '../../jobs/index.js';
import { printJson, printLines } from '../output.js';
import { objectWith } from '../server-client.js';
import { clientFor, type RemoteOptions } from './remote.js';

const holdShape = objectWith<HoldView>({
  id: 'number',
  application: 'string',
  environment: 'string',
  reason: 'string',
});

/** Options of `gantry hold list`. */
export interface HoldListOptions extends RemoteOptions {
  readonly app?: string;
  readonly env?: string;
  /** Released holds too. */
  readonly all?: boolean;
}

/** `gantry hold list [--app APP] [--env ENV] [--all]`. */
export async function list(options: HoldListOptions): Promise<number> {
  const client = clientFor(options, []);
  const body = await client.get('/holds', objectWith<{ holds: HoldView[] }>({ holds: 'array' }), {
    app: options.app,
    env: options.env,
    ...(options.all && { all: 'true' }),
  });
  const holds = body.holds.map((h) => holdShape(h));
  if (options.json) printJson({ holds });
  else if (holds.length === 0) printLines('No holds on auto-promotion.');
  else
    printLines(
      ...holds.map(
        (h) =>
          `${h.application} in ${h.environment}: ${h.reason} (since ${h.createdAt}, by ${h.createdBy})${h.releasedAt ? `; released ${h.releasedAt} by ${h.releasedBy ?? 'unknown'}` : ''}`,
      ),
    );
  return 0;
}

/** `gantry hold release APP --env ENV`. */
export async function release(
  app: string,
  options: RemoteOptions & { readonly env: string },
): Promise<number> {
  const client = clientFor(options, []);
  const hold = await client.post('/holds/release', { app, env: options.env }, holdShape);
  if (options.json) printJson(hold);
  else
    printLines(
      `Released the hold on auto-promotion of ${hold.application} in ${hold.environment} (${hold.reason}); the next candidate is promoted automatically again.`,
    );
  return 0;
}
