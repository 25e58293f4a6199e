/**
 * A scripted fake of the Gantry server's HTTP API (`/api/v1`, src/jobs/desk.ts, docs/server.md),
 * for testing the CLI's server client without a store or registries: promotions move through the
 * states a test scripts (with copy progress and server-sent events), wait for approval until
 * approved, and can be made to break their event stream or to answer malformed JSON. Listens on
 * 127.0.0.1 on a free port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PromotionStreamEvent, PromotionView } from '../../src/jobs/index.js';
import type { PromotionOutcome, PromotionState } from '../../src/app.js';
import { hashLedgerEntry, type LedgerEntry } from '../../src/store/index.js';

/** How a requested promotion proceeds. */
export interface PromotionScript {
  /** States after `requested`, in order; `awaiting-approval` waits for `POST …/approvals`. */
  readonly states: readonly PromotionState[];
  /** Progress events sent while `copying`. Default 2. */
  readonly progressEvents?: number;
  /** Why it was rejected or cancelled. */
  readonly reason?: string;
  /** Why it failed. */
  readonly error?: { code: string; message: string };
  /** Close the first event stream after this many events (to test reconnecting). */
  readonly breakStreamAfter?: number;
}

/** What the fake answers. */
export interface FakeApiOptions {
  /** The one valid API token. */
  readonly token: string;
  /** The script for a promotion request (default: straight to completed). */
  readonly script?: (body: Record<string, unknown>) => PromotionScript;
  /** Paths (without query) whose JSON answer is replaced by malformed JSON. */
  readonly malformed?: readonly string[];
  /** Milliseconds between scripted states. Default 30. */
  readonly stepMs?: number;
}

/** A running fake API server. */
export interface FakeApiServer {
  readonly url: string;
  /** Every request: method and path with query. */
  readonly requests: string[];
  /** Authorization headers received. */
  readonly authorizations: string[];
  /** The promotions made so far. */
  readonly promotions: Map<string, PromotionView>;
  /** The ledger it serves. */
  readonly ledger: readonly LedgerEntry[];
  /** Waits until promotion `id` is in `state`. */
  waitFor(id: string, state: PromotionState): Promise<void>;
  close(): Promise<void>;
}

const DIGEST = `sha256:${'ab'.repeat(32)}`;

/** A PromotionOutcome as the server shows one (`planned` until completed). */
export function fakeOutcome(
  app: string,
  version: string,
  to: string,
  status: PromotionOutcome['status'],
): PromotionOutcome {
  return {
    application: app,
    version,
    digest: DIGEST as PromotionOutcome['digest'],
    from: { environment: 'staging', repository: `staging.example.com/team/${app}` },
    to: { environment: to, repository: `${to}.example.com/team/${app}` },
    mode: 'copy',
    tags: { immutable: [version], floating: ['latest'], changes: [{ tag: version }, { tag: 'latest' }] },
    gates: [{ gate: 'approval', status: 'pass', reasons: [] }],
    warnings: [],
    status,
    ...(status === 'completed' && {
      copy: { bytesTransferred: 2048, blobsCopied: 2, blobsMounted: 0, blobsSkipped: 1 },
      attestation: `sha256:${'cd'.repeat(32)}` as PromotionOutcome['digest'],
    }),
  } as unknown as PromotionOutcome;
}

/** Three chained ledger entries. */
function makeLedger(): LedgerEntry[] {
  const entries: LedgerEntry[] = [];
  let prev = '0'.repeat(64);
  for (let seq = 1; seq <= 3; seq++) {
    const base = {
      seq,
      time: new Date(Date.UTC(2026, 11, 1, 10, 0, seq, seq * 7)),
      type: seq === 1 ? 'config.loaded' : 'promotion.requested',
      subject: seq === 1 ? 'config' : `p_${seq}`,
      actor: 'ci (tok_1)',
      payload: { n: seq, tags: ['1.0.0', 'latest'], nested: { z: 1, a: 'ü' } },
      prev_hash: prev,
    };
    const entry = { ...base, hash: hashLedgerEntry(base) };
    entries.push(entry);
    prev = entry.hash;
  }
  return entries;
}

