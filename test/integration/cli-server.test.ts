/**
 * The CLI against a server (issue 11, point 7): `bin/gantry.js` with `--server`/`GANTRY_SERVER`
 * and `GANTRY_TOKEN`, against a scripted fake Gantry API server (test/helpers/fake-api-server.ts).
 * The real server's routes are tested with the real CLI elsewhere; here each client behaviour is
 * pinned down: waiting, progress on stderr only, exit codes, `--no-wait`, refused tokens,
 * unreachable servers, malformed answers and the ledger export.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerEntryToLine } from '../../src/store/index.js';
import { startFakeApiServer, type FakeApiServer, type PromotionScript } from '../helpers/fake-api-server.js';
import { makeTestCertificates } from '../helpers/tls-certs.js';
import { expectMatchesSchema } from './json-schemas.js';
import { runCli, type CliResult } from './run-cli.js';

const TOKEN = `gty_${'s3cr3t'.repeat(8)}`;
let api: FakeApiServer;
let dir: string;

/** Scripts by version: the version names what the fake promotion does. */
const SCRIPTS: Readonly<Record<string, PromotionScript>> = {
  '1.0.0': { states: ['gated', 'approved', 'copying', 'verifying', 'completed'], progressEvents: 3 },
  rejected: { states: ['rejected'], reason: 'gate vulnerabilities: 2 critical' },
  failed: {
    states: ['gated', 'approved', 'copying', 'failed'],
    error: { code: 'PROMOTION_IMMUTABLE_TAG', message: 'tag 1.0.0 already points to another digest' },
  },
  cancelled: { states: ['gated', 'cancelled'], reason: 'release freeze' },
  waits: { states: ['gated', 'awaiting-approval', 'approved', 'copying', 'verifying', 'completed'] },
  breaks: { states: ['gated', 'approved', 'copying', 'verifying', 'completed'], breakStreamAfter: 2 },
};

const gantry = (
  args: readonly string[],
  env: Record<string, string> = { GANTRY_TOKEN: TOKEN },
): Promise<CliResult> => runCli(args, { env });
const onServer = (...args: string[]): string[] => [...args, '--server', api.url];

beforeAll(async () => {
  api = await startFakeApiServer({
    token: TOKEN,
    script: (body) => SCRIPTS[String(body.version)] ?? SCRIPTS['1.0.0']!,
    malformed: ['/api/v1/applications/broken/history'],
  });
  dir = await mkdtemp(join(tmpdir(), 'gantry-cli-server-'));
});

