/**
 * The promotion service against in-memory registries: reads that fail are never "absent"
 * (issue 10.2), tag writes ordered and undone (9.2), ref/pin's proven state (9.1), versions and
 * revisions derived by kind whatever the reference (9.4, 10.7), references checked before any
 * registry call (10.6), and a candidate missing from the source refused by the pipeline (9.7).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { GantryError } from '../core/index.js';
import type { Manifest } from '../registry/index.js';
import { configOf, dev, prod, repo, REV } from './config-fixture.test-support.js';
import { imageWith, imageWithConfig, MemoryRegistry } from './memory-registry.test-support.js';
import { resolveIfPresent } from './resolve-if-present.js';
import { PromotionService } from './service.js';

const config = configOf();

let mem: MemoryRegistry;
let service: PromotionService;
const version = (seed: string, v: string, extra: Record<string, string> = {}): Manifest =>
  imageWith(seed, { 'org.opencontainers.image.version': v, ...extra });

/** Rejects with a GantryError of `code`. */
async function rejectsWith(p: Promise<unknown>, code: string): Promise<GantryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GantryError);
  expect((err as GantryError).code).toBe(code);
  return err as GantryError;
}

beforeEach(() => {
  mem = new MemoryRegistry();
  service = new PromotionService({ config, registry: mem.port, actor: 'ci', now: () => new Date(0) });
});

describe('resolveIfPresent (issue 10.2)', () => {
  it.each([
    ['REGISTRY_MANIFEST_UNKNOWN', undefined],
    ['REGISTRY_NAME_UNKNOWN', undefined],
    ['REGISTRY_NOT_FOUND', undefined],
    ['REGISTRY_SERVER_ERROR', 'throws'],
    ['REGISTRY_DENIED', 'throws'],
    ['REGISTRY_UNREACHABLE', 'throws'],
    ['REGISTRY_TOO_MANY_REQUESTS', 'throws'],
  ] as const)('%s → %s', async (code, expected) => {
    mem.fault = (op) => (op === 'resolve' ? new GantryError(code, 'injected') : undefined);
    const p = resolveIfPresent(mem.port, repo(prod, 'web'), '1.0.0');
    if (expected === 'throws') await rejectsWith(p, code);
    else expect(await p).toBeUndefined();
  });
});

describe('an immutable tag whose read fails is never overwritten (issue 10.2)', () => {
  it.each(['REGISTRY_SERVER_ERROR', 'REGISTRY_DENIED'] as const)(
    'prod 1.0.0 answers %s: the promotion stops and writes nothing',
    async (code) => {
      const original = version('web-original', '1.0.0');
      const rebuilt = version('web-rebuilt', '1.0.0');
      mem.put(repo(prod, 'web'), original, '1.0.0', 'latest', 'prod');
      mem.put(repo(dev, 'web'), rebuilt, '1.0.0');
      mem.fault = (op, r, ref) =>
        op === 'resolve' && r.registry === prod.registry.host && ref === '1.0.0'
          ? new GantryError(code, 'injected')
          : undefined;
      await rejectsWith(service.promote({ app: 'web', reference: '1.0.0', to: 'prod' }), code);
      expect(mem.writes).toEqual([]);
      expect(mem.peek(repo(prod, 'web'), '1.0.0')).toBe(original.digest);
      expect(mem.peek(repo(prod, 'web'), 'latest')).toBe(original.digest);
    },
  );
});

describe('labels that cannot be read are an error, not "no labels" (issue 10.2)', () => {
  it('reads the labels from the config blob', async () => {
    const image = imageWithConfig(mem, 'web-cfg', { 'org.opencontainers.image.revision': REV });
    mem.put(repo(dev, 'web'), image, '1.3.0');
    const plan = await service.promote({ app: 'web', reference: '1.3.0', to: 'prod', dryRun: true });
    expect(plan.tags.changes.map((c) => c.tag)).toEqual(['1.3.0', REV, 'latest', 'prod']);
  });

  it('a config blob answering 503 stops the promotion instead of dropping the revision tag', async () => {
    const image = imageWithConfig(mem, 'web-cfg', { 'org.opencontainers.image.revision': REV });
    mem.put(repo(dev, 'web'), image, '1.3.0');
    mem.fault = (op) => (op === 'blob' ? new GantryError('REGISTRY_SERVER_ERROR', '503') : undefined);
    await rejectsWith(
      service.promote({ app: 'web', reference: '1.3.0', to: 'prod' }),
      'REGISTRY_SERVER_ERROR',
    );
    expect(mem.writes).toEqual([]);
  });
});

