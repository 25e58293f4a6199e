import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GantryError, digestOf, parseDigest, type Digest } from '../../core/index.js';
import { parseManifest } from '../../registry/index.js';
import {
  cosignPayload,
  cosignSign,
  makeCosignKeyPair,
  makeCosignSignature,
} from '../../../test/helpers/cosign.js';
import { makeImage, makeIndex } from '../../../test/helpers/images.js';
import {
  COSIGN_SIGNATURE_ANNOTATION,
  COSIGN_SIG_ARTIFACT_TYPE,
  COSIGN_SIMPLESIGNING_MEDIA_TYPE,
  cosignSignatureTag,
  loadCosignPublicKeys,
  signatureLayers,
  verifyCosignSignature,
} from './cosign.js';

const ecdsa = makeCosignKeyPair('ecdsa');
const ed25519 = makeCosignKeyPair('ed25519');
const stranger = makeCosignKeyPair('ecdsa');
const digest = digestOf('the candidate image');
const otherDigest = digestOf('another image');
const reference = 'registry.example/team/app';
const payload = cosignPayload(digest, reference);

const prod = { name: 'prod-signer', pem: ecdsa.publicKeyPem };
const edKey = { name: 'ed-signer', pem: ed25519.publicKeyPem };
const strangerKey = { name: 'stranger', pem: stranger.publicKeyPem };

describe('cosignSignatureTag', () => {
  it('is the digest with - instead of : and a .sig suffix', () => {
    const d = parseDigest(`sha256:${'ab'.repeat(32)}`);
    expect(cosignSignatureTag(d)).toBe(`sha256-${'ab'.repeat(32)}.sig`);
  });
});

