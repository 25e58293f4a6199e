/**
 * Plans applied step by step against in-memory registries: plans are plain JSON (applied after a
 * round trip through JSON), every step can be repeated, a crash at any step resumes to one
 * completed promotion, a pending approval waits (`awaiting-approval`) until an approval from the
 * store counts, and the attestation records the approvals that counted.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { GantryError, type Digest } from '../core/index.js';
import type { Config, GateConfig } from '../config/index.js';
import type { Manifest, Repository } from '../registry/index.js';
import { MemoryApprovals } from './approval-source.js';
import { DSSE_MEDIA_TYPE, PROMOTION_ARTIFACT_TYPE, type PromotionPredicate } from './attestation.js';
import { countedApprovals } from './gates/approval-gate.js';
import { evaluateGates } from './gates/evaluate.js';
import { gatherFacts } from './gates/gather.js';
import { UNAUTHENTICATED } from './history.js';
import { MemoryLedger } from './ledger-port.js';
import { configOf, dev, environment, prod, registry, repo, REV } from './config-fixture.test-support.js';
import { imageWith, MemoryRegistry } from './memory-registry.test-support.js';
import type { GateEvaluator } from './model.js';
import type { RegistryPort } from './ports.js';
import { initialProgress, type PromotionPlan, type PromotionProgress } from './promotion-plan.js';
import { PromotionService } from './service.js';
import { isTerminal } from './states.js';

const approvalGate: GateConfig = {
  name: 'approval',
  options: { count: 1, groups: ['ops'], expires: 3_600_000 },
};
const gated = environment({ ...prod, name: 'gated', registry: registry('gated'), gates: [approvalGate] });
const config: Config = configOf([dev, prod, gated]);
const NOW = new Date('2026-01-01T00:00:00Z');

let mem: MemoryRegistry;
let ledger: MemoryLedger;
let approvals: MemoryApprovals;

/** Gate evaluation as app.ts wires it, with approvals from the store as well as from referrers. */
const gates: GateEvaluator = async (env, candidate, context) => {
  const facts = await gatherFacts(
    {
      registry: mem.port,
      config,
      approvers: [],
      readKey: () => '',
      policy: () => Promise.resolve({ error: 'none' }),
      now: context.now,
      requester: context.requester,
      trust: UNAUTHENTICATED,
      reports: context.reports,
      approvalSources: [approvals],
    },
    context.app,
    context.from,
    env,
    candidate,
    context.version,
  );
  return { gates: evaluateGates(env.gates, facts), approvals: countedApprovals(env.gates, facts) };
};

/** A new service over the same registries, as after a restart. */
const service = (l: MemoryLedger = ledger) =>
  new PromotionService({ config, registry: mem.port, gates, ledger: l, now: () => NOW });

const v = (seed: string, version: string): Manifest =>
  imageWith(seed, { 'org.opencontainers.image.version': version, 'org.opencontainers.image.revision': REV });

/** The promotion records attached to `digest` in `r`, decoded. */
async function records(r: Repository, digest: Digest): Promise<PromotionPredicate[]> {
  const out: PromotionPredicate[] = [];
  for (const d of await mem.port.referrers(r, digest, PROMOTION_ARTIFACT_TYPE)) {
    const m = await mem.port.manifest(r, d.digest);
    if (m.kind !== 'image') continue;
    const layer = m.body.layers.find((l) => l.mediaType === DSSE_MEDIA_TYPE);
    const env = JSON.parse((mem.blobs.get(layer?.digest as Digest) as Buffer).toString('utf8')) as {
      payload: string;
    };
    out.push(
      (JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { predicate: PromotionPredicate })
        .predicate,
    );
  }
  return out;
}

/** Throws when `value` holds anything but strings, finite numbers, booleans, null, arrays and plain objects. */
function assertPlain(value: unknown, path = '$'): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number' && Number.isFinite(value)) return;
  if (Array.isArray(value)) return value.forEach((x, i) => assertPlain(x, `${path}[${i}]`));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, x] of Object.entries(value)) assertPlain(x, `${path}.${k}`);
    return;
  }
  throw new Error(`${path} is not plain JSON: ${Object.prototype.toString.call(value)}`);
}

