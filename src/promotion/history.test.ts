import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GantryError, MediaTypes, digestOf } from '../core/index.js';
import type { Repository } from '../registry/index.js';
import {
  Annotations,
  PROMOTION_ARTIFACT_TYPE,
  artifactOf,
  attestationArtifact,
  attestationArtifactOf,
  envelope,
  loadSigner,
  statementFor,
  type PromotionPredicate,
  type Signer,
} from './attestation.js';
import {
  UNAUTHENTICATED,
  digestsOf,
  historyOf,
  trustedPromotionRecords,
  type PromotionTrust,
} from './history.js';
import { MemoryRegistry } from './memory-registry.test-support.js';
import { trustedRegistry } from './trusted-registry.js';

const repo: Repository = { registry: 'dev.example.com', repository: 'team/web' };

function keyPair(): { signer: Signer; pub: string } {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    signer: loadSigner(pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'test key'),
    pub: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
const trusted = keyPair();
const stranger = keyPair();
const signed: PromotionTrust = { required: true, publicKeys: () => [trusted.pub] };

/** A registry holding one image tagged 1.0.0. */
function setup() {
  const mem = new MemoryRegistry();
  const registry = mem.port;
  const config = Buffer.from('{}');
  mem.putBlob(config);
  const image = mem.putManifest(
    repo,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: { mediaType: MediaTypes.ociConfig, digest: digestOf(config), size: config.length },
        layers: [],
      }),
    ),
    '1.0.0',
  );
  const subject = { mediaType: image.mediaType, digest: image.digest, size: image.bytes.length };
  const predicate = (over: Partial<PromotionPredicate> = {}): PromotionPredicate => ({
    kind: 'promotion',
    application: 'web',
    version: '1.0.0',
    digest: image.digest,
    from: { environment: 'dev', repository: 'dev.example.com/team/web' },
    to: { environment: 'staging', repository: 'dev.example.com/team/web' },
    tags: ['staging'],
    time: '2026-06-01T10:00:00.000Z',
    actor: 'ci',
    gates: [],
    approvals: [],
    ...over,
  });
  /** Attaches a record as Gantry writes it, signed by `signer` (or unsigned). */
  const record = async (signer: Signer | undefined, over: Partial<PromotionPredicate> = {}) => {
    const p = predicate(over);
    const artifact = attestationArtifact(
      envelope(statementFor('dev.example.com/team/web', p), signer),
      subject,
      p,
    );
    await registry.attach(repo, artifact);
    return artifact.digest;
  };
  /** What `gantry attach FILE --artifact-type …promotion… --annotation …` pushes: annotations only. */
  const forged = async () => {
    const artifact = artifactOf(
      Buffer.from('{"hello":"world"}'),
      'application/json',
      subject,
      PROMOTION_ARTIFACT_TYPE,
      {
        [Annotations.env]: 'staging',
        [Annotations.app]: 'web',
        [Annotations.actor]: 'mallory',
        [Annotations.created]: '2020-01-01T00:00:00Z',
      },
    );
    await registry.attach(repo, artifact);
    return artifact.digest;
  };
  return { mem, registry, image, subject, predicate, record, forged };
}

