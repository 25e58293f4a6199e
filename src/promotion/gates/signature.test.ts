import { describe, expect, it } from 'vitest';
import { GantryError, digestOf, type Digest } from '../../core/index.js';
import { parseManifest } from '../../registry/index.js';
import {
  cosignPayload,
  cosignSign,
  cosignTag,
  makeCosignKeyPair,
  makeCosignSignature,
} from '../../../test/helpers/cosign.js';
import { makeImage } from '../../../test/helpers/images.js';
import { signatureLayers } from './cosign.js';
import {
  evaluateSignature,
  signatureGateSchema,
  signatureKeyName,
  type SignatureCandidate,
} from './signature.js';

const ecdsa = makeCosignKeyPair('ecdsa');
const ed25519 = makeCosignKeyPair('ed25519');
const stranger = makeCosignKeyPair('ecdsa');
const image = makeImage({ seed: 'signature-gate' });
const digest = image.digest as Digest;
const otherDigest = digestOf('some other image');
const reference = 'registry.example/team/app';
const tagSource = `tag ${cosignTag(digest)}`;

const prod = { name: 'prod-signer', pem: ecdsa.publicKeyPem };
const edKey = { name: 'ed-signer', pem: ed25519.publicKeyPem };

function signature(source: string, privateKeyPem: string, forDigest: string = digest): SignatureCandidate {
  const payload = cosignPayload(forDigest, reference);
  return { source, payload, signatureB64: cosignSign(payload, privateKeyPem) };
}

describe('signatureGateSchema', () => {
  const cases: { name: string; options: unknown; ok: boolean }[] = [
    { name: 'inline key', options: { keys: [{ name: 'prod', key: ecdsa.publicKeyPem }] }, ok: true },
    { name: 'key file', options: { keys: [{ path: 'keys/cosign.pub' }] }, ok: true },
    {
      name: 'several keys',
      options: { keys: [{ path: 'a.pub' }, { name: 'b', key: ed25519.publicKeyPem }] },
      ok: true,
    },
    { name: 'no keys', options: { keys: [] }, ok: false },
    { name: 'keys missing', options: {}, ok: false },
    { name: 'both key and path', options: { keys: [{ key: ecdsa.publicKeyPem, path: 'a.pub' }] }, ok: false },
    { name: 'neither key nor path', options: { keys: [{ name: 'prod' }] }, ok: false },
    { name: 'unknown option', options: { keys: [{ path: 'a.pub' }], keyless: true }, ok: false },
    { name: 'unknown key field', options: { keys: [{ path: 'a.pub', algorithm: 'ecdsa' }] }, ok: false },
  ];
  it.each(cases)('$name → ok=$ok', ({ options, ok }) => {
    expect(signatureGateSchema.safeParse(options).success).toBe(ok);
  });
});

describe('signatureKeyName', () => {
  it('uses the name, else the path, else the position', () => {
    expect(signatureKeyName({ name: 'prod', path: 'a.pub' }, 0)).toBe('prod');
    expect(signatureKeyName({ path: 'keys/cosign.pub' }, 1)).toBe('keys/cosign.pub');
    expect(signatureKeyName({ key: ecdsa.publicKeyPem }, 2)).toBe('keys[2]');
  });
});

