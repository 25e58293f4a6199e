import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { PromotionStreamEvent } from '../jobs/index.js';
import { startFakeApiServer, type FakeApiServer } from '../../test/helpers/fake-api-server.js';
import { ServerClient } from './server-client.js';
import { streamEvent, watchPromotion } from './promotion-watch.js';

const TOKEN = `gty_${'w'.repeat(40)}`;
let api: FakeApiServer | undefined;
let plain: Server | undefined;

afterEach(async () => {
  await api?.close();
  api = undefined;
  if (plain) {
    plain.closeAllConnections();
    await new Promise((r) => plain?.close(r));
    plain = undefined;
  }
});

async function requested(states: Parameters<typeof startFakeApiServer>[0]['script']) {
  api = await startFakeApiServer({ token: TOKEN, stepMs: 10, ...(states && { script: states }) });
  const client = new ServerClient({ server: api.url, token: TOKEN });
  const view = await client.post(
    '/promotions',
    { app: 'web', version: '1.0.0', to: 'prod' },
    (v) => v as { id: string },
  );
  return { client, id: view.id };
}

describe('watchPromotion', () => {
  it('follows the events to the end, in order', async () => {
    const { client, id } = await requested(undefined);
    const seen: PromotionStreamEvent['type'][] = [];
    const r = await watchPromotion(client, id, { state: 'requested', onEvent: (e) => seen.push(e.type) });
    expect(r).toMatchObject({ ended: true, view: { id, state: 'completed' } });
    expect(seen.at(-1)).toBe('end');
    expect(seen).toContain('progress');
  });

  it('reads the promotion and follows it again when the stream breaks', async () => {
    const { client, id } = await requested(() => ({
      states: ['gated', 'approved', 'copying', 'verifying', 'completed'],
      breakStreamAfter: 1,
    }));
    const r = await watchPromotion(client, id, { state: 'requested' });
    expect(r).toMatchObject({ ended: true, view: { state: 'completed' } });
    expect(api?.requests.filter((q) => q === `GET /api/v1/promotions/${id}/events`)).toHaveLength(2);
    expect(api?.requests).toContain(`GET /api/v1/promotions/${id}`);
  });

  it('stops at the deadline with the state it knows (the promotion goes on)', async () => {
    const { client, id } = await requested(() => ({ states: ['gated', 'awaiting-approval', 'approved'] }));
    await api?.waitFor(id, 'awaiting-approval');
    const r = await watchPromotion(client, id, { state: 'requested', deadline: Date.now() + 300 });
    expect(r).toEqual({ ended: false, state: 'awaiting-approval' });
  });

  it('gives up (SERVER_UNREACHABLE) when a stream breaks again before it delivered anything', async () => {
    let streams = 0;
    plain = createServer((req, res) => {
      if (req.url?.endsWith('/events')) {
        streams++;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'p_1',
          state: 'copying',
          environment: 'prod',
          applications: [],
          updatedAt: 'now',
        }),
      );
    });
    await new Promise<void>((resolve) => plain?.listen(0, '127.0.0.1', resolve));
    const client = new ServerClient({
      server: `http://127.0.0.1:${(plain.address() as AddressInfo).port}`,
      token: TOKEN,
    });
    await expect(watchPromotion(client, 'p_1', { state: 'requested' })).rejects.toMatchObject({
      code: 'SERVER_UNREACHABLE',
      message: expect.stringMatching(/closed the event stream of promotion p_1 twice/),
    });
    expect(streams).toBe(2);
  });
});

describe('streamEvent', () => {
  it.each([
    ['state', 'not json', /not JSON/],
    ['state', '{"type":"progress"}', /its type is not state/],
    ['state', '{"type":"state"}', /no state/],
    ['progress', '{"type":"progress","application":0}', /bytesTransferred is not a number/],
    ['end', '{"type":"end","promotion":{"id":"p"}}', /promotion: state is not a string/],
  ])('refuses a malformed %s event %s (SERVER_PROTOCOL)', (name, data, message) => {
    expect(() => streamEvent(name, data, 'https://gantry.example.com')).toThrow(
      expect.objectContaining({ code: 'SERVER_PROTOCOL', message: expect.stringMatching(message) }),
    );
  });

  it('ignores event types it does not know', () => {
    expect(streamEvent('heartbeat', '{}', 'x')).toBeUndefined();
  });
});