/** Starts the fake on 127.0.0.1. */
export async function startFakeApiServer(options: FakeApiOptions): Promise<FakeApiServer> {
  const stepMs = options.stepMs ?? 30;
  const promotions = new Map<string, PromotionView>();
  const scripts = new Map<string, { script: PromotionScript; at: number; broken: boolean }>();
  const listeners = new Map<string, Set<(e: PromotionStreamEvent) => void>>();
  const requests: string[] = [];
  const authorizations: string[] = [];
  const ledger = makeLedger();
  const timers = new Set<NodeJS.Timeout>();
  let next = 1;

  const emit = (id: string, e: PromotionStreamEvent): void => {
    for (const l of listeners.get(id) ?? []) l(e);
  };
  const ended = (s: string): boolean => ['completed', 'rejected', 'failed', 'cancelled'].includes(s);
  const setState = (id: string, state: PromotionState, extra: Partial<PromotionView> = {}): void => {
    const v = promotions.get(id);
    if (!v) return;
    const view: PromotionView = {
      ...v,
      ...extra,
      state,
      updatedAt: new Date().toISOString(),
      applications:
        state === 'completed'
          ? v.applications.map((a) => fakeOutcome(a.application, a.version ?? '', v.environment, 'completed'))
          : v.applications,
    };
    promotions.set(id, view);
    emit(id, { type: 'state', id, state, time: view.updatedAt });
    if (ended(state)) emit(id, { type: 'end', id, promotion: view });
  };
  const advance = (id: string): void => {
    const s = scripts.get(id);
    const v = promotions.get(id);
    if (!s || !v || ended(v.state)) return;
    const state = s.script.states[s.at];
    if (state === undefined) return;
    s.at++;
    const extra: Partial<PromotionView> = {
      ...(state === 'failed' && s.script.error && { error: s.script.error }),
      ...((state === 'rejected' || state === 'cancelled') &&
        s.script.reason !== undefined && { reason: s.script.reason }),
    };
    setState(id, state, extra);
    if (state === 'copying') {
      const n = s.script.progressEvents ?? 2;
      for (let i = 1; i <= n; i++)
        emit(id, {
          type: 'progress',
          id,
          application: 0,
          bytesTransferred: 1024 * i,
          bytesTotal: 1024 * n,
          blobsDone: i,
          blobsTotal: n,
        });
    }
    if (state !== 'awaiting-approval') later(() => advance(id));
  };
  const later = (fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, stepMs);
    timers.add(t);
  };

  const create = (body: Record<string, unknown>, kind: 'promotion' | 'release'): PromotionView => {
    const id = `p_${next++}`;
    const to = String(body.to);
    const apps =
      kind === 'release'
        ? (body.applications as { app: string; version?: string; digest?: string }[])
        : [
            {
              app: String(body.app),
              version: body.version as string | undefined,
              digest: body.digest as string | undefined,
            },
          ];
    const now = new Date().toISOString();
    const view: PromotionView = {
      id,
      kind,
      state: 'requested',
      environment: to,
      from: typeof body.from === 'string' ? body.from : 'staging',
      requestedBy: 'ci (tok_1)',
      requestedAt: now,
      updatedAt: now,
      applications: apps.map((a) => fakeOutcome(a.app, a.version ?? a.digest ?? '', to, 'planned')),
      decisions: [],
    };
    promotions.set(id, view);
    const script = options.script?.(body) ?? {
      states: ['gated', 'approved', 'copying', 'verifying', 'completed'],
    };
    scripts.set(id, { script, at: 0, broken: false });
    later(() => advance(id));
    return view;
  };

  const send = (res: ServerResponse, status: number, body: unknown, path: string): void => {
    const text = options.malformed?.includes(path) ? '{"cells": [' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(text);
  };
  const fail = (res: ServerResponse, status: number, code: string, message: string): void => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ error: { code, message, requestId: 'req-1' } }));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    requests.push(`${req.method} ${path}${url.search}`);
    authorizations.push(req.headers.authorization ?? '');
    if (req.headers.authorization !== `Bearer ${options.token}`)
      return fail(res, 401, 'API_UNAUTHENTICATED', 'the API token is unknown');
    let body: Record<string, unknown> = {};
    if (req.method === 'POST') {
      let text = '';
      for await (const c of req) text += String(c);
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    }
    const m = /^\/api\/v1\/promotions\/([^/]+)(?:\/([a-z]+))?$/.exec(path);
    if (req.method === 'POST' && path === '/api/v1/promotions')
      return send(res, 202, create(body, 'promotion'), path);
    if (req.method === 'POST' && path === '/api/v1/releases')
      return send(res, 202, create(body, 'release'), path);
    if (req.method === 'GET' && path === '/api/v1/promotions') {
      const list = [...promotions.values()].filter(
        (p) =>
          (!url.searchParams.get('app') ||
            p.applications.some((a) => a.application === url.searchParams.get('app'))) &&
          (!url.searchParams.get('env') || p.environment === url.searchParams.get('env')) &&
          (!url.searchParams.get('state') || p.state === url.searchParams.get('state')),
      );
      return send(res, 200, { promotions: list.reverse() }, path);
    }
    if (m) {
      const id = decodeURIComponent(m[1] ?? '');
      const view = promotions.get(id);
      if (!view) return fail(res, 404, 'API_NOT_FOUND', `no promotion ${id}`);
      if (req.method === 'GET' && m[2] === undefined) return send(res, 200, view, path);
      if (req.method === 'GET' && m[2] === 'events') return stream(id, view, res);
      if (req.method === 'POST' && m[2] === 'approvals') {
        if (view.state !== 'awaiting-approval')
          return fail(res, 409, 'PROMOTION_STATE_CONFLICT', `promotion ${id} is ${view.state}`);
        promotions.set(id, {
          ...view,
          decisions: [
            {
              approver: 'alice',
              decision: 'approved',
              time: new Date().toISOString(),
              ...(typeof body.comment === 'string' && { comment: body.comment }),
            },
          ],
        });
        later(() => advance(id));
        return send(res, 201, promotions.get(id), path);
      }
      if (req.method === 'POST' && m[2] === 'rejections') {
        setState(id, 'rejected', { reason: String(body.reason) });
        return send(res, 201, promotions.get(id), path);
      }
    }
    if (req.method === 'GET' && path === '/api/v1/status')
      return send(
        res,
        200,
        {
          cells: [
            {
              environment: 'staging',
              application: 'web',
              repository: 'staging.example.com/team/web',
              state: 'present',
              tag: 'latest',
              source: 'current',
              digest: DIGEST,
              version: '1.4.2',
              recorded: true,
            },
            {
              environment: 'prod',
              application: 'web',
              repository: 'prod.example.com/team/web',
              state: 'absent',
              tag: 'latest',
              source: 'current',
            },
          ],
        },
        path,
      );
    const history = /^\/api\/v1\/applications\/([^/]+)\/history$/.exec(path);
    if (req.method === 'GET' && history)
      return send(
        res,
        200,
        {
          application: history[1],
          environment: url.searchParams.get('env'),
          entries: [
            {
              time: '2026-12-01T10:00:00.000Z',
              kind: 'promotion',
              environment: 'prod',
              application: 'web',
              version: '1.4.2',
              digest: DIGEST,
              actor: 'ci',
              attestation: DIGEST,
            },
          ],
        },
        path,
      );
    if (req.method === 'POST' && path === '/api/v1/rollbacks')
      return send(
        res,
        200,
        {
          application: body.app,
          environment: body.env,
          repository: 'prod.example.com/team/web',
          digest: DIGEST,
          version: '1.4.1',
          previousDigest: `sha256:${'ef'.repeat(32)}`,
          tags: ['latest'],
          attestation: DIGEST,
        },
        path,
      );
    if (req.method === 'GET' && path === '/api/v1/ledger') {
      const after = Number(url.searchParams.get('after') ?? '0');
      const limit = Number(url.searchParams.get('limit') ?? '100');
      // Two entries a page, whatever the limit asked, so the CLI has to page.
      const page = ledger.filter((e) => e.seq > after).slice(0, Math.min(limit, 2));
      const last = page.at(-1);
      return send(
        res,
        200,
        {
          entries: page.map((e) => ({ ...e, time: e.time.toISOString() })),
          ...(page.length === 2 && last && { next: last.seq }),
        },
        path,
      );
    }
    if (req.method === 'GET' && path === '/api/v1/ledger/verify')
      return send(res, 200, { ok: true, entries: ledger.length, headHash: ledger.at(-1)?.hash }, path);
    return fail(res, 404, 'API_NOT_FOUND', `no route ${req.method ?? ''} ${path}`);
  };

  const stream = (id: string, view: PromotionView, res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const s = scripts.get(id);
    const breakAfter = s && !s.broken ? s.script.breakStreamAfter : undefined;
    if (s && breakAfter !== undefined) s.broken = true;
    let sent = 0;
    const set = listeners.get(id) ?? new Set();
    listeners.set(id, set);
    const write = (e: PromotionStreamEvent): void => {
      res.write(`: keep-alive\n\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
      sent++;
      if (e.type === 'end' || (breakAfter !== undefined && sent >= breakAfter)) {
        set.delete(write);
        if (e.type === 'end') res.end();
        else res.destroy();
      }
    };
    set.add(write);
    res.on('close', () => set.delete(write));
    write({ type: 'state', id, state: view.state, time: view.updatedAt });
    if (ended(view.state) && set.has(write)) write({ type: 'end', id, promotion: view });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'INTERNAL', message: String(err), requestId: 'req-x' } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    authorizations,
    promotions,
    ledger,
    async waitFor(id, state) {
      for (let i = 0; i < 500; i++) {
        if (promotions.get(id)?.state === state) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(
        `promotion ${id} never reached ${state} (it is ${promotions.get(id)?.state ?? 'unknown'})`,
      );
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