describe('tag writes are ordered and undone (issue 9.2)', () => {
  let web1: Manifest;
  let web2: Manifest;
  let api1: Manifest;
  beforeEach(async () => {
    web1 = version('web-1', '1.0.0');
    web2 = version('web-2', '2.0.0');
    api1 = version('api-1', '1.0.0');
    mem.put(repo(dev, 'web'), web1, '1.0.0');
    mem.put(repo(dev, 'web'), web2, '2.0.0');
    mem.put(repo(dev, 'api'), api1, '1.0.0');
    await service.promote({ app: 'web', reference: '1.0.0', to: 'prod' });
    mem.writes.length = 0;
  });
  const release = () =>
    service.promoteRelease({
      to: 'prod',
      applications: [
        { app: 'web', reference: '2.0.0' },
        { app: 'api', reference: '1.0.0' },
      ],
    });
  const failOn = (app: string, tag: string) => {
    mem.fault = (op, r, ref) =>
      op === 'tag' && r.repository === `team/${app}` && ref === tag
        ? new GantryError('REGISTRY_SERVER_ERROR', 'disk on fire')
        : undefined;
  };

  it('writes restorable moves first, then new immutable tags, then new floating tags', async () => {
    await release();
    expect(mem.writes.filter((w) => w.startsWith('tag '))).toEqual([
      'tag prod.example.com/team/web:latest',
      'tag prod.example.com/team/web:prod',
      'tag prod.example.com/team/web:2.0.0',
      'tag prod.example.com/team/api:1.0.0',
      'tag prod.example.com/team/api:latest',
      'tag prod.example.com/team/api:prod',
    ]);
  });

  it('on a failure puts moved tags back and deletes every new tag (OCI 1.1 tag deletion)', async () => {
    failOn('api', 'prod');
    const err = await rejectsWith(release(), 'REGISTRY_SERVER_ERROR');
    expect(err.message).toMatch(
      /release to prod failed while writing tags \(disk on fire\); 2 moved tags restored; 3 new tags removed$/,
    );
    expect(err.details).toMatchObject({ restored: 2, removed: 3, incomplete: [] });
    const web = repo(prod, 'web');
    const api = repo(prod, 'api');
    expect([mem.peek(web, 'latest'), mem.peek(web, 'prod')]).toEqual([web1.digest, web1.digest]);
    for (const [r, t] of [
      [web, '2.0.0'],
      [api, '1.0.0'],
      [api, 'latest'],
      [api, 'prod'],
    ] as const)
      expect(mem.peek(r, t), `${r.repository}:${t}`).toBeUndefined();
    expect(mem.writes.filter((w) => w.startsWith('attach'))).toEqual([]);
  });

  it('where tags cannot be deleted, reports them; ref/pin refuse them and a re-run completes', async () => {
    mem.deletesTags = false;
    failOn('api', 'prod');
    const err = await rejectsWith(release(), 'REGISTRY_SERVER_ERROR');
    expect(err.details.incomplete).toEqual([
      'prod.example.com/team/api:latest (a new tag; the registry does not delete tags)',
      'prod.example.com/team/api:1.0.0 (a new tag; the registry does not delete tags)',
      'prod.example.com/team/web:2.0.0 (a new tag; the registry does not delete tags)',
    ]);
    expect(err.message).toMatch(/could not undo .*no promotion record, so ref and pin refuse it; re-run/);
    // api's latest is left pointing at a digest never recorded as promoted to prod.
    expect(mem.peek(repo(prod, 'api'), 'latest')).toBe(api1.digest);
    await rejectsWith(service.deployable('api', 'prod'), 'PROMOTION_UNRECORDED');
    expect((await service.deployable('api', 'prod', { allowUnrecorded: true })).digest).toBe(api1.digest);
    mem.fault = () => undefined;
    await release();
    expect((await service.deployable('api', 'prod')).digest).toBe(api1.digest);
    expect((await service.deployable('web', 'prod')).digest).toBe(web2.digest);
  });

  it('a single promotion is undone the same way', async () => {
    failOn('web', 'prod');
    await rejectsWith(
      service.promote({ app: 'web', reference: '2.0.0', to: 'prod' }),
      'REGISTRY_SERVER_ERROR',
    );
    expect(mem.peek(repo(prod, 'web'), 'latest')).toBe(web1.digest);
    expect(mem.peek(repo(prod, 'web'), 'prod')).toBe(web1.digest);
    expect(mem.peek(repo(prod, 'web'), '2.0.0')).toBeUndefined();
  });
});