afterAll(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

describe('gantry promote --server (fake-api-server)', () => {
  it('waits for the end and prints the result on stdout, progress on stderr only', async () => {
    const r = await gantry(onServer('promote', 'web', '1.0.0', '--to', 'prod'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Promoted web 1\.0\.0 \(sha256:(ab){32}\) from staging to prod\n/);
    expect(r.stdout).not.toMatch(/Promotion p_|Copying/);
    expect(r.stderr).toMatch(/Promotion p_\d+: copying/);
    expect(r.stderr).toMatch(/Copying: 3\.1 kB of 3\.1 kB, 3\/3 blobs/);
    expect(r.stderr).toMatch(/Promotion p_\d+: completed/);
    expect(api.requests).toContain('POST /api/v1/promotions');
  });

  it('--json prints the application outcome (the local promote shape) and nothing on stderr', async () => {
    const r = await gantry(onServer('promote', 'web', '1.0.0', '--to', 'prod', '--json'));
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { status: string; application: string };
    expect(out).toMatchObject({ status: 'completed', application: 'web' });
    expectMatchesSchema('promote', out);
    expect(r.stderr).toBe('');
  });

  it('sends the request the API documents: {app, version, to, from, override}', async () => {
    const r = await gantry(
      onServer(
        'promote',
        'web',
        '1.0.0',
        '--to',
        'prod',
        '--from',
        'staging',
        '--override',
        '--reason',
        'hotfix',
        '--no-wait',
        '--json',
      ),
    );
    expect(r.code, r.stderr).toBe(0);
    const view = JSON.parse(r.stdout) as { id: string; state: string };
    expect(view.state).toBe('requested');
    expect(api.promotions.get(view.id)?.from).toBe('staging');
  });

  it.each([
    ['rejected', 3, 'PROMOTION_GATES_FAILED', /was rejected: gate vulnerabilities: 2 critical/],
    ['failed', 4, 'PROMOTION_IMMUTABLE_TAG', /failed: tag 1\.0\.0 already points to another digest/],
    ['cancelled', 3, 'PROMOTION_CANCELLED', /was cancelled: release freeze/],
  ] as const)('a promotion that ends %s exits %i with %s', async (version, code, errorCode, message) => {
    const r = await gantry(onServer('promote', 'web', version, '--to', 'prod'));
    expect(r.code, r.stderr).toBe(code);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(new RegExp(`^gantry: .*\\[${errorCode}\\]$`));
    const json = await gantry(onServer('promote', 'web', version, '--to', 'prod', '--json'));
    expect(json.code).toBe(code);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: errorCode, state: version } });
  });

  it('--no-wait prints the id and returns at once', async () => {
    const r = await gantry(onServer('promote', 'web', 'waits', '--to', 'prod', '--no-wait'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^p_\d+\n$/);
    expect(api.requests.filter((q) => q.startsWith(`GET /api/v1/promotions/${r.stdout.trim()}`))).toEqual([]);
  });

  it('waits while awaiting approval, says so, and finishes once approved (gantry approve ID --server)', async () => {
    const seen = new Set(api.promotions.keys());
    const promote = gantry(onServer('promote', 'web', 'waits', '--to', 'prod', '--timeout', '40s'));
    const id = await (async () => {
      for (let i = 0; i < 250; i++) {
        const waiting = [...api.promotions.values()].find(
          (p) => !seen.has(p.id) && p.state === 'awaiting-approval',
        );
        if (waiting) return waiting.id;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error('no promotion awaits approval');
    })();
    const approved = await gantry(onServer('approve', id, '--comment', 'ok', '--json'));
    expect(approved.code, approved.stderr).toBe(0);
    expectMatchesSchema('approve', JSON.parse(approved.stdout));
    const r = await promote;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`Promotion ${id} is awaiting approval; waiting`));
    expect(r.stdout).toMatch(/^Promoted web waits/);
  });

  it('--timeout: prints the id and exits 10, leaving the promotion running', async () => {
    const r = await gantry(onServer('promote', 'web', 'waits', '--to', 'prod', '--timeout', '1s'));
    expect(r.code, r.stderr).toBe(10);
    const id = r.stdout.trim();
    expect(id).toMatch(/^p_\d+$/);
    expect(r.stderr).toMatch(
      new RegExp(`promotion ${id} is still awaiting-approval .*\\[PROMOTION_WAIT_TIMEOUT\\]`),
    );
    expect(api.promotions.get(id)?.state).toBe('awaiting-approval');
    expect(
      (await gantry(onServer('promote', 'web', 'waits', '--to', 'prod', '--timeout', 'soon'))).code,
    ).toBe(2);
  });

  it('follows the promotion again when its event stream breaks', async () => {
    const r = await gantry(onServer('promote', 'web', 'breaks', '--to', 'prod'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Promoted web breaks/);
    const id = [...api.promotions.values()].find((p) => p.applications[0]?.version === 'breaks')?.id ?? '';
    expect(api.requests.filter((q) => q === `GET /api/v1/promotions/${id}/events`)).toHaveLength(2);
    expect(api.requests).toContain(`GET /api/v1/promotions/${id}`);
  });

  it('promotes a release file through POST /releases and prints the local release shape', async () => {
    const file = join(dir, 'release.yaml');
    await writeFile(file, 'name: r1\napplications:\n  web: 1.0.0\n  api: 1.0.0\n');
    const r = await gantry(onServer('promote', '--release', file, '--to', 'prod', '--json'));
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { release: string; applications: unknown[] };
    expect(out.release).toBe('r1');
    expect(out.applications).toHaveLength(2);
    expectMatchesSchema('promote', out);
  });

  it('refuses flags that mean nothing against a server', async () => {
    const r = await gantry(onServer('promote', 'web', '1.0.0', '--to', 'prod', '--actor', 'mallory'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--actor has no effect against a server.*\[USAGE_INVALID\]/);
  });
});

describe('tokens and failures (fake-api-server)', () => {
  it('a refused token is exit 6 and no output contains the token', async () => {
    const wrong = `gty_${'w'.repeat(40)}`;
    for (const args of [
      onServer('promote', 'web', '1.0.0', '--to', 'prod'),
      onServer('status', '--json'),
      onServer('ledger', 'export'),
    ]) {
      const r = await gantry(args, { GANTRY_TOKEN: wrong });
      expect(r.code, r.stderr).toBe(6);
      expect(`${r.stdout}${r.stderr}`).toMatch(/API_UNAUTHENTICATED/);
      expect(`${r.stdout}${r.stderr}`).not.toContain(wrong);
      expect(`${r.stdout}${r.stderr}`).not.toContain('w'.repeat(20));
    }
    expect(api.authorizations).toContain(`Bearer ${wrong}`);
  });

  it('a missing GANTRY_TOKEN is exit 6 before anything is sent', async () => {
    const before = api.requests.length;
    const r = await gantry(onServer('status'), {});
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^gantry: GANTRY_TOKEN is not set: .*\[API_UNAUTHENTICATED\]\n$/);
    expect(api.requests.length).toBe(before);
  });

  it('an unreachable server is one line and exit 9', async () => {
    const r = await gantry(['status', '--server', 'http://127.0.0.1:9']);
    expect(r.code).toBe(9);
    expect(r.stderr).toMatch(
      /^gantry: cannot reach http:\/\/127\.0\.0\.1:9 \(GET \/status: ECONNREFUSED\) \[SERVER_UNREACHABLE\]\n$/,
    );
    expect(r.stderr).not.toContain(TOKEN);
  });

  it('a malformed JSON answer is one line, SERVER_PROTOCOL, exit 1', async () => {
    const r = await gantry(onServer('history', 'broken', '--env', 'prod'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^gantry: .* answered GET \/applications\/broken\/history with malformed JSON \[SERVER_PROTOCOL\]\n$/,
    );
  });

  it('verifies https certificates: an untrusted one is SERVER_TLS (exit 7); NODE_EXTRA_CA_CERTS trusts its CA', async () => {
    const certs = await makeTestCertificates(dir);
    const tls = createHttpsServer(
      { cert: await readFile(certs.certFile), key: await readFile(certs.keyFile) },
      (req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        // status --server also reads the promotions awaiting approval (its "Waiting" part)
        res.end(
          JSON.stringify(req.url?.startsWith('/api/v1/promotions') ? { promotions: [] } : { cells: [] }),
        );
      },
    );
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://127.0.0.1:${(tls.address() as AddressInfo).port}`;
      const untrusted = await gantry(['status', '--server', url]);
      expect(untrusted.code).toBe(7);
      expect(untrusted.stderr).toMatch(
        /^gantry: cannot reach https:\/\/127\.0\.0\.1:\d+ over TLS .*\[SERVER_TLS\]\n$/,
      );
      const trusted = await gantry(['status', '--server', url, '--json'], {
        GANTRY_TOKEN: TOKEN,
        NODE_EXTRA_CA_CERTS: certs.caFile,
      });
      expect(trusted.code, trusted.stderr).toBe(0);
      expect(JSON.parse(trusted.stdout)).toEqual({ cells: [], waiting: [] });
    } finally {
      tls.closeAllConnections();
      await new Promise((r) => tls.close(r));
    }
  });

  it('plain http to a host other than loopback is refused (the token would travel in clear)', async () => {
    const r = await gantry(['status', '--server', 'http://gantry.example.com']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/must be https:\/\/ .*\[USAGE_INVALID\]/);
  });

  it('GANTRY_SERVER selects the server like --server', async () => {
    const r = await gantry(['status', '--json'], { GANTRY_TOKEN: TOKEN, GANTRY_SERVER: api.url });
    expect(r.code, r.stderr).toBe(0);
    expectMatchesSchema('status', JSON.parse(r.stdout));
  });
});

