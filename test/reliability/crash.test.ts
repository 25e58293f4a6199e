/**
 * Issue 15, "Crashes": `gantry serve` killed with SIGKILL at seeded random points of promotions and
 * releases, on the embedded store and on PostgreSQL; two replicas on PostgreSQL handing a killed
 * replica's job over; PostgreSQL itself crashed and restarted mid-promotion. Real processes only.
 *
 * Promises checked: every promotion ends completed exactly once (one `promotion.completed` ledger
 * entry, one promotion record in prod, the tag at exactly the source digest) or failed with a
 * reason; no immutable tag ever moves; no crash leaves half a release; the ledger verifies.
 * `GANTRY_LONG=1` runs more rounds; `GANTRY_SEED=N` replays one run.
 */
import { sql } from 'kysely';
import pgClient from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { api, startGantryServer, type GantryServerProcess } from '../helpers/index.js';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { LONG, rng, recordFigures, scale, seedOf, type Rng } from '../helpers/reliability.js';
import {
  APPS,
  BOOTSTRAP,
  PINNED,
  TERMINAL,
  followStates,
  ledgerTypes,
  makeToken,
  pushFresh,
  recordList,
  recordsOf,
  sleep,
  startCrashWorld,
  tagDigest,
  verifyLedger,
  waitAll,
  type CrashWorld,
  type Seen,
  type View,
} from './crash-world.js';

const seed = seedOf();
const random: Rng = rng(seed);
const at = `(GANTRY_SEED=${seed})`;
/** The default job lease of `gantry serve` (docs/server.md "Promotions as durable jobs"). */
const LEASE_MS = 15_000;
/** The `--job-lease` every other handover trial runs with, to show the flag sets the handover time. */
const SHORT_LEASE_MS = 6_000;
/** How long an idle worker waits before it looks for jobs again (src/jobs/runner.ts `idleMs`). */
const IDLE_POLL_MS = 500;

const figures = {
  kills: 0,
  killsDuringCopy: 0,
  killsDuringTagWrite: 0,
  killsWhileIdle: 0,
  killsWithOneAwaitingApproval: 0,
  killsAfterApproval: 0,
  doubleKills: 0,
  promotions: 0,
  completed: 0,
  failedWithReason: 0,
  immutableRefusals: 0,
  releases: 0,
  releasesWhole: 0,
  releasesUntouched: 0,
  halfReleases: 0,
  roundsHalfReleaseSeenLive: 0,
  roundsHalfReleaseSeenAfterKill: 0,
  releaseTagWindowMsMax: 0,
  immutableTagMoves: 0,
  immutableTagsChecked: 0,
  ledgerVerified: 0,
  handovers: 0,
  handoverMsMin: 0,
  handoverMsMedian: 0,
  handoverMsMax: 0,
  leaseMs: LEASE_MS,
  shortLeaseMs: SHORT_LEASE_MS,
  shortLeaseHandovers: 0,
  shortLeaseHandoverMsMax: 0,
  pgRestarts: 0,
  pgOutageApiStatus: '',
  backends: '',
};
const backendsCovered = new Set<string>();

let world: CrashWorld;
let pg: PostgresCluster;
/** Every immutable tag written in prod (`repo:tag` → digest): none may ever move. */
const immutables = new Map<string, string>();

beforeAll(async () => {
  [world, pg] = await Promise.all([startCrashWorld(), startPostgres()]);
  const x = await pushFresh(world.prod, `team/${PINNED.app}`, PINNED.version, `crash-${seed}-pinned`);
  immutables.set(`team/${PINNED.app}:${PINNED.version}`, x);
}, 120_000);

afterAll(async () => {
  await world?.stop();
  await pg?.stop();
}, 60_000);

async function checkImmutables(): Promise<void> {
  for (const [key, digest] of immutables) {
    const [repo, tag] = key.split(':') as [string, string];
    const now = await tagDigest(world.prod, repo, tag);
    figures.immutableTagsChecked += 1;
    if (now !== digest) figures.immutableTagMoves += 1;
    expect(now, `immutable tag ${key} moved ${at}`).toBe(digest);
  }
}