const roundTrip = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** Every progress from the initial one to the end, one step at a time. */
async function steps(s: PromotionService, plan: PromotionPlan): Promise<PromotionProgress[]> {
  const out = [initialProgress(plan)];
  const applier = s.applier();
  while (!isTerminal((out[out.length - 1] as PromotionProgress).state))
    out.push(await applier.step(plan, out[out.length - 1] as PromotionProgress));
  return out;
}

const old = v('web-old', '1.0.0');
const candidate = v('web-new', '1.1.0');

beforeEach(() => {
  mem = new MemoryRegistry();
  ledger = new MemoryLedger();
  approvals = new MemoryApprovals();
  mem.put(repo(prod, 'web'), old, '1.0.0', 'latest', 'prod');
  mem.put(repo(dev, 'web'), candidate, '1.1.0');
  mem.put(repo(dev, 'api'), v('api-new', '2.0.0'), '2.0.0');
});

describe('a plan is plain JSON, applicable after a round trip', () => {
  it('a promotion plan', async () => {
    const plan = await service().plan({ app: 'web', reference: '1.1.0', to: 'prod', actor: 'ci' });
    assertPlain(plan);
    expect(roundTrip(plan)).toStrictEqual(plan);
    expect(plan.tagWrites).toEqual([
      { app: 0, tag: 'latest', immutable: false, previous: old.digest },
      { app: 0, tag: 'prod', immutable: false, previous: old.digest },
      { app: 0, tag: '1.1.0', immutable: true },
      { app: 0, tag: REV, immutable: true },
    ]);
    expect(mem.writes).toEqual([]);
    const done = await service()
      .applier()
      .run(roundTrip(plan), initialProgress(roundTrip(plan)));
    assertPlain(roundTrip(done));
    expect(done.state).toBe('completed');
    for (const t of ['1.1.0', REV, 'latest', 'prod'])
      expect(mem.peek(repo(prod, 'web'), t)).toBe(candidate.digest);
    expect(mem.peek(repo(prod, 'web'), '1.0.0')).toBe(old.digest);
    const [record] = await records(repo(prod, 'web'), candidate.digest);
    expect(record).toMatchObject({ actor: 'ci', to: { environment: 'prod' }, approvals: [] });
  });

  it('a release plan, with its tag writes ordered across applications', async () => {
    const plan = await service().planRelease({
      applications: [
        { app: 'web', reference: '1.1.0' },
        { app: 'api', reference: '2.0.0' },
      ],
      to: 'prod',
      actor: 'ci',
    });
    assertPlain(plan);
    expect(plan.kind).toBe('release');
    expect(plan.tagWrites.map((w) => `${w.app}:${w.tag}`)).toEqual([
      '0:latest',
      '0:prod',
      '0:1.1.0',
      `0:${REV}`,
      '1:2.0.0',
      `1:${REV}`,
      '1:latest',
      '1:prod',
    ]);
    const done = await service()
      .applier()
      .run(roundTrip(plan), initialProgress(roundTrip(plan)));
    expect(done.state).toBe('completed');
    expect(done.attestations.every((a) => typeof a === 'string')).toBe(true);
    expect(mem.peek(repo(prod, 'api'), 'latest')).toBe(v('api-new', '2.0.0').digest);
  });
});

describe('every step can be repeated', () => {
  it('re-running any step of a completed promotion moves no tag and attaches no second record', async () => {
    const s = service();
    const plan = await s.plan({ app: 'web', reference: '1.1.0', to: 'prod', actor: 'ci' });
    const all = await steps(s, plan);
    expect(all.map((p) => p.state)).toEqual([
      'requested',
      'gated',
      'approved',
      'copying',
      'copying',
      'verifying',
      'verifying',
      'verifying',
      'verifying',
      'verifying',
      'verifying',
      'verifying',
      'completed',
    ]);
    const tags = () => ['1.0.0', '1.1.0', REV, 'latest', 'prod'].map((t) => mem.peek(repo(prod, 'web'), t));
    const before = tags();
    for (const p of all.slice(0, -2)) {
      const again = await service().applier().step(roundTrip(plan), roundTrip(p));
      expect(again.state).not.toBe('failed');
      expect(tags()).toEqual(before);
    }
    expect(await records(repo(prod, 'web'), candidate.digest)).toHaveLength(1);
  });
});