describe('evaluateSignature', () => {
  const cases: {
    name: string;
    signatures: SignatureCandidate[];
    keys: { name: string; pem: string }[];
    status: 'pass' | 'fail';
    reasons: (string | RegExp)[];
  }[] = [
    {
      name: 'ECDSA signature from the .sig tag',
      signatures: [signature(tagSource, ecdsa.privateKeyPem)],
      keys: [prod],
      status: 'pass',
      reasons: [`signed by key prod-signer (${tagSource})`],
    },
    {
      name: 'Ed25519 signature from a referrer',
      signatures: [signature('referrer sha256:1234', ed25519.privateKeyPem)],
      keys: [prod, edKey],
      status: 'pass',
      reasons: ['signed by key ed-signer (referrer sha256:1234)'],
    },
    {
      name: 'one good signature among bad ones',
      signatures: [
        signature(tagSource, stranger.privateKeyPem),
        signature('referrer sha256:1234', ecdsa.privateKeyPem, otherDigest),
        signature('referrer sha256:5678', ecdsa.privateKeyPem),
      ],
      keys: [prod],
      status: 'pass',
      reasons: ['signed by key prod-signer (referrer sha256:5678)'],
    },
    {
      name: 'no signature at all',
      signatures: [],
      keys: [prod],
      status: 'fail',
      reasons: [
        `no cosign signature found for ${digest} (looked for tag ${cosignTag(digest)} and referrers with artifactType application/vnd.dev.cosign.artifact.sig.v1+json)`,
      ],
    },
    {
      name: 'signed by an unknown key',
      signatures: [signature(tagSource, stranger.privateKeyPem)],
      keys: [prod, edKey],
      status: 'fail',
      reasons: [`${tagSource}: no configured key verifies the signature (tried prod-signer, ed-signer)`],
    },
    {
      name: 'signature of another image copied over',
      signatures: [signature(tagSource, ecdsa.privateKeyPem, otherDigest)],
      keys: [prod],
      status: 'fail',
      reasons: [
        `${tagSource}: signed by key prod-signer, but the payload is for ${otherDigest} not ${digest}`,
      ],
    },
    {
      name: 'tampered payload and broken annotation',
      signatures: [
        { ...signature(tagSource, ecdsa.privateKeyPem), payload: cosignPayload(digest, 'evil.example/app') },
        { ...signature('referrer sha256:1234', ecdsa.privateKeyPem), signatureB64: '%%%' },
        { ...signature('referrer sha256:5678', ecdsa.privateKeyPem), payload: Buffer.from('garbage') },
      ],
      keys: [prod],
      status: 'fail',
      reasons: [
        /^tag sha256-[0-9a-f]{64}\.sig: no configured key verifies the signature/,
        'referrer sha256:1234: signature annotation is not valid base64',
        'referrer sha256:5678: malformed payload: not JSON',
      ],
    },
    {
      name: 'many rejected signatures are capped at 5 reasons',
      signatures: Array.from({ length: 8 }, (_, i) =>
        signature(`referrer sha256:${i}`, stranger.privateKeyPem),
      ),
      keys: [prod],
      status: 'fail',
      reasons: [
        /^referrer sha256:0: /,
        /^referrer sha256:1: /,
        /^referrer sha256:2: /,
        /^referrer sha256:3: /,
        '… and 4 more signatures rejected',
      ],
    },
  ];

  it.each(cases)('$name → $status', ({ signatures, keys, status, reasons }) => {
    const result = evaluateSignature({ digest, signatures, publicKeys: keys });
    expect(result.gate).toBe('signature');
    expect(result.status).toBe(status);
    expect(result.reasons).toHaveLength(reasons.length);
    reasons.forEach((r, i) => {
      if (typeof r === 'string') expect(result.reasons[i]).toBe(r);
      else expect(result.reasons[i]).toMatch(r);
    });
  });

  it.each([
    { name: 'not PEM', pem: 'not a key', message: 'signature key "backup" is not a PEM public key' },
    { name: 'a private key', pem: ecdsa.privateKeyPem, message: /signature key "backup" is a private key/ },
  ])('throws CONFIG_INVALID naming the key when it is $name, even without signatures', ({ pem, message }) => {
    for (const signatures of [[], [signature(tagSource, ecdsa.privateKeyPem)]]) {
      let error: unknown;
      try {
        evaluateSignature({ digest, signatures, publicKeys: [prod, { name: 'backup', pem }] });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(GantryError);
      expect((error as GantryError).code).toBe('CONFIG_INVALID');
      expect((error as GantryError).message).toMatch(message);
    }
  });

  it('passes on a signature manifest read the way a registry serves it (tag and referrer forms)', () => {
    for (const subject of [undefined, image.descriptor]) {
      const sig = makeCosignSignature({
        digest,
        reference,
        privateKeyPem: [stranger.privateKeyPem, ed25519.privateKeyPem],
        ...(subject && { subject }),
      });
      const source = subject ? `referrer ${sig.digest}` : tagSource;
      const manifest = parseManifest(sig.manifest, sig.digest as Digest, sig.mediaType);
      const signatures = signatureLayers(manifest).map((l) => ({
        source,
        payload: sig.blobs.get(l.descriptor.digest)!,
        signatureB64: l.signature,
      }));
      expect(evaluateSignature({ digest, signatures, publicKeys: [edKey] })).toEqual({
        gate: 'signature',
        status: 'pass',
        reasons: [`signed by key ed-signer (${source})`],
      });
    }
  });
});