describe('verifyCosignSignature', () => {
  const signedPayload = (p: Buffer, pem = ecdsa.privateKeyPem) => ({
    payload: p,
    signatureB64: cosignSign(p, pem),
  });
  const p1363 = sign('sha256', payload, { key: ecdsa.privateKeyPem, dsaEncoding: 'ieee-p1363' }).toString(
    'base64',
  );
  const cases: {
    name: string;
    payload: Buffer;
    signatureB64: string;
    keys: { name: string; pem: string }[];
    verified: boolean;
    key?: string;
    reason: string | RegExp;
  }[] = [
    {
      name: 'ECDSA P-256 signature verifies',
      ...signedPayload(payload),
      keys: [prod],
      verified: true,
      key: 'prod-signer',
      reason: 'signed by key prod-signer',
    },
    {
      name: 'Ed25519 signature verifies',
      ...signedPayload(payload, ed25519.privateKeyPem),
      keys: [edKey],
      verified: true,
      key: 'ed-signer',
      reason: 'signed by key ed-signer',
    },
    {
      name: 'several keys, one matching',
      ...signedPayload(payload, ed25519.privateKeyPem),
      keys: [strangerKey, prod, edKey],
      verified: true,
      key: 'ed-signer',
      reason: 'signed by key ed-signer',
    },
    {
      name: 'wrong key',
      ...signedPayload(payload, stranger.privateKeyPem),
      keys: [prod, edKey],
      verified: false,
      reason: 'no configured key verifies the signature (tried prod-signer, ed-signer)',
    },
    {
      name: 'tampered payload',
      payload: cosignPayload(digest, 'registry.example/evil/app'),
      signatureB64: cosignSign(payload, ecdsa.privateKeyPem),
      keys: [prod],
      verified: false,
      reason: /^no configured key verifies the signature/,
    },
    {
      name: 'valid signature for another digest (copied .sig)',
      ...signedPayload(cosignPayload(otherDigest, reference)),
      keys: [prod],
      verified: false,
      key: 'prod-signer',
      reason: `signed by key prod-signer, but the payload is for ${otherDigest} not ${digest}`,
    },
    {
      name: 'payload of another type',
      ...signedPayload(
        Buffer.from(
          JSON.stringify({
            critical: {
              identity: { 'docker-reference': reference },
              image: { 'docker-manifest-digest': digest },
              type: 'atomic container signature',
            },
            optional: null,
          }),
        ),
      ),
      keys: [prod],
      verified: false,
      key: 'prod-signer',
      reason:
        'signed by key prod-signer, but the payload type is "atomic container signature", not "cosign container image signature"',
    },
    {
      name: 'Go-style case-insensitive keys (as in the spec example) are read',
      ...signedPayload(
        Buffer.from(
          `{"Critical":{"identity":{"docker-reference":"${reference}"},"image":{"Docker-manifest-digest":"${digest}"},"type":"cosign container image signature"}}`,
        ),
      ),
      keys: [prod],
      verified: true,
      key: 'prod-signer',
      reason: 'signed by key prod-signer',
    },
    {
      name: 'base64 wrapped over lines',
      payload,
      signatureB64: cosignSign(payload, ecdsa.privateKeyPem).replace(/(.{20})/g, '$1\n'),
      keys: [prod],
      verified: true,
      key: 'prod-signer',
      reason: 'signed by key prod-signer',
    },
    {
      name: 'ECDSA signature in IEEE P1363 (r||s) encoding is not what cosign writes',
      payload,
      signatureB64: p1363,
      keys: [prod],
      verified: false,
      reason: /^no configured key verifies the signature/,
    },
    {
      name: 'malformed base64',
      payload,
      signatureB64: 'not base64!',
      keys: [prod],
      verified: false,
      reason: 'signature annotation is not valid base64',
    },
    {
      name: 'unpadded base64',
      payload,
      signatureB64: 'YWJj ZA',
      keys: [prod],
      verified: false,
      reason: 'signature annotation is not valid base64',
    },
    {
      name: 'empty signature',
      payload,
      signatureB64: '',
      keys: [prod],
      verified: false,
      reason: 'signature annotation is not valid base64',
    },
    {
      name: 'payload is not JSON',
      ...signedPayload(Buffer.from('{"critical":')),
      keys: [prod],
      verified: false,
      reason: 'malformed payload: not JSON',
    },
    {
      name: 'payload without critical',
      ...signedPayload(Buffer.from('{"optional":{}}')),
      keys: [prod],
      verified: false,
      reason: 'malformed payload: critical is missing',
    },
    {
      name: 'payload without digest',
      ...signedPayload(Buffer.from('{"critical":{"image":{},"type":"cosign container image signature"}}')),
      keys: [prod],
      verified: false,
      reason: 'malformed payload: critical.image.docker-manifest-digest is missing',
    },
    {
      name: 'no keys',
      ...signedPayload(payload),
      keys: [],
      verified: false,
      reason: 'no public keys configured',
    },
  ];

  it.each(cases)('$name', (c) => {
    const result = verifyCosignSignature({
      payload: c.payload,
      signatureB64: c.signatureB64,
      expectedDigest: digest,
      publicKeys: c.keys,
    });
    expect(result.verified).toBe(c.verified);
    expect(result.key).toBe(c.key);
    if (typeof c.reason === 'string') expect(result.reason).toBe(c.reason);
    else expect(result.reason).toMatch(c.reason);
  });

  it('reports the signed identity', () => {
    const result = verifyCosignSignature({
      ...signedPayload(payload),
      expectedDigest: digest,
      publicKeys: [prod],
    });
    expect(result.identity).toBe(reference);
  });

  it('accepts keys parsed beforehand', () => {
    const result = verifyCosignSignature({
      ...signedPayload(payload),
      expectedDigest: digest,
      publicKeys: loadCosignPublicKeys([strangerKey, prod]),
    });
    expect(result).toMatchObject({ verified: true, key: 'prod-signer' });
  });
});

describe('loadCosignPublicKeys', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
    type: 'spki',
    format: 'pem',
  });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({
    type: 'spki',
    format: 'pem',
  });
  const cases = [
    { name: 'not PEM', pem: 'hello', message: 'signature key "ops" is not a PEM public key' },
    {
      name: 'truncated PEM',
      pem: ecdsa.publicKeyPem.slice(0, 60),
      message: 'signature key "ops" is not a PEM public key',
    },
    { name: 'private key', pem: ecdsa.privateKeyPem, message: /signature key "ops" is a private key/ },
    {
      name: 'cosign encrypted private key',
      pem: '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n',
      message: /signature key "ops" is a private key/,
    },
    {
      name: 'RSA key',
      pem: rsa.toString(),
      message: 'signature key "ops": only ECDSA P-256 and Ed25519 public keys are supported (got rsa)',
    },
    {
      name: 'P-384 key',
      pem: p384.toString(),
      message:
        'signature key "ops": only ECDSA P-256 and Ed25519 public keys are supported (got ec secp384r1)',
    },
  ];

  it.each(cases)('refuses a $name with CONFIG_INVALID naming the key', ({ pem, message }) => {
    let error: unknown;
    try {
      loadCosignPublicKeys([prod, { name: 'ops', pem }]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(GantryError);
    expect((error as GantryError).code).toBe('CONFIG_INVALID');
    expect((error as GantryError).details.key).toBe('ops');
    if (typeof message === 'string') expect((error as GantryError).message).toBe(message);
    else expect((error as GantryError).message).toMatch(message);
  });

  it('also refuses bad PEMs passed straight to verifyCosignSignature', () => {
    expect(() =>
      verifyCosignSignature({
        payload,
        signatureB64: cosignSign(payload, ecdsa.privateKeyPem),
        expectedDigest: digest,
        publicKeys: [{ name: 'broken', pem: 'nope' }],
      }),
    ).toThrow(/signature key "broken" is not a PEM public key/);
  });

  it('loads ECDSA P-256 and Ed25519 keys', () => {
    expect(loadCosignPublicKeys([prod, edKey]).map((k) => [k.name, k.key.asymmetricKeyType])).toEqual([
      ['prod-signer', 'ec'],
      ['ed-signer', 'ed25519'],
    ]);
  });
});