describe('a crash at any step resumes to one completed promotion', () => {
  it.each([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])(
    'after %i steps (and the step after them done but not stored)',
    async (k) => {
      const moved: string[] = [];
      mem.fault = (op, r, ref) => {
        const cur = mem.peek(r, ref);
        if (op === 'tag' && /^\d+\.\d+\.\d+$|^[0-9a-f]{40}$/.test(ref) && cur && cur !== candidate.digest)
          moved.push(ref);
        return undefined;
      };
      const first = new MemoryLedger();
      const plan = roundTrip(
        await service(first).plan({ app: 'web', reference: '1.1.0', to: 'prod', actor: 'ci' }),
      );
      const applier = service(first).applier();
      let stored = initialProgress(plan);
      for (let i = 0; i < k; i++) stored = roundTrip(await applier.step(plan, stored));
      if (!isTerminal(stored.state)) await applier.step(plan, stored); // lost by the crash
      const second = new MemoryLedger();
      const done = await service(second).applier().run(roundTrip(plan), roundTrip(stored));
      expect(done.state).toBe('completed');
      expect(moved).toEqual([]);
      expect(mem.peek(repo(prod, 'web'), '1.0.0')).toBe(old.digest);
      for (const t of ['1.1.0', REV, 'latest', 'prod'])
        expect(mem.peek(repo(prod, 'web'), t)).toBe(candidate.digest);
      expect(await records(repo(prod, 'web'), candidate.digest)).toHaveLength(1);
      expect(
        [...first.events, ...second.events].filter((e) => e.type === 'promotion.completed').length,
      ).toBeLessThanOrEqual(2);
      expect(second.events.filter((e) => e.type === 'promotion.completed')).toHaveLength(1);
    },
  );

  it('a crash between stored steps records completion exactly once', async () => {
    const plan = await service().plan({ app: 'web', reference: '1.1.0', to: 'prod', actor: 'ci' });
    let stored = initialProgress(plan);
    for (let i = 0; i < 6; i++) stored = roundTrip(await service().applier().step(plan, stored));
    const done = await service().applier().run(roundTrip(plan), stored);
    expect(done.state).toBe('completed');
    expect(ledger.events.map((e) => e.type)).toEqual([
      'promotion.gated',
      'promotion.approved',
      'promotion.copying',
      'promotion.completed',
    ]);
  });
});