describe('what ref and pin may report (issue 9.1)', () => {
  it('refuses a digest with no promotion record, unless allowed', async () => {
    const rogue = version('rogue', '6.6.6');
    mem.put(repo(prod, 'web'), rogue, 'latest', 'prod');
    const err = await rejectsWith(service.deployable('web', 'prod'), 'PROMOTION_UNRECORDED');
    expect(err.message).toContain(rogue.digest);
    expect(err.message).toContain('accept unrecorded digests');
    expect(err.message).not.toMatch(/--/);
    expect((await service.deployable('web', 'prod', { allowUnrecorded: true })).digest).toBe(rogue.digest);
  });

  it('an unreadable registry is an error, never "absent"', async () => {
    mem.fault = (op) =>
      op === 'resolve' ? new GantryError('REGISTRY_UNREACHABLE', 'connect ECONNREFUSED') : undefined;
    const err = await rejectsWith(service.deployable('web', 'prod'), 'REGISTRY_UNREACHABLE');
    expect(err.message).toContain('prod (prod.example.com)');
    const cells = await service.status();
    expect(cells.find((c) => c.environment === 'prod' && c.application === 'web')).toMatchObject({
      state: 'unknown',
      error: { code: 'REGISTRY_UNREACHABLE' },
    });
    await rejectsWith(service.diff('dev', 'prod'), 'REGISTRY_UNREACHABLE');
  });

  it('an environment without a floating tag is a configuration problem for ref', async () => {
    const err = await rejectsWith(service.deployable('web', 'dev'), 'CONFIG_INVALID');
    expect(err.message).toContain('/etc/gantry.yaml: environments.dev.tags.floating');
  });

  it('status shows the newest version tag of an entry environment', async () => {
    mem.put(repo(dev, 'web'), version('w9', '1.9.0'), '1.9.0');
    const newest = version('w10', '1.10.0');
    mem.put(repo(dev, 'web'), newest, '1.10.0', 'main');
    const cells = await service.status();
    expect(cells.find((c) => c.environment === 'dev' && c.application === 'web')).toMatchObject({
      state: 'present',
      source: 'newest-version',
      tag: '1.10.0',
      version: '1.10.0',
      digest: newest.digest,
    });
    expect(cells.find((c) => c.environment === 'dev' && c.application === 'api')).toMatchObject({
      state: 'absent',
    });
  });
});