/** One application of a request, as the round expects it to end. */
interface Part {
  app: string;
  repo: string;
  version: string;
  digest: string;
  /** `current` in prod before the round (releases). */
  prev?: string | undefined;
}
interface Tracked {
  id: string;
  kind: 'promotion' | 'release' | 'gated';
  /** `immutable`: must fail with PROMOTION_IMMUTABLE_TAG and move nothing. */
  expect: 'ok' | 'immutable';
  parts: Part[];
}

interface Backend {
  readonly name: 'embedded' | 'postgres';
  start(): Promise<GantryServerProcess>;
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

type KillPoint = 'delay' | 'upload' | 'tag' | 'sse' | 'idle';

/**
 * Runs `rounds` seeded rounds against one backend: requests, a SIGKILL at a random point (sometimes
 * a second one during recovery), restart, settle, assertions.
 */
async function crashRounds(backend: Backend, rounds: number): Promise<void> {
  backendsCovered.add(backend.name);
  let server = await backend.start();
  const ci = await makeToken(server, `ci-${backend.name}`, ['ci']);
  const ops = await makeToken(server, `ops-${backend.name}`, ['approver:gated'], ['ops']);
  const base = backend.name === 'embedded' ? 1 : 2;
  let over = false;
  try {
    for (let n = 0; n < rounds; n++) {
      const where = `${backend.name} round ${n} ${at}`;
      const version = `${base}.${n}.0`;
      const apps = shuffled(APPS);
      const promoApps = apps.splice(0, random.int(1, 3));
      const releaseApps = apps.splice(0, random.int(2, 3));
      const gatedApp = n % 2 === 0 || random.next() < 0.35 ? apps.shift() : undefined;
      // A refused release is checked untouched; most releases run (and are killed between tags).
      const conflict =
        n === 0 ? 'promotion' : random.pick(['none', 'promotion', 'promotion', 'release'] as const);
      // The first rounds of each backend kill between two tag writes of the release, then mid-copy.
      const point: KillPoint =
        n === 0
          ? 'tag'
          : n === 1
            ? 'upload'
            : random.pick<KillPoint>(['delay', 'upload', 'upload', 'tag', 'tag', 'sse', 'idle']);
      // On PostgreSQL a restarted server waits for the killed one's lease (15 s): a second kill
      // during that recovery, and one after an approval, cost a lease each (long variant only).
      const double = (n % 3 === 1 || random.next() < 0.3) && (backend.name === 'embedded' || LONG);
      const killAfterApproval = (n % 4 === 2 || random.next() < 0.4) && (backend.name === 'embedded' || LONG);
      const started = Date.now();

      const push = async (app: string): Promise<Part> => ({
        app,
        repo: `team/${app}`,
        version,
        digest: await pushFresh(
          world.dev,
          `team/${app}`,
          version,
          `crash-${seed}-${backend.name}-${n}-${app}`,
          random.int(32, 256),
        ),
      });
      const promoParts = await Promise.all(promoApps.map(push));
      const releaseParts = await Promise.all(releaseApps.map(push));
      for (const p of releaseParts) p.prev = await tagDigest(world.prod, p.repo, 'current');
      const gatedPart = gatedApp !== undefined ? await push(gatedApp) : undefined;
      let conflictPart: Part | undefined;
      if (conflict !== 'none') {
        const repo = `team/${PINNED.app}`;
        const digest = await pushFresh(
          world.dev,
          repo,
          PINNED.version,
          `crash-${seed}-${backend.name}-${n}-y`,
        );
        conflictPart = { app: PINNED.app, repo, version: PINNED.version, digest };
      }

      // The kill: fired once, from the proxy's tap, an event stream, or a timer.
      let killing: Promise<void> | undefined;
      /** Incremented at every kill: tag writes of one life of the server. */
      let life = 0;
      let lastUpload = 0;
      let why = '';
      const killed = server;
      const fire = (reason: string): Promise<void> => {
        if (killing) return killing;
        why = reason;
        life += 1;
        killing = killed.kill();
        return killing;
      };
      let uploads = 0;
      let tags = 0;
      const uploadsToKill = random.int(1, 8);
      /** Killed at the K-th tag write of the release: K-1 of its tags are written, not all. */
      const tagsToKill = random.int(1, releaseParts.length * 2 - 1);
      const landsAfterKill = random.next() < 0.5;
      // Armed once every request is answered (a kill before that would lose an answer, not test a crash).
      let armed = false;
      /** When each tag write of the release reached prod (the release's repositories are its own this round). */
      const releaseTags: { t: number; life: number }[] = [];
      const releaseRepos = new Set(releaseParts.map((p) => p.repo));
      world.tap = async (seen: Seen) => {
        if (seen.kind === 'tag' && releaseRepos.has(seen.repo)) releaseTags.push({ t: Date.now(), life });
        if (!armed) return;
        if (seen.kind === 'upload') {
          lastUpload = Date.now();
          uploads += 1;
          if (point === 'upload' && uploads === uploadsToKill) await fire('copy');
        }
        if (seen.kind === 'tag' && releaseRepos.has(seen.repo)) {
          tags += 1;
          // Killed before the write is forwarded; then the registry either applies it with the
          // server gone (a tag written that the server never heard of) or never sees it.
          if (point === 'tag' && tags === tagsToKill) {
            await fire('tag');
            return landsAfterKill ? undefined : 'reset';
          }
        }
      };

      // Watch the release's tags in prod while the round runs, across the kill and the restart.
      let watching = true;
      const seenHalf = { live: false, afterKill: false };
      const releaseWatch = (async () => {
        while (watching && !over) {
          const states = await Promise.all(
            releaseParts.map(async (p) => {
              const [v, cur] = await Promise.all([
                tagDigest(world.prod, p.repo, p.version),
                tagDigest(world.prod, p.repo, 'current'),
              ]);
              if (v === p.digest && cur === p.digest) return 'new';
              if (v === undefined && cur === p.prev) return 'old';
              return 'mixed';
            }),
          );
          if (new Set(states).size > 1 || states.includes('mixed'))
            seenHalf[killing ? 'afterKill' : 'live'] = true;
          await sleep(80);
        }
      })();

      const tracked: Tracked[] = [];
      /** Applications of a release refused at once: none of their tags may move. */
      const untouched: Part[] = [];
      const post = async (path: string, body: unknown, refusable = false): Promise<string | undefined> => {
        const r = await api<View & { error?: { code: string } }>(server, ci, 'POST', path, body);
        if (refusable && r.status === 409) {
          // Refused at once: the plan's checks run before anything is written.
          expect(r.body.error?.code, where).toBe('PROMOTION_IMMUTABLE_TAG');
          figures.immutableRefusals += 1;
          return undefined;
        }
        expect(r.status, `${path} ${JSON.stringify(r.body)} ${where}`).toBe(202);
        return r.body.id;
      };
      const requests: Promise<void>[] = [];
      for (const p of promoParts)
        requests.push(
          post('/api/v1/promotions', { app: p.app, version: p.version, to: 'prod' }).then((id) => {
            if (id !== undefined) tracked.push({ id, kind: 'promotion', expect: 'ok', parts: [p] });
          }),
        );
      const releaseIncludesConflict = conflict === 'release' && conflictPart !== undefined;
      requests.push(
        post(
          '/api/v1/releases',
          {
            to: 'prod',
            applications: [
              ...releaseParts.map((p) => ({ app: p.app, version: p.version })),
              ...(releaseIncludesConflict ? [{ app: PINNED.app, version: PINNED.version }] : []),
            ],
          },
          releaseIncludesConflict,
        ).then((id) => {
          if (id !== undefined)
            tracked.push({
              id,
              kind: 'release',
              expect: releaseIncludesConflict ? 'immutable' : 'ok',
              parts: releaseParts,
            });
          else untouched.push(...releaseParts);
        }),
      );
      if (conflict === 'promotion' && conflictPart !== undefined) {
        const p = conflictPart;
        requests.push(
          post('/api/v1/promotions', { app: p.app, version: p.version, to: 'prod' }, true).then((id) => {
            if (id !== undefined) tracked.push({ id, kind: 'promotion', expect: 'immutable', parts: [p] });
          }),
        );
      }
      if (gatedPart !== undefined) {
        const p = { ...gatedPart, repo: `gated/${gatedPart.app}` };
        requests.push(
          post('/api/v1/promotions', { app: p.app, version: p.version, to: 'gated' }).then((id) => {
            if (id !== undefined) tracked.push({ id, kind: 'gated', expect: 'ok', parts: [p] });
          }),
        );
      }
      const settled = await Promise.allSettled(requests);
      for (const s of settled) if (s.status === 'rejected') throw s.reason;
      armed = true;
      const ungated = tracked.filter((t) => t.kind !== 'gated').map((t) => t.id);

      if (point === 'delay') {
        await sleep(random.int(0, 1500));
        await fire('delay');
      } else if (point === 'sse') {
        const id = random.pick(ungated);
        const target = random.pick(['approved', 'copying', 'verifying', 'completed', 'failed']);
        void followStates(server, ci, id, (state) => {
          if (state === target) void fire(`sse:${state}`);
        });
      } else if (point === 'idle') {
        await waitAll(server, ci, ungated);
        await fire('idle');
      }
      // The upload, tag and event-stream triggers may never come (the promotions ended first).
      for (let tick = 0, until = Date.now() + 20_000; !killing && Date.now() < until; tick++) {
        await sleep(100);
        if (tick % 10 === 9 && !killing) {
          const views = await waitAll(server, ci, ungated, TERMINAL, 0).catch(() => undefined);
          if (views) break;
        }
      }
      await fire('fallback');
      figures.kills += 1;
      if (why === 'tag') figures.killsDuringTagWrite += 1;
      else if (why === 'copy' || why === 'sse:copying' || Date.now() - lastUpload < 300)
        figures.killsDuringCopy += 1;
      else if (why === 'idle' || why === 'fallback' || why === 'sse:completed' || why === 'sse:failed')
        figures.killsWhileIdle += 1;
      if (gatedPart !== undefined) figures.killsWithOneAwaitingApproval += 1;
      world.tap = () => undefined;

      server = await backend.start();
      if (double) {
        // Killed again while it recovers (its workers have just claimed the interrupted jobs).
        await sleep(random.int(0, 600));
        life += 1;
        await server.kill();
        figures.kills += 1;
        figures.doubleKills += 1;
        server = await backend.start();
      }
      const gated = tracked.find((t) => t.kind === 'gated');
      if (gated) {
        await waitAll(server, ci, [gated.id], ['awaiting-approval', ...TERMINAL]);
        const approved = await api(server, ops, 'POST', `/api/v1/promotions/${gated.id}/approvals`, {
          comment: 'ok',
        });
        expect(approved.status, `${JSON.stringify(approved.body)} ${where}`).toBe(201);
        if (killAfterApproval) {
          await sleep(random.int(0, 400));
          life += 1;
          await server.kill();
          figures.kills += 1;
          figures.killsAfterApproval += 1;
          server = await backend.start();
        }
      }

      const views = await waitAll(
        server,
        ci,
        tracked.map((t) => t.id),
      );
      watching = false;
      await releaseWatch;
      if (seenHalf.live) figures.roundsHalfReleaseSeenLive += 1;
      if (seenHalf.afterKill) figures.roundsHalfReleaseSeenAfterKill += 1;
      // How long the release's tags took from the first write to the last, when one life wrote them all.
      if (releaseTags.length > 1 && new Set(releaseTags.map((x) => x.life)).size === 1)
        figures.releaseTagWindowMsMax = Math.max(
          figures.releaseTagWindowMsMax,
          (releaseTags.at(-1)?.t ?? 0) - (releaseTags[0]?.t ?? 0),
        );

      for (const t of tracked) {
        const view = views.get(t.id) as View;
        const what = `${t.kind} ${t.id} (${t.parts.map((p) => p.app).join(',')}) killed at ${why} ${where}`;
        const types = await ledgerTypes(server, ci, t.id);
        const completions = types.filter((x) => x === 'promotion.completed').length;
        if (t.kind === 'release') figures.releases += 1;
        else figures.promotions += 1;
        expect(['completed', 'failed'], `${what}: ${view.state}`).toContain(view.state);
        if (view.state === 'completed') {
          figures.completed += 1;
          expect(completions, `${what}: ${types.join(' ')}`).toBe(1);
        } else {
          figures.failedWithReason += 1;
          expect(view.error?.code, what).toMatch(/^[A-Z_]+$/);
          expect(view.error?.message, what).not.toBe('');
          expect(completions, what).toBe(0);
        }
        if (t.expect === 'immutable') {
          expect(view.state, what).toBe('failed');
          expect(view.error?.code, what).toBe('PROMOTION_IMMUTABLE_TAG');
          figures.immutableRefusals += 1;
        } else {
          expect(view.state, `${what}: ${JSON.stringify(view.error)}`).toBe('completed');
        }
        const ok = view.state === 'completed';
        const found = await Promise.all(
          t.parts
            .filter((p) => !(t.expect === 'immutable' && p.app === PINNED.app))
            .map(async (p) => {
              const [v, cur, records] = await Promise.all([
                tagDigest(world.prod, p.repo, p.version),
                tagDigest(world.prod, p.repo, 'current'),
                recordsOf(world.prod, p.repo, p.digest),
              ]);
              return { p, v, cur, records };
            }),
        );
        if (t.kind === 'release') {
          // Whole (every application at its new digest) or untouched; never half.
          const moved = found.map((f) => f.v === f.p.digest && f.cur === f.p.digest);
          const kept = found.map((f) => f.v === undefined && f.cur === f.p.prev);
          if (moved.every(Boolean)) figures.releasesWhole += 1;
          else if (kept.every(Boolean)) figures.releasesUntouched += 1;
          else figures.halfReleases += 1;
        }
        for (const { p, v, cur, records } of found) {
          // Byte-exact: the tag in prod names the very manifest digest of dev.
          expect(cur, `${what}: ${p.app} current`).toBe(ok ? p.digest : p.prev);
          expect(v, `${what}: ${p.app} ${p.version}`).toBe(ok ? p.digest : undefined);
          if (records !== (ok ? 1 : 0))
            expect.fail(
              `${what}: ${p.app} has ${records} promotion records: ${JSON.stringify(await recordList(world.prod, p.repo, p.digest))}; ledger ${types.join(' ')}`,
            );
          if (ok && t.kind !== 'gated') immutables.set(`${p.repo}:${p.version}`, p.digest);
        }
      }
      if (untouched.length > 0) {
        figures.releases += 1;
        figures.releasesUntouched += 1;
      }
      for (const p of untouched) {
        expect(await tagDigest(world.prod, p.repo, 'current'), where).toBe(p.prev);
        expect(await tagDigest(world.prod, p.repo, p.version), where).toBeUndefined();
      }
      await checkImmutables();
      const verified = await verifyLedger(server, ci);
      expect(verified, where).toMatchObject({ ok: true });
      figures.ledgerVerified += 1;
      console.log(
        `crash: ${where}: killed at ${why}${double ? ', again in recovery' : ''}; ` +
          `${tracked.map((t) => `${t.kind} ${views.get(t.id)?.state}`).join(', ')}; ${Date.now() - started} ms`,
      );
    }
  } finally {
    over = true;
    world.tap = () => undefined;
    await server.kill();
  }
}

describe('kill -9 at random points of promotions and releases', () => {
  // A PostgreSQL round waits out the killed server's 15 s lease, so it has fewer rounds.

  it(
    'on the embedded store (PGlite data dir)',
    async () => {
      const dataDir = `${world.dir}/data`;
      await crashRounds(
        {
          name: 'embedded',
          start: () => startGantryServer({ config: world.config, dataDir, bootstrapToken: BOOTSTRAP }),
        },
        scale(3, 30),
      );
    },
    scale(240_000, 1_800_000),
  );

  it(
    'on PostgreSQL',
    async () => {
      const databaseUrl = await pg.createDatabase('crash_rounds');
      await crashRounds(
        {
          name: 'postgres',
          start: () => startGantryServer({ config: world.config, databaseUrl, bootstrapToken: BOOTSTRAP }),
        },
        scale(2, 12),
      );
    },
    scale(240_000, 1_800_000),
  );
});

/** Resolves with `promise`, or rejects with `message` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A promise and its resolver. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Checks a promotion that ran alone: completed once (tag, record, ledger) or failed with a reason. */
async function expectOnce(
  server: { url: string },
  token: string,
  view: View,
  part: { repo: string; version: string; digest: string },
  what: string,
): Promise<void> {
  const types = await ledgerTypes(server, token, view.id);
  const completions = types.filter((t) => t === 'promotion.completed').length;
  figures.promotions += 1;
  expect(['completed', 'failed'], `${what}: ${view.state}`).toContain(view.state);
  if (view.state === 'completed') {
    figures.completed += 1;
    expect(completions, `${what}: ${types.join(' ')}`).toBe(1);
    expect(await tagDigest(world.prod, part.repo, part.version), what).toBe(part.digest);
    expect(await tagDigest(world.prod, part.repo, 'current'), what).toBe(part.digest);
    expect(await recordsOf(world.prod, part.repo, part.digest), what).toBe(1);
    immutables.set(`${part.repo}:${part.version}`, part.digest);
  } else {
    figures.failedWithReason += 1;
    expect(view.error?.code, what).toMatch(/^[A-Z_]+$/);
    expect(view.error?.message, what).not.toBe('');
    expect(completions, what).toBe(0);
  }
  const verified = await verifyLedger(server, token);
  expect(verified, what).toMatchObject({ ok: true });
  figures.ledgerVerified += 1;
}

/** Handover times with the default lease. */
const handovers: number[] = [];

describe('two replicas on PostgreSQL', () => {
  it(
    'a replica killed mid-copy: the other takes its job over within the lease time (measured), the default 15 s or a --job-lease of 6 s',
    async () => {
      backendsCovered.add('postgres-replicas');
      const databaseUrl = await pg.createDatabase('crash_replicas');
      // Even trials kill a replica holding its job with the default lease, odd ones with --job-lease 6s.
      const leaseOf = (trial: number): number => (trial % 2 === 0 ? LEASE_MS : SHORT_LEASE_MS);
      const start = (leaseMs: number): Promise<GantryServerProcess> =>
        startGantryServer({
          config: world.config,
          databaseUrl,
          bootstrapToken: BOOTSTRAP,
          ...(leaseMs !== LEASE_MS && { args: ['--job-lease', `${leaseMs / 1000}s`] }),
        });
      let running = await start(leaseOf(0));
      let spare: GantryServerProcess | undefined;
      const ci = await makeToken(running, 'ci-replicas', ['ci']);
      try {
        for (let t = 0; t < scale(2, 10); t++) {
          const what = `replicas trial ${t} ${at}`;
          const app = APPS[t % APPS.length] as string;
          const part = { repo: `team/${app}`, version: `5.${t}.0`, digest: '' };
          part.digest = await pushFresh(
            world.dev,
            part.repo,
            part.version,
            `crash-${seed}-replicas-${t}`,
            512,
          );
          const uploading = deferred();
          const hold = deferred();
          const progressed = deferred();
          let dead = false;
          let progressAt = 0;
          world.tap = async (seen) => {
            if (seen.repo !== part.repo) return;
            if (!dead) {
              // The first replica is copying: its uploads wait here until it is dead.
              if (seen.kind === 'upload') {
                uploading.resolve();
                await hold.promise;
              }
              return;
            }
            // Anything for the repository after the kill comes from the other replica.
            if (progressAt === 0) {
              progressAt = Date.now();
              progressed.resolve();
            }
          };
          const posted = await api<View>(running, ci, 'POST', '/api/v1/promotions', {
            app,
            version: part.version,
            to: 'prod',
          });
          expect(posted.status, what).toBe(202);
          await within(uploading.promise, 30_000, `no upload from the first replica: ${what}`);
          const leaseMs = leaseOf(t);
          spare = await start(leaseOf(t + 1));
          const killedAt = Date.now();
          await running.kill();
          dead = true;
          hold.resolve();
          figures.kills += 1;
          figures.killsDuringCopy += 1;
          await within(progressed.promise, LEASE_MS + 30_000, `no handover: ${what}`);
          const ms = progressAt - killedAt;
          if (leaseMs === LEASE_MS) handovers.push(ms);
          else {
            figures.shortLeaseHandovers += 1;
            figures.shortLeaseHandoverMsMax = Math.max(figures.shortLeaseHandoverMsMax, ms);
          }
          console.log(`crash: ${what}: handed over in ${ms} ms (lease ${leaseMs} ms)`);
          // The lease runs out at most leaseMs after the last heartbeat (before the kill) and at
          // least two thirds of it after (heartbeats go every third); the other replica claims at
          // its next look (IDLE_POLL_MS); its first registry request then follows within a claim
          // and a plan read (2 s on a loaded 2-core machine).
          expect(ms, what).toBeLessThanOrEqual(leaseMs + IDLE_POLL_MS + 2_000);
          expect(ms, what).toBeGreaterThanOrEqual((leaseMs * 2) / 3 - 1_000);
          running = spare;
          spare = undefined;
          const view = (await waitAll(running, ci, [posted.body.id])).get(posted.body.id) as View;
          expect(view.state, `${what}: ${JSON.stringify(view.error)}`).toBe('completed');
          await expectOnce(running, ci, view, part, what);
        }
      } finally {
        world.tap = () => undefined;
        await Promise.all([running.kill(), spare?.kill()]);
      }
      await checkImmutables();
    },
    scale(180_000, 600_000),
  );
});

/** `fetch` that fails the test instead of hanging. */
async function answer(url: string, init: RequestInit = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

describe('PostgreSQL itself crashes mid-promotion', () => {
  it('a store connection held between two queries when PostgreSQL crashes does not end the process', async () => {
    const databaseUrl = await pg.createDatabase('crash_held');
    const store = await openStore({ databaseUrl });
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => void uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      await store.db.connection().execute(async (conn) => {
        await sql`select 1`.execute(conn);
        await pg.crash();
        figures.pgRestarts += 1;
        await sleep(500);
        await expect(sql`select 1`.execute(conn)).rejects.toThrow();
      });
    } finally {
      process.off('uncaughtException', onUncaught);
      await pg.restart();
    }
    // Without a listener on checked-out clients, node-postgres emits an 'error' nobody handles.
    expect(uncaught.map(String), at).toEqual([]);
    await expect(sql`select 1 as one`.execute(store.db)).resolves.toMatchObject({ rows: [{ one: 1 }] });
    await store.close();
  }, 60_000);

  it(
    'the server survives: not ready and 503 while the database is down, ready after; the promotion ends once',
    async () => {
      const databaseUrl = await pg.createDatabase('crash_outage');
      // The test cluster runs with synchronous_commit=off (speed), which loses the last commits
      // when PostgreSQL itself crashes; this database commits durably, as a production one does.
      const admin = new pgClient.Client({ connectionString: pg.url() });
      await admin.connect();
      await admin.query('alter database crash_outage set synchronous_commit = on').finally(() => admin.end());
      const check = new pgClient.Client({ connectionString: databaseUrl });
      await check.connect();
      const shown = await check.query<{ synchronous_commit: string }>('show synchronous_commit');
      await check.end();
      expect(shown.rows[0]?.synchronous_commit).toBe('on');
      const server = await startGantryServer({
        config: world.config,
        databaseUrl,
        bootstrapToken: BOOTSTRAP,
      });
      const ci = await makeToken(server, 'ci-outage', ['ci']);
      const what = `PostgreSQL outage ${at}`;
      const part = { repo: 'team/a0', version: '6.0.0', digest: '' };
      part.digest = await pushFresh(world.dev, part.repo, part.version, `crash-${seed}-outage`, 512);
      // A second candidate, requested while the database is down (its checks pass; storing it cannot).
      await pushFresh(world.dev, 'team/a1', part.version, `crash-${seed}-outage-a1`);
      const uploading = deferred();
      const hold = deferred();
      world.tap = async (seen) => {
        if (seen.repo === part.repo && seen.kind === 'upload') {
          uploading.resolve();
          await hold.promise;
        }
      };
      try {
        const posted = await api<View>(server, ci, 'POST', '/api/v1/promotions', {
          app: 'a0',
          version: part.version,
          to: 'prod',
        });
        expect(posted.status, what).toBe(202);
        await within(uploading.promise, 30_000, `no upload: ${what}`);
        await pg.crash();
        figures.pgRestarts += 1;
        hold.resolve();
        // Not ready within a few seconds (the readiness probe asks the database).
        let ready = await answer(`${server.url}/readyz`);
        for (let i = 0; i < 50 && ready.status !== 503; i++) {
          await sleep(100);
          ready = await answer(`${server.url}/readyz`);
        }
        expect(ready.status, `${what}: /readyz ${ready.body}`).toBe(503);
        const auth = { authorization: `Bearer ${ci}` };
        const read = await answer(`${server.url}/api/v1/promotions/${posted.body.id}`, { headers: auth });
        const write = await answer(`${server.url}/api/v1/promotions`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ app: 'a1', version: part.version, to: 'prod' }),
        });
        figures.pgOutageApiStatus = `${read.status}/${write.status}`;
        for (const r of [read, write]) {
          expect(r.status, `${what}: ${r.body}`).toBe(503);
          expect(r.body, what).not.toMatch(/\bat .*\.(ts|js|cjs):\d+/);
          expect((JSON.parse(r.body) as { error: { code: string } }).error.code, what).toMatch(/^STORE_/);
        }
        await sleep(random.int(2_000, 4_000));
        expect(server.child.exitCode, `${what}: the server exited`).toBeNull();
        expect(server.child.signalCode, what).toBeNull();
        await pg.restart();
        const deadline = Date.now() + 30_000;
        while ((await answer(`${server.url}/readyz`)).status !== 200) {
          expect(Date.now() < deadline, `${what}: not ready again within 30 s`).toBe(true);
          await sleep(200);
        }
        const view = (await waitAll(server, ci, [posted.body.id])).get(posted.body.id) as View;
        console.log(`crash: ${what}: ${view.state} ${JSON.stringify(view.error ?? {})}`);
        await expectOnce(server, ci, view, part, what);
        expect(server.child.exitCode, `${what}: the server exited`).toBeNull();
      } catch (error) {
        const { stdout, stderr } = server.output();
        throw new Error(
          `${(error as Error).message}; server exit ${server.child.exitCode}/${server.child.signalCode}; ` +
            `stderr: ${stderr.slice(-1500)}; log: ${stdout.slice(-2500)}`,
          { cause: error },
        );
      } finally {
        hold.resolve();
        world.tap = () => undefined;
        await server.kill();
      }
      await checkImmutables();
    },
    scale(120_000, 300_000),
  );
});

