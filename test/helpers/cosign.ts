/**
 * Cosign signatures made with node:crypto, byte for byte as `cosign sign --key` (v1/v2, and v3
 * with `--new-bundle-format=false`) writes them, since the cosign binary is not available in tests:
 * the simple signing payload as Go marshals it, the signature over its exact bytes (ECDSA P-256 /
 * SHA-256 in DER, or Ed25519), the image-config-shaped config blob and the signature manifest.
 * Kept independent of Gantry's code, like the other generators.
 */
import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { TestMediaTypes, sha256Digest, type Descriptor, type TestImage } from './images.js';

/** Cosign's names (duplicated from the spec on purpose: the helper must not trust the code under test). */
export const TestCosign = Object.freeze({
  signatureAnnotation: 'dev.cosignproject.cosign/signature',
  simpleSigningMediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
  sigArtifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
  signatureType: 'cosign container image signature',
});

/** A key pair in PEM (SPKI public key, PKCS#8 private key). */
export interface CosignKeyPair {
  publicKeyPem: string;
  privateKeyPem: string;
}

/** A fresh ECDSA P-256 (what `cosign generate-key-pair` makes) or Ed25519 key pair. */
export function makeCosignKeyPair(type: 'ecdsa' | 'ed25519' = 'ecdsa'): CosignKeyPair {
  const { publicKey, privateKey } =
    type === 'ecdsa'
      ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      : generateKeyPairSync('ed25519');
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** The simple signing payload cosign signs, as Go's `json.Marshal` writes it (compact, sorted `optional`). */
export function cosignPayload(
  digest: string,
  reference: string,
  optional: Record<string, string> | null = null,
): Buffer {
  const sorted =
    optional && Object.fromEntries(Object.entries(optional).sort(([a], [b]) => (a < b ? -1 : 1)));
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': reference },
        image: { 'docker-manifest-digest': digest },
        type: TestCosign.signatureType,
      },
      optional: sorted,
    }),
  );
}

/** Signs `payload` as cosign does: ECDSA with SHA-256 (DER signature) or Ed25519; base64. */
export function cosignSign(payload: Buffer, privateKeyPem: string): string {
  const key = createPrivateKey(privateKeyPem);
  return sign(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', payload, key).toString('base64');
}

/** Options of {@link makeCosignSignature}. */
export interface MakeCosignSignatureOptions {
  /** The signed image's digest (`critical.image.docker-manifest-digest`). */
  digest: string;
  /** `critical.identity.docker-reference`, e.g. `registry.example/app` (cosign ≤ v2 omits the tag). */
  reference: string;
  /** The signing key; several keys give one layer each (as signing again with `cosign sign` appends). */
  privateKeyPem: string | readonly string[];
  /**
   * The signed manifest's descriptor: makes the manifest an OCI 1.1 referrer, as
   * `cosign sign --registry-referrers-mode=oci-1-1` does (config media type = the artifact type).
   */
  subject?: Pick<Descriptor, 'mediaType' | 'digest' | 'size'>;
  /** `optional` claims (`cosign sign -a k=v`); default `null`. */
  optional?: Record<string, string>;
  /** Extra layer annotations, e.g. `dev.sigstore.cosign/bundle` (sorted, as Go writes maps). */
  annotations?: Record<string, string>;
  /** `created` of the config blob (cosign writes the signing time; default the zero time). */
  created?: string;
  /** Payload bytes to use instead of the generated one (for tampering / odd payload tests). */
  payload?: Buffer;
}

/** A cosign signature manifest with its blobs, plus what was signed. */
export interface CosignSignatureImage extends TestImage {
  /** The payload blob. */
  payload: Buffer;
  /** The signature annotation of each layer, in layer order. */
  signatures: string[];
  /** The first layer's signature. */
  signatureB64: string;
}

/**
 * A cosign signature manifest for `digest`: config blob shaped like cosign's (an image config with
 * empty architecture / os and the payload as its only diff_id), one simple signing layer per key
 * carrying the base64 signature annotation, and — with `subject` — a `subject` making it a referrer.
 * Push it under {@link cosignTag} (tag fallback) or by digest (referrer).
 */
export function makeCosignSignature(options: MakeCosignSignatureOptions): CosignSignatureImage {
  const payload = options.payload ?? cosignPayload(options.digest, options.reference, options.optional);
  const payloadDigest = sha256Digest(payload);
  const keys =
    typeof options.privateKeyPem === 'string' ? [options.privateKeyPem] : [...options.privateKeyPem];
  if (keys.length === 0) throw new Error('makeCosignSignature: at least one private key is needed');
  const signatures = keys.map((pem) => cosignSign(payload, pem));
  const extra = Object.entries(options.annotations ?? {});
  const layers: Descriptor[] = signatures.map((sig) => ({
    mediaType: TestCosign.simpleSigningMediaType,
    size: payload.length,
    digest: payloadDigest,
    annotations: Object.fromEntries(
      [[TestCosign.signatureAnnotation, sig] as [string, string], ...extra].sort(([a], [b]) =>
        a < b ? -1 : 1,
      ),
    ),
  }));
  const config = Buffer.from(
    JSON.stringify({
      architecture: '',
      created: options.created ?? '0001-01-01T00:00:00Z',
      history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      config: {},
    }),
  );
  const configMediaType = options.subject ? TestCosign.sigArtifactType : TestMediaTypes.ociConfig;
  const subject = options.subject && {
    mediaType: options.subject.mediaType,
    size: options.subject.size,
    digest: options.subject.digest,
  };
  const mediaType = TestMediaTypes.ociManifest;
  // Field order as go-containerregistry's v1.Manifest / v1.Descriptor marshal.
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: configMediaType, size: config.length, digest: sha256Digest(config) },
      layers,
      ...(subject && { subject }),
    }),
  );
  const digest = sha256Digest(manifest);
  return {
    manifest,
    mediaType,
    digest,
    size: manifest.length,
    config,
    configDigest: sha256Digest(config),
    layers,
    blobs: new Map([
      [sha256Digest(config), config],
      [payloadDigest, payload],
    ]),
    ...(subject && { subject, artifactType: TestCosign.sigArtifactType }),
    descriptor: {
      mediaType,
      digest,
      size: manifest.length,
      ...(subject && { artifactType: TestCosign.sigArtifactType }),
    },
    payload,
    signatures,
    signatureB64: signatures[0] ?? '',
  };
}

/** The tag cosign's tag fallback uses for the signatures of `digest`: `sha256-<hex>.sig`. */
export function cosignTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}