describe('approvals: a pending gate waits; approvals from the store count and are recorded', () => {
  it('awaiting-approval instead of an error, then approved by the store, recorded in the attestation', async () => {
    const s = service();
    const plan = await s.plan({ app: 'web', reference: '1.1.0', to: 'gated', actor: 'ci' });
    const waiting = await s.start(plan);
    expect(waiting.state).toBe('awaiting-approval');
    expect(waiting.gates[0]?.[0]).toMatchObject({ gate: 'approval', status: 'pending' });
    expect(mem.writes).toEqual([]);

    // The requester's own approval does not count; the state stays.
    const approval = { groups: ['ops'], application: 'web', environment: 'gated', digest: candidate.digest };
    approvals.add({ ...approval, approver: 'CI ', time: NOW.toISOString() });
    const still = await s.applier().step(roundTrip(plan), roundTrip(waiting));
    expect(still.state).toBe('awaiting-approval');

    approvals.add({ ...approval, approver: 'olive', time: NOW.toISOString() });
    const approved = await s.applier().step(roundTrip(plan), roundTrip(still));
    expect(approved.state).toBe('approved');
    const done = await s.applier().run(roundTrip(plan), roundTrip(approved));
    expect(done.state).toBe('completed');
    const [record] = await records(repo(gated, 'web'), candidate.digest);
    expect(record?.approvals).toEqual([{ approver: 'olive', time: NOW.toISOString() }]);
    expect(record?.gates).toEqual([{ gate: 'approval', status: 'pass', reasons: ['approved by olive'] }]);
    // Each evaluation that changed something is recorded (the ignored self-approval is a reason).
    expect(ledger.events.map((e) => e.type)).toEqual([
      'promotion.requested',
      'promotion.gated',
      'promotion.gated',
      'promotion.gated',
      'promotion.approved',
      'promotion.copying',
      'promotion.completed',
    ]);
  });

  it('promote() (the CLI) still refuses a pending gate with PROMOTION_GATES_FAILED', async () => {
    const err = await service()
      .promote({ app: 'web', reference: '1.1.0', to: 'gated', actor: 'ci' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GantryError);
    expect((err as GantryError).code).toBe('PROMOTION_GATES_FAILED');
    expect(mem.writes).toEqual([]);
  });

  it('a rejection while awaiting approval ends it; approving it afterwards is a state conflict', async () => {
    const s = service();
    const plan = await s.plan({ app: 'web', reference: '1.1.0', to: 'gated', actor: 'ci' });
    const waiting = await s.start(plan);
    const rejected = await s.applier().reject(plan, waiting, 'not this week', { actor: 'olive' });
    expect(rejected).toMatchObject({ state: 'rejected', reason: 'not this week' });
    expect(ledger.events.at(-1)).toMatchObject({ type: 'promotion.rejected', actor: 'olive' });
    const err = await s
      .applier()
      .cancel(plan, rejected, 'late')
      .catch((e: unknown) => e);
    expect((err as GantryError).code).toBe('PROMOTION_STATE_CONFLICT');
    expect(mem.writes).toEqual([]);
  });
});

describe('a failing step fails the promotion, its tags undone from the plan', () => {
  it('a tag write failing after a restart restores the tags written before the restart', async () => {
    const plan = roundTrip(await service().plan({ app: 'web', reference: '1.1.0', to: 'prod', actor: 'ci' }));
    let p = initialProgress(plan);
    while (p.tagsWritten < 2) p = roundTrip(await service().applier().step(plan, p));
    expect(mem.peek(repo(prod, 'web'), 'latest')).toBe(candidate.digest);
    mem.fault = (op, _r, ref) =>
      op === 'tag' && ref === '1.1.0' ? new GantryError('REGISTRY_SERVER_ERROR', '503') : undefined;
    const failed = await service().applier().step(plan, p);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatchObject({ code: 'REGISTRY_SERVER_ERROR', details: { restored: 2 } });
    expect(mem.peek(repo(prod, 'web'), 'latest')).toBe(old.digest);
    expect(mem.peek(repo(prod, 'web'), 'prod')).toBe(old.digest);
    expect(mem.peek(repo(prod, 'web'), '1.1.0')).toBeUndefined();
    expect(ledger.events.at(-1)).toMatchObject({ type: 'promotion.failed' });
  });

  it('attaching the record failing after every tag was written undoes the tags too (issue 15, faults suite)', async () => {
    const plan = roundTrip(await service().plan({ app: 'web', reference: '1.1.0', to: 'prod', actor: 'ci' }));
    let p = initialProgress(plan);
    while (p.tagsWritten < plan.tagWrites.length) p = roundTrip(await service().applier().step(plan, p));
    expect(mem.peek(repo(prod, 'web'), 'latest')).toBe(candidate.digest);
    mem.fault = (op) => (op === 'attach' ? new GantryError('REGISTRY_SERVER_ERROR', '503') : undefined);
    const failed = await service().applier().step(plan, p);
    expect(failed.state).toBe('failed');
    expect(failed.error?.code).toBe('REGISTRY_SERVER_ERROR');
    expect(failed.error?.message).toContain('failed while attaching records');
    // Before the fix the tags stayed on the candidate: the environment ran a digest with no record.
    expect(mem.peek(repo(prod, 'web'), 'latest')).toBe(old.digest);
    expect(mem.peek(repo(prod, 'web'), 'prod')).toBe(old.digest);
    expect(mem.peek(repo(prod, 'web'), '1.1.0')).toBeUndefined();
    expect(await records(repo(prod, 'web'), candidate.digest)).toEqual([]);
  });
});

describe('an aborted step (a lost lease) stops the job, not the promotion', () => {
  /** A service whose registry copies through `copy` instead of the in-memory one. */
  const withCopy = (copy: RegistryPort['copy']) =>
    new PromotionService({ config, registry: { ...mem.port, copy }, gates, ledger, now: () => NOW });

  it('an abort mid-copy rethrows OPERATION_ABORTED, leaves the state copying, and a re-run completes', async () => {
    const plan = roundTrip(await service().plan({ app: 'web', reference: '1.1.0', to: 'prod', actor: 'ci' }));
    let p = initialProgress(plan);
    while (p.state !== 'copying') p = roundTrip(await service().applier().step(plan, p));
    const lease = new AbortController();
    const seen: { index: number; bytesTransferred: number }[] = [];
    // The copy reports progress, then the lease is lost and the transport's requests break off.
    const s = withCopy((_source, _target, _digest, options) => {
      options?.onProgress?.({ bytesTransferred: 10, bytesTotal: 100, blobsDone: 0, blobsTotal: 1 });
      expect(options?.signal).toBe(lease.signal);
      lease.abort();
      return Promise.reject(new GantryError('REGISTRY_TIMEOUT', 'PUT blob: aborted'));
    });
    const err = await s
      .applier()
      .step(plan, p, {
        signal: lease.signal,
        onCopyProgress: (index, x) => seen.push({ index, bytesTransferred: x.bytesTransferred }),
      })
      .catch((e: unknown) => e);
    expect((err as GantryError).code).toBe('OPERATION_ABORTED');
    expect(seen).toEqual([{ index: 0, bytesTransferred: 10 }]);
    expect(ledger.events.map((e) => e.type)).not.toContain('promotion.failed');
    expect(p.state).toBe('copying');
    const done = await service().applier().run(plan, p);
    expect(done.state).toBe('completed');
    expect(mem.peek(repo(prod, 'web'), '1.1.0')).toBe(candidate.digest);
  });

  it('an abort while verifying writes no further tag and undoes none', async () => {
    const plan = roundTrip(await service().plan({ app: 'web', reference: '1.1.0', to: 'prod', actor: 'ci' }));
    let p = initialProgress(plan);
    while (p.tagsWritten < 1) p = roundTrip(await service().applier().step(plan, p));
    const lease = new AbortController();
    // The lease is lost while the step (in a new process) reads the manifest its tags point at.
    mem.fault = (op) => {
      if (op === 'manifest') lease.abort();
      return undefined;
    };
    const writes = mem.writes.length;
    const err = await service()
      .applier()
      .step(plan, p, { signal: lease.signal })
      .catch((e: unknown) => e);
    expect((err as GantryError).code).toBe('OPERATION_ABORTED');
    // `prod` (the step's tag) was not written, and `latest`, written by the step before, stays.
    expect(mem.writes.slice(writes)).toEqual([]);
    expect(mem.peek(repo(prod, 'web'), 'latest')).toBe(candidate.digest);
    expect(ledger.events.map((e) => e.type)).not.toContain('promotion.failed');
    mem.fault = () => undefined;
    expect((await service().applier().run(plan, p)).state).toBe('completed');
  });

  it('an already aborted signal does no work at all', async () => {
    const plan = await service().plan({ app: 'web', reference: '1.1.0', to: 'prod', actor: 'ci' });
    const err = await service()
      .applier()
      .step(plan, initialProgress(plan), { signal: AbortSignal.abort() })
      .catch((e: unknown) => e);
    expect((err as GantryError).code).toBe('OPERATION_ABORTED');
    expect(ledger.events).toEqual([]);
  });
});
