import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { digestOf } from '../core/index.js';
import {
  attestationArtifact,
  envelope,
  loadSigner,
  openEnvelope,
  statementFor,
  type PromotionPredicate,
} from './attestation.js';

const predicate: PromotionPredicate = {
  kind: 'promotion',
  application: 'web',
  version: '1.0.0',
  digest: digestOf('image'),
  from: { environment: 'staging', repository: 'dev.example.com/web' },
  to: { environment: 'prod', repository: 'prod.example.com/web' },
  tags: ['1.0.0', 'latest'],
  time: '2026-01-01T00:00:00.000Z',
  actor: 'ci',
  gates: [],
  approvals: [],
};

function keys(type: 'ec' | 'ed25519') {
  const pair =
    type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return {
    priv: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    pub: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

describe('promotion attestations', () => {
  it.each(['ec', 'ed25519'] as const)('signs and verifies with %s keys', (type) => {
    const k = keys(type);
    const env = envelope(statementFor('prod.example.com/web', predicate), loadSigner(k.priv, 'test key'));
    const check = openEnvelope(Buffer.from(JSON.stringify(env)), [k.pub]);
    expect(check.signature).toBe('verified');
    expect(check.statement.predicate).toEqual(predicate);
    expect(openEnvelope(Buffer.from(JSON.stringify(env)), [keys(type).pub]).signature).toBe('unknown-key');
  });

  it('detects a tampered payload', () => {
    const k = keys('ec');
    const env = envelope(statementFor('prod.example.com/web', predicate), loadSigner(k.priv, 'test key'));
    const statement = JSON.parse(Buffer.from(env.payload, 'base64').toString()) as {
      predicate: PromotionPredicate;
    };
    const forged = {
      ...env,
      payload: Buffer.from(
        JSON.stringify({ ...statement, predicate: { ...statement.predicate, actor: 'mallory' } }),
      ).toString('base64'),
    };
    expect(openEnvelope(Buffer.from(JSON.stringify(forged)), [k.pub]).signature).toBe('invalid');
  });

  it('reports unsigned envelopes and refuses garbage', () => {
    const env = envelope(statementFor('x', predicate));
    expect(openEnvelope(Buffer.from(JSON.stringify(env))).signature).toBe('unsigned');
    expect(() => openEnvelope(Buffer.from('{"payloadType":"text/plain","payload":""}'))).toThrowError(
      expect.objectContaining({ code: 'ATTESTATION_INVALID' }),
    );
  });

  it('refuses keys other than P-256 and Ed25519', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    expect(() => loadSigner(rsa, 'rsa.pem')).toThrow(/only ECDSA P-256 and Ed25519/);
    expect(() => loadSigner('not a key', 'x.pem')).toThrow(/x.pem is not a PEM private key/);
  });

  it('packs an OCI artifact referring to the subject, with annotations for history', () => {
    const art = attestationArtifact(
      envelope(statementFor('x', predicate)),
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: predicate.digest, size: 10 },
      predicate,
    );
    const m = JSON.parse(art.manifest.toString()) as {
      subject: { digest: string };
      artifactType: string;
      annotations: Record<string, string>;
    };
    expect(m.subject.digest).toBe(predicate.digest);
    expect(m.artifactType).toBe('application/vnd.dev.gantry.promotion.v1+json');
    expect(m.annotations['dev.gantry.promotion.environment']).toBe('prod');
    expect(art.digest).toBe(digestOf(art.manifest));
    expect(art.blobs.size).toBe(2);
  });
});