describe('trusted promotion records (issue 10.3)', () => {
  it('a record forged with `gantry attach` and annotations never counts when a key is configured', async () => {
    const { registry, image, forged } = setup();
    const attestation = await forged();
    const r = await trustedPromotionRecords(registry, repo, image.digest, 'staging', 'web', signed);
    expect(r.entries).toEqual([]);
    expect(r.ignored).toEqual([
      { attestation, reason: expect.stringMatching(/no DSSE envelope/) as unknown },
    ]);
    expect(await historyOf(registry, repo, 'staging', 'web', signed)).toEqual([]);
  });

  it('an unsigned or foreign-signed envelope does not count when a key is configured', async () => {
    const { registry, image, record } = setup();
    const unsigned = await record(undefined, { time: '2020-01-01T00:00:00.000Z' });
    const foreign = await record(stranger.signer, { time: '2020-01-02T00:00:00.000Z' });
    const r = await trustedPromotionRecords(registry, repo, image.digest, 'staging', 'web', signed);
    expect(r.entries).toEqual([]);
    expect(r.ignored).toEqual(
      expect.arrayContaining([
        { attestation: unsigned, reason: 'it is not signed' },
        { attestation: foreign, reason: 'it is signed by a key that is not trusted' },
      ]),
    );
  });

  it('a record signed by the configured key counts, with the facts of its signed statement', async () => {
    const { registry, image, record, forged } = setup();
    await forged();
    const genuine = await record(trusted.signer);
    const r = await trustedPromotionRecords(registry, repo, image.digest, 'staging', 'web', signed);
    expect(r.authenticated).toBe(true);
    expect(r.entries).toEqual([
      {
        time: '2026-06-01T10:00:00.000Z',
        kind: 'promotion',
        environment: 'staging',
        application: 'web',
        version: '1.0.0',
        digest: image.digest,
        actor: 'ci',
        attestation: genuine,
      },
    ]);
    expect(await historyOf(registry, repo, 'staging', 'web', signed)).toEqual(r.entries);
  });

  it('a genuine envelope re-packed with older annotations keeps its signed time', async () => {
    const { registry, image, subject, predicate } = setup();
    const p = predicate();
    const artifact = attestationArtifactOf(
      envelope(statementFor('dev.example.com/team/web', p), trusted.signer),
      subject,
      PROMOTION_ARTIFACT_TYPE,
      {
        [Annotations.env]: 'staging',
        [Annotations.app]: 'web',
        [Annotations.created]: '2020-01-01T00:00:00Z',
      },
    );
    await registry.attach(repo, artifact);
    const r = await trustedPromotionRecords(registry, repo, image.digest, 'staging', 'web', signed);
    expect(r.entries.map((e) => e.time)).toEqual([p.time]);
  });

  it('a signed record for another environment, application or digest does not count', async () => {
    const { registry, image, subject, predicate } = setup();
    /** A signed statement `p`, packed with annotations claiming staging / web. */
    const claim = (p: PromotionPredicate) =>
      registry.attach(
        repo,
        attestationArtifactOf(
          envelope(statementFor('x', p), trusted.signer),
          subject,
          PROMOTION_ARTIFACT_TYPE,
          {
            [Annotations.env]: 'staging',
            [Annotations.app]: 'web',
          },
        ),
      );
    await claim(predicate({ to: { environment: 'prod', repository: 'x' } }));
    await claim(predicate({ application: 'api' }));
    await claim(predicate({ digest: digestOf('other image') }));
    const r = await trustedPromotionRecords(registry, repo, image.digest, 'staging', 'web', signed);
    expect(r.entries).toEqual([]);
    expect(r.ignored.map((i) => i.reason)).toEqual(
      expect.arrayContaining([
        'its signed statement is about web in prod',
        'its signed statement is about api in staging',
        'its statement is about another digest or is incomplete',
      ]),
    );
  });

  it('without a key, intact records count and the history says it is unauthenticated', async () => {
    const { registry, image, record } = setup();
    await record(undefined);
    const r = await trustedPromotionRecords(registry, repo, image.digest, 'staging', 'web', UNAUTHENTICATED);
    expect(r.authenticated).toBe(false);
    expect(r.entries).toHaveLength(1);
  });

  it('does not load keys when there is no record to check', async () => {
    const { registry, image } = setup();
    const trust: PromotionTrust = {
      required: true,
      publicKeys: () => {
        throw new GantryError('CONFIG_INVALID', 'no key');
      },
    };
    const r = await trustedPromotionRecords(registry, repo, image.digest, 'staging', 'web', trust);
    expect(r.entries).toEqual([]);
  });

  it('a registry error while reading a record is an error, not a missing record', async () => {
    const { mem, registry, image, record } = setup();
    await record(trusted.signer);
    mem.fault = (op) => (op === 'blob' ? new GantryError('REGISTRY_SERVER_ERROR', 'HTTP 503') : undefined);
    await expect(
      trustedPromotionRecords(registry, repo, image.digest, 'staging', 'web', signed),
    ).rejects.toMatchObject({ code: 'REGISTRY_SERVER_ERROR' });
  });
});

describe('trustedRegistry: the view every reader of promotion records goes through (issue 10.3)', () => {
  it('lists only records that count, so history and rollback (which pass no trust) never see a forgery', async () => {
    const { registry, image, subject, predicate, record, forged } = setup();
    await forged();
    await record(undefined, { time: '2020-01-01T00:00:00.000Z' });
    const genuine = await record(trusted.signer);
    // A genuine envelope re-packed with annotations that claim an older time.
    await registry.attach(
      repo,
      attestationArtifactOf(
        envelope(statementFor('dev.example.com/team/web', predicate()), trusted.signer),
        subject,
        PROMOTION_ARTIFACT_TYPE,
        {
          [Annotations.env]: 'staging',
          [Annotations.app]: 'web',
          [Annotations.created]: '2020-01-01T00:00:00Z',
        },
      ),
    );
    const view = trustedRegistry(registry, signed);
    expect((await view.referrers(repo, image.digest, PROMOTION_ARTIFACT_TYPE)).map((d) => d.digest)).toEqual([
      genuine,
    ]);
    expect((await historyOf(view, repo, 'staging', 'web')).map((e) => e.attestation)).toEqual([genuine]);
    // Without a key, an intact unsigned record counts; an annotation-only forgery still does not.
    const open = trustedRegistry(registry, UNAUTHENTICATED);
    expect(await open.referrers(repo, image.digest, PROMOTION_ARTIFACT_TYPE)).toHaveLength(2);
  });

  it('leaves other referrers alone', async () => {
    const { registry, image, subject } = setup();
    await registry.attach(
      repo,
      artifactOf(Buffer.from('{}'), 'application/json', subject, 'application/x-report', {}),
    );
    expect(await trustedRegistry(registry, signed).referrers(repo, image.digest)).toHaveLength(1);
  });
});

describe('digestsOf (issue 10.2)', () => {
  it('only an explicit "unknown" means a tag is absent; a 503 is an error', async () => {
    const { mem, registry, image } = setup();
    expect([...(await digestsOf(registry, repo)).keys()]).toEqual([image.digest]);
    mem.fault = (op) =>
      op === 'resolve' ? new GantryError('REGISTRY_SERVER_ERROR', 'HTTP 503 Service Unavailable') : undefined;
    await expect(digestsOf(registry, repo)).rejects.toMatchObject({ code: 'REGISTRY_SERVER_ERROR' });
    await expect(historyOf(registry, repo, 'staging', 'web', signed)).rejects.toMatchObject({
      code: 'REGISTRY_SERVER_ERROR',
    });
    mem.fault = (op) => (op === 'resolve' ? new GantryError('REGISTRY_MANIFEST_UNKNOWN', 'gone') : undefined);
    expect((await digestsOf(registry, repo)).size).toBe(0);
  });
});