describe('approve, reject, status, history, rollback (fake-api-server)', () => {
  it('approve APP VERSION --env resolves the one promotion awaiting approval and refuses ambiguity', async () => {
    const first = await gantry(onServer('promote', 'api', 'waits', '--to', 'uat', '--no-wait'));
    const id = first.stdout.trim();
    await api.waitFor(id, 'awaiting-approval');
    const r = await gantry(onServer('approve', 'api', 'waits', '--env', 'uat'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Approved promotion ${id} \\(api waits to uat\\)`));
    expect(api.requests).toContain(`POST /api/v1/promotions/${id}/approvals`);

    const a = (await gantry(onServer('promote', 'api', 'waits', '--to', 'qa', '--no-wait'))).stdout.trim();
    const b = (await gantry(onServer('promote', 'api', 'waits', '--to', 'qa', '--no-wait'))).stdout.trim();
    await api.waitFor(a, 'awaiting-approval');
    await api.waitFor(b, 'awaiting-approval');
    const ambiguous = await gantry(onServer('approve', 'api', 'waits', '--env', 'qa'));
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/2 promotions of api waits to qa are awaiting approval/);
    const none = await gantry(onServer('approve', 'api', 'nothing', '--env', 'qa'));
    expect(none.code).toBe(5);

    const rejected = await gantry(onServer('reject', a, '--reason', 'not now', '--json'));
    expect(rejected.code, rejected.stderr).toBe(0);
    expect(JSON.parse(rejected.stdout)).toMatchObject({ id: a, state: 'rejected', reason: 'not now' });
    expectMatchesSchema('reject', JSON.parse(rejected.stdout));
  });

  it('approve --server refuses --key (the identity is the token); reject and --no-wait need a server', async () => {
    const r = await gantry(onServer('approve', 'p_1', '--key', 'k.pem'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--key has no effect against a server/);
    const noWait = await gantry(['promote', 'web', '1.0.0', '--to', 'prod', '--no-wait']);
    expect(noWait.code).toBe(2);
    expect(noWait.stderr).toMatch(/--no-wait waits for a server's promotion: pass --server URL/);
    const local = await gantry(['reject', 'p_1', '--reason', 'x']);
    expect(local.code).toBe(2);
    expect(local.stderr).toMatch(/no server: pass --server URL or set GANTRY_SERVER \[USAGE_INVALID\]/);
  });

  it('status, history and rollback print what the local commands print', async () => {
    const status = await gantry(onServer('status'));
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^APPLICATION\s+staging\s+prod\nweb\s+1\.4\.2 ababababab/);
    const history = await gantry(onServer('history', 'web', '--env', 'prod', '--json'));
    expect(history.code, history.stderr).toBe(0);
    expectMatchesSchema('history', JSON.parse(history.stdout));
    expect(api.requests).toContain('GET /api/v1/applications/web/history?env=prod');
    const rollback = await gantry(onServer('rollback', 'web', '--env', 'prod', '--to', '1.4.1'));
    expect(rollback.code, rollback.stderr).toBe(0);
    expect(rollback.stdout).toMatch(/^Rolled web in prod back to 1\.4\.1 sha256:/);
    const json = await gantry(onServer('rollback', 'web', '--env', 'prod', '--json'));
    expectMatchesSchema('rollback', JSON.parse(json.stdout));
  });
});

describe('gantry ledger --server (fake-api-server)', () => {
  it('export pages through GET /ledger and writes the lines the local export writes; they verify offline', async () => {
    const before = api.requests.length;
    const r = await gantry(onServer('ledger', 'export'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(api.ledger.map((e) => `${ledgerEntryToLine(e)}\n`).join(''));
    expect(api.requests.slice(before)).toEqual([
      'GET /api/v1/ledger?after=0&limit=1000',
      'GET /api/v1/ledger?after=2&limit=1000',
    ]);
    const file = join(dir, 'ledger.jsonl');
    await writeFile(file, r.stdout);
    const head = api.ledger.at(-1)!;
    const offline = await gantry(['ledger', 'verify', '--file', file, '--head', `${head.seq}:${head.hash}`]);
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout).toBe(`ledger ok: 3 entries, head ${head.hash}\n`);
    await writeFile(file, (await readFile(file, 'utf8')).replace('"n":2', '"n":3'));
    expect((await gantry(['ledger', 'verify', '--file', file])).code).toBe(8);
  });

  it('verify asks GET /ledger/verify', async () => {
    const r = await gantry(onServer('ledger', 'verify', '--json'));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, entries: 3 });
  });
});