describe('signatureLayers', () => {
  const parse = (image: { manifest: Buffer; digest: string; mediaType: string }) =>
    parseManifest(image.manifest, image.digest as Digest, image.mediaType);

  it('finds the signature layer of a tag-stored cosign signature and its payload blob', () => {
    const sig = makeCosignSignature({ digest, reference, privateKeyPem: ecdsa.privateKeyPem });
    const layers = signatureLayers(parse(sig));
    expect(layers).toHaveLength(1);
    const [layer] = layers;
    expect(layer?.signature).toBe(sig.signatureB64);
    expect(layer?.descriptor.mediaType).toBe(COSIGN_SIMPLESIGNING_MEDIA_TYPE);
    const blob = sig.blobs.get(layer!.descriptor.digest)!;
    expect(
      verifyCosignSignature({
        payload: blob,
        signatureB64: layer!.signature,
        expectedDigest: digest,
        publicKeys: [prod],
      }),
    ).toMatchObject({ verified: true, key: 'prod-signer' });
  });

  it('returns one entry per key when signed several times', () => {
    const sig = makeCosignSignature({
      digest,
      reference,
      privateKeyPem: [stranger.privateKeyPem, ed25519.privateKeyPem],
    });
    const layers = signatureLayers(parse(sig));
    expect(layers.map((l) => l.signature)).toEqual(sig.signatures);
    expect(
      layers.map(
        (l) =>
          verifyCosignSignature({
            payload: sig.payload,
            signatureB64: l.signature,
            expectedDigest: digest,
            publicKeys: [edKey],
          }).verified,
      ),
    ).toEqual([false, true]);
  });

  it('reads an OCI 1.1 referrer signature (config media type = the artifact type, subject set)', () => {
    const image = makeImage({ seed: 'signed' });
    const sig = makeCosignSignature({
      digest: image.digest,
      reference,
      privateKeyPem: ecdsa.privateKeyPem,
      subject: image.descriptor,
      annotations: { 'dev.sigstore.cosign/bundle': '{"ignored":true}' },
    });
    const parsed = parse(sig);
    expect(parsed.kind === 'image' && parsed.body.config.mediaType).toBe(COSIGN_SIG_ARTIFACT_TYPE);
    expect(parsed.body.subject?.digest).toBe(image.digest);
    expect(signatureLayers(parsed).map((l) => l.signature)).toEqual([sig.signatureB64]);
  });

  it('ignores indexes, layers without the annotation and non simple signing layers (cosign attestations)', () => {
    expect(signatureLayers(parse(makeIndex([makeImage()])))).toEqual([]);
    expect(signatureLayers(parse(makeImage()))).toEqual([]);
    const envelope = Buffer.from('{}');
    const att = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: 2, digest: digestOf('{}') },
        layers: [
          {
            mediaType: 'application/vnd.dsse.envelope.v1+json',
            size: envelope.length,
            digest: digestOf(envelope),
            annotations: {
              [COSIGN_SIGNATURE_ANNOTATION]: '',
              predicateType: 'https://slsa.dev/provenance/v0.2',
            },
          },
        ],
      }),
    );
    expect(signatureLayers(parseManifest(att, digestOf(att)))).toEqual([]);
  });
});

/**
 * Signatures made by the real cosign binary, from public sources, prove the verifier and the test
 * helper agree with cosign byte for byte.
 */