describe('kill -9 right after a promotion record lands in the registry', () => {
  it(
    'the restarted server finds that record and attaches no second one',
    async () => {
      backendsCovered.add('embedded');
      const dataDir = `${world.dir}/data-record`;
      const start = (): Promise<GantryServerProcess> =>
        startGantryServer({ config: world.config, dataDir, bootstrapToken: BOOTSTRAP });
      let server = await start();
      const ci = await makeToken(server, 'ci-record', ['ci']);
      const what = `kill after the record ${at}`;
      const part = { repo: 'team/a7', version: '7.0.0', digest: '' };
      part.digest = await pushFresh(world.dev, part.repo, part.version, `crash-${seed}-record`);
      const killed = deferred();
      const victim = server;
      let fired = false;
      world.tap = async (seen) => {
        // The record's referrers index reaches the registry only once the server is dead: the
        // record is there, and nothing after it was stored.
        if (seen.kind === 'referrers' && seen.repo === part.repo && !fired) {
          fired = true;
          await victim.kill();
          killed.resolve();
        }
      };
      try {
        const posted = await api<View>(server, ci, 'POST', '/api/v1/promotions', {
          app: 'a7',
          version: part.version,
          to: 'prod',
        });
        expect(posted.status, what).toBe(202);
        await within(killed.promise, 30_000, `no promotion record written: ${what}`);
        figures.kills += 1;
        world.tap = () => undefined;
        server = await start();
        const view = (await waitAll(server, ci, [posted.body.id])).get(posted.body.id) as View;
        expect(view.state, `${what}: ${JSON.stringify(view.error)}`).toBe('completed');
        const records = await recordList(world.prod, part.repo, part.digest);
        expect(records, `${what}: ${JSON.stringify(records)}`).toHaveLength(1);
        await expectOnce(server, ci, view, part, what);
      } finally {
        world.tap = () => undefined;
        await server.kill();
      }
    },
    scale(60_000, 120_000),
  );
});

describe('figures', () => {
  it('records the suite figures', () => {
    const sorted = [...handovers].sort((a, b) => a - b);
    expect(figures.kills).toBeGreaterThan(0);
    expect(figures.halfReleases).toBe(0);
    expect(figures.immutableTagMoves).toBe(0);
    const out = recordFigures(
      'crash',
      {
        ...figures,
        handovers: sorted.length,
        handoverMsMin: sorted[0] ?? 0,
        handoverMsMedian: sorted[Math.floor(sorted.length / 2)] ?? 0,
        handoverMsMax: sorted.at(-1) ?? 0,
        backends: [...backendsCovered].join(','),
      },
      seed,
    );
    console.log(`crash figures: ${JSON.stringify(out)}`);
  });
});