describe('any reference to a candidate promotes the same thing (issues 9.4, 10.7)', () => {
  it.each([
    ['the version tag', '1.2.0'],
    ['the git-sha tag', REV],
    ['a branch tag', 'main'],
    ['the digest', 'digest'],
  ])('by %s: version, revision and floating tags, never a branch tag', async (_, reference) => {
    const image = imageWith('web-1.2.0', { 'org.opencontainers.image.revision': REV });
    mem.put(repo(dev, 'web'), image, '1.2.0', REV, 'main');
    const r = await service.promote({
      app: 'web',
      reference: reference === 'digest' ? image.digest : reference,
      to: 'prod',
    });
    expect(r).toMatchObject({ version: '1.2.0', revision: REV });
    expect(r.tags.changes.map((c) => c.tag)).toEqual(['1.2.0', REV, 'latest', 'prod']);
    expect(mem.peek(repo(prod, 'web'), 'main')).toBeUndefined();
  });

  it('a revision label that is not a git commit makes no tag, with a warning', async () => {
    const image = version('web-1.1.0', '1.1.0', { 'org.opencontainers.image.revision': '9.9.9' });
    mem.put(repo(dev, 'web'), image, '1.1.0');
    const plan = await service.promote({ app: 'web', reference: '1.1.0', to: 'prod', dryRun: true });
    expect(plan.tags.changes.map((c) => c.tag)).toEqual(['1.1.0', 'latest', 'prod']);
    expect(plan.revision).toBeUndefined();
    expect(plan.warnings).toContainEqual(
      expect.stringContaining('org.opencontainers.image.revision="9.9.9"'),
    );
    await service.promote({ app: 'web', reference: '1.1.0', to: 'prod' });
    expect(mem.peek(repo(prod, 'web'), '9.9.9')).toBeUndefined();
  });

  it('a version label that does not match the version pattern makes no tag, with a warning', async () => {
    mem.put(repo(dev, 'web'), version('web-x', 'main'), 'candidate');
    const plan = await service.promote({ app: 'web', reference: 'candidate', to: 'prod', dryRun: true });
    expect(plan.version).toBeUndefined();
    expect(plan.tags.changes.map((c) => c.tag)).toEqual(['latest', 'prod']);
    expect(plan.warnings.join('\n')).toMatch(
      /org\.opencontainers\.image\.version="main" does not match prod's version pattern/,
    );
  });

  it('plan warns when a promotion moves an environment back to an older version', async () => {
    mem.put(repo(dev, 'web'), version('w1', '1.9.0'), '1.9.0');
    mem.put(repo(dev, 'web'), version('w2', '1.10.0'), '1.10.0');
    await service.promote({ app: 'web', reference: '1.10.0', to: 'prod' });
    const back = await service.promote({ app: 'web', reference: '1.9.0', to: 'prod', dryRun: true });
    expect(back.warnings).toContain(
      'prod runs web 1.10.0: promoting 1.9.0 moves it back to an older version',
    );
    const forward = await service.promote({ app: 'web', reference: '1.10.0', to: 'prod', dryRun: true });
    expect(forward.warnings).toEqual([]);
  });
});

describe('the VERSION argument is checked before any registry call (issue 10.6)', () => {
  it.each([
    ['../../../other-team/secret/manifests/1.0', 'REFERENCE_INVALID'],
    ['1.0#x', 'REFERENCE_INVALID'],
    ['1.0?x=1', 'REFERENCE_INVALID'],
    ['1.0/../latest', 'REFERENCE_INVALID'],
    ['', 'REFERENCE_INVALID'],
    ['.hidden', 'REFERENCE_INVALID'],
    ['a'.repeat(129), 'REFERENCE_INVALID'],
    ['sha256:abc', 'DIGEST_INVALID'],
    [`sha256:${'A'.repeat(64)}`, 'DIGEST_INVALID'],
  ])('%j → %s', async (reference, code) => {
    await rejectsWith(service.promote({ app: 'web', reference, to: 'prod', dryRun: true }), code);
    await rejectsWith(
      service.promoteRelease({ to: 'prod', applications: [{ app: 'web', reference }] }),
      code,
    );
    await rejectsWith(service.rollback('web', 'prod', reference), code);
    expect(mem.calls).toEqual([]);
  });
});

describe('a candidate that never reached the source environment (issue 9.7)', () => {
  it('is PROMOTION_NOT_ALLOWED', async () => {
    const err = await rejectsWith(
      service.promote({ app: 'web', reference: '3.0.0', to: 'prod', dryRun: true }),
      'PROMOTION_NOT_ALLOWED',
    );
    expect(err.message).toBe(
      '3.0.0 is not in dev (dev.example.com/team/web): it never reached dev, so it cannot be promoted from there',
    );
  });

  it('a registry failure while reading it stays a registry error', async () => {
    mem.fault = (op) => (op === 'manifest' ? new GantryError('REGISTRY_DENIED', 'denied') : undefined);
    await rejectsWith(service.promote({ app: 'web', reference: '3.0.0', to: 'prod' }), 'REGISTRY_DENIED');
  });
});