describe('real cosign signatures', () => {
  it('verifies an ECDSA signature made by cosign (sigstore-rs test vector)', () => {
    // sigstore/sigstore-rs, src/cosign/signature_layers.rs, build_correct_signature_layer_without_bundle:
    // a cosign signature of registry-testing.svc.lan/busybox with its public key. The payload is the
    // JSON those tests build, serialized compactly as cosign (Go) writes it.
    const publicKey = [
      '-----BEGIN PUBLIC KEY-----',
      'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAENptdY/l3nB0yqkXLBWkZWQwo6+cu',
      'OSWS1X9vPavpiQOoTTGC0xX57OojUadxF1cdQmrsiReWg2Wn4FneJfa8xw==',
      '-----END PUBLIC KEY-----',
    ].join('\n');
    const signatureB64 =
      'MEUCIQD6q/COgzOyW0YH1Dk+CCYSt4uAhm3FDHUwvPI55zwnlwIgE0ZK58ZOWpZw8YVmBapJhBqCfdPekIknimuO0xH8Jh8=';
    const signed = parseDigest('sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b');
    const realPayload = cosignPayload(signed, 'registry-testing.svc.lan/busybox');
    const keys = [strangerKey, { name: 'kubewarden-test', pem: publicKey }];

    expect(
      verifyCosignSignature({ payload: realPayload, signatureB64, expectedDigest: signed, publicKeys: keys }),
    ).toEqual({
      verified: true,
      key: 'kubewarden-test',
      identity: 'registry-testing.svc.lan/busybox',
      reason: 'signed by key kubewarden-test',
    });
    expect(
      verifyCosignSignature({ payload: realPayload, signatureB64, expectedDigest: digest, publicKeys: keys })
        .reason,
    ).toBe(`signed by key kubewarden-test, but the payload is for ${signed} not ${digest}`);
    const tampered = Buffer.from(realPayload.toString().replace('busybox', 'busybax'));
    expect(
      verifyCosignSignature({ payload: tampered, signatureB64, expectedDigest: signed, publicKeys: keys })
        .verified,
    ).toBe(false);
  });

  it('reads the signature manifest cosign v1.13.1 pushed to Docker Hub, and the helper writes the same bytes', () => {
    // From a `cosign sign --key cosign.key chihjenhuang/cosign1@sha256:4c1c… -d` HTTP trace
    // (github.com/jeffhuang4704/just-notes, cosign/cosign-traffic.md): the manifest PUT to
    // sha256-4c1c….sig (Docker-Content-Digest sha256:7ebe…) and its config blob. The public key is
    // not published, so only the format is checked here.
    const signedDigest = parseDigest(
      'sha256:4c1c50d0ffc614f90b93b07d778028dc765548e823f676fb027f61d281ac380d',
    );
    const realSignature =
      'MEYCIQCPH7NJAIfrB6BZN91dV0o7l/i11muXrvrAh100jDMMhAIhAPsLH0oXb2OPITXRpWBMUd3vHtz5Ks5pql2Hr6t/IJXw';
    const realManifest = Buffer.from(
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":247,"digest":"sha256:85ad8e17d3d7c00664855c638832bd99f32d42542c2d587851410a45a7f60b95"},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":252,"digest":"sha256:b671489ededd1a180bd87235bba00fd83354f9c7d13b71d9f8b66a8e52965ebc","annotations":{"dev.cosignproject.cosign/signature":"' +
        realSignature +
        '"}}]}',
    );
    const manifestDigest = parseDigest(
      'sha256:7ebe8964225fa4619b53aa35416ef0246c037e36ddf81776b21b15e1dda2262b',
    );
    expect(digestOf(realManifest)).toBe(manifestDigest);
    expect(cosignSignatureTag(signedDigest)).toBe(
      'sha256-4c1c50d0ffc614f90b93b07d778028dc765548e823f676fb027f61d281ac380d.sig',
    );

    const layers = signatureLayers(
      parseManifest(realManifest, manifestDigest, 'application/vnd.oci.image.manifest.v1+json'),
    );
    expect(layers.map((l) => l.signature)).toEqual([realSignature]);

    // The payload cosign signed is exactly what the helper generates (same digest and size).
    const realPayload = cosignPayload(signedDigest, 'index.docker.io/chihjenhuang/cosign1');
    expect(digestOf(realPayload)).toBe(layers[0]?.descriptor.digest);
    expect(realPayload.length).toBe(layers[0]?.descriptor.size);

    // With cosign's timestamp and signature, the helper reproduces the config and manifest bytes.
    const sig = makeCosignSignature({
      digest: signedDigest,
      reference: 'index.docker.io/chihjenhuang/cosign1',
      privateKeyPem: ecdsa.privateKeyPem,
      created: '2023-02-17T09:25:33.91047962-08:00',
    });
    expect(sig.configDigest).toBe('sha256:85ad8e17d3d7c00664855c638832bd99f32d42542c2d587851410a45a7f60b95');
    expect(sig.manifest.toString().replace(sig.signatureB64, realSignature)).toBe(realManifest.toString());
  });
});
