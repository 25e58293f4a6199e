/**
 * Cosign signatures in the "simple signing" format
 * (https://github.com/sigstore/cosign/blob/main/specs/SIGNATURE_SPEC.md), checked with configured
 * public keys. Pure: the caller fetches the signature manifests and payload blobs.
 *
 * Where cosign puts them: an OCI image manifest tagged `sha256-<hex>.sig` next to the image
 * (cosign v1/v2 default), or the same manifest pushed with a `subject` as an OCI 1.1 referrer
 * (`cosign sign --registry-referrers-mode=oci-1-1`; cosign sets `config.mediaType` to
 * {@link COSIGN_SIG_ARTIFACT_TYPE}, which registries report as the referrer's `artifactType`).
 * Each layer of that manifest has media type {@link COSIGN_SIMPLESIGNING_MEDIA_TYPE}; its blob is
 * the JSON payload
 * `{"critical":{"identity":{"docker-reference":…},"image":{"docker-manifest-digest":"sha256:…"},"type":"cosign container image signature"},"optional":…}`
 * and its descriptor annotation {@link COSIGN_SIGNATURE_ANNOTATION} is the base64 signature over the
 * exact payload bytes: ECDSA P-256 with SHA-256 in DER (ASN.1) encoding, or Ed25519 over the raw
 * payload.
 *
 * Out of scope: keyless signatures (`dev.sigstore.cosign/certificate` with a Fulcio certificate),
 * Rekor transparency-log bundles (`dev.sigstore.cosign/bundle`) and RFC 3161 timestamps are ignored,
 * never trusted; only the configured public keys count. The Sigstore bundle format that cosign v3
 * writes by default (a referrer with artifactType `application/vnd.dev.sigstore.bundle.v0.3+json`)
 * is not read: sign with `--new-bundle-format=false --use-signing-config=false` under cosign v3.
 * The payload's `docker-reference` identity is reported but not enforced (as `cosign verify` by
 * default), and RSA / P-384 / P-521 keys are refused.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import {
  GantryError,
  digestAlgorithm,
  digestHex,
  type Digest,
  type Descriptor,
  type Manifest,
} from '../../core/index.js';

/** Layer annotation holding the base64 signature of the layer's payload. */
export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** Media type of a cosign signature layer (its blob is the simple signing payload). */
export const COSIGN_SIMPLESIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
/** `artifactType` of a cosign signature stored as an OCI 1.1 referrer. */
export const COSIGN_SIG_ARTIFACT_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';
/** `critical.type` of a cosign container image signature payload. */
export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';

/** A configured public key (PEM, SubjectPublicKeyInfo), named for messages. */
export interface CosignPublicKey {
  readonly name: string;
  readonly pem: string;
}

/** A public key already parsed by {@link loadCosignPublicKeys}. */
export interface CosignVerificationKey {
  readonly name: string;
  readonly key: KeyObject;
}

/** The result of checking one signature. */
export interface CosignVerification {
  /** True when a configured key verifies the signature and the payload is for the expected digest. */
  readonly verified: boolean;
  /** The key that verified the signature (also set when the signature is valid but the claims are not). */
  readonly key?: string;
  /** The payload's `critical.identity.docker-reference`, when it has one. */
  readonly identity?: string;
  /** Why, in words: `signed by key prod-signer`, `payload is for sha256:… not sha256:…`, … */
  readonly reason: string;
}

/** A signature layer of a cosign signature manifest. */
export interface CosignSignatureLayer {
  /** The layer descriptor: fetch the payload blob by its digest. */
  readonly descriptor: Descriptor;
  /** The base64 signature from the {@link COSIGN_SIGNATURE_ANNOTATION} annotation. */
  readonly signature: string;
}

/** The tag cosign stores the signatures of `digest` under: `sha256-<hex>.sig`. */
export function cosignSignatureTag(digest: Digest): string {
  return `${digestAlgorithm(digest)}-${digestHex(digest)}.sig`;
}

/**
 * The signature layers of a cosign signature manifest: simple signing layers that carry the
 * signature annotation, in manifest order. Other layers (and indexes) yield nothing; cosign
 * attestations (`.att`, DSSE layers with an empty signature annotation) are thus not mistaken for
 * signatures.
 */
export function signatureLayers(manifest: Manifest): CosignSignatureLayer[] {
  if (manifest.kind !== 'image') return [];
  const out: CosignSignatureLayer[] = [];
  for (const descriptor of manifest.body.layers) {
    const signature = descriptor.annotations?.[COSIGN_SIGNATURE_ANNOTATION];
    if (descriptor.mediaType === COSIGN_SIMPLESIGNING_MEDIA_TYPE && signature !== undefined) {
      out.push({ descriptor, signature });
    }
  }
  return out;
}

const PRIVATE_KEY_RE = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/**
 * Parses configured public keys. Throws `CONFIG_INVALID` naming the key when one is not a PEM
 * public key, is a private key, or is not ECDSA P-256 / Ed25519.
 */
export function loadCosignPublicKeys(keys: readonly CosignPublicKey[]): CosignVerificationKey[] {
  return keys.map(({ name, pem }) => {
    if (PRIVATE_KEY_RE.test(pem)) {
      throw new GantryError(
        'CONFIG_INVALID',
        `signature key "${name}" is a private key: configure the public key (cosign.pub) instead`,
        { details: { key: name } },
      );
    }
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (err) {
      throw new GantryError('CONFIG_INVALID', `signature key "${name}" is not a PEM public key`, {
        cause: err,
        details: { key: name },
      });
    }
    const type = key.asymmetricKeyType;
    if (type !== 'ed25519' && !(type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1')) {
      const got = type === 'ec' ? `ec ${key.asymmetricKeyDetails?.namedCurve ?? 'unknown curve'}` : type;
      throw new GantryError(
        'CONFIG_INVALID',
        `signature key "${name}": only ECDSA P-256 and Ed25519 public keys are supported (got ${got ?? 'unknown'})`,
        { details: { key: name } },
      );
    }
    return { name, key };
  });
}

/** What {@link verifyCosignSignature} checks. */
export interface VerifyCosignSignatureInput {
  /** The exact payload blob bytes. */
  readonly payload: Buffer;
  /** The {@link COSIGN_SIGNATURE_ANNOTATION} value. */
  readonly signatureB64: string;
  /** The digest the signature must be for. */
  readonly expectedDigest: Digest;
  /** PEM keys (parsed here; `CONFIG_INVALID` when bad) or keys from {@link loadCosignPublicKeys}. */
  readonly publicKeys: readonly (CosignPublicKey | CosignVerificationKey)[];
}

/**
 * Checks one cosign signature: the signature decodes, the payload is a simple signing payload,
 * one of the keys verifies the signature over the payload bytes, the payload type is
 * {@link COSIGN_SIGNATURE_TYPE}, and its `docker-manifest-digest` is `expectedDigest` (so a valid
 * signature copied from another image does not count). Never throws for bad signatures; throws
 * `CONFIG_INVALID` for unusable PEM keys.
 */
export function verifyCosignSignature(input: VerifyCosignSignatureInput): CosignVerification {
  const keys = input.publicKeys.map((k) =>
    'pem' in k ? (loadCosignPublicKeys([k])[0] as CosignVerificationKey) : k,
  );
  const signature = decodeBase64(input.signatureB64);
  if (!signature) return { verified: false, reason: 'signature annotation is not valid base64' };
  const parsed = parsePayload(input.payload);
  if (typeof parsed === 'string') return { verified: false, reason: `malformed payload: ${parsed}` };
  const identity = parsed.identity !== undefined ? { identity: parsed.identity } : {};
  if (keys.length === 0) return { verified: false, ...identity, reason: 'no public keys configured' };
  const signer = keys.find((k) => verifies(k.key, input.payload, signature));
  if (!signer) {
    return {
      verified: false,
      ...identity,
      reason: `no configured key verifies the signature (tried ${keys.map((k) => k.name).join(', ')})`,
    };
  }
  if (parsed.type !== COSIGN_SIGNATURE_TYPE) {
    return {
      verified: false,
      key: signer.name,
      ...identity,
      reason: `signed by key ${signer.name}, but the payload type is ${JSON.stringify(parsed.type)}, not "${COSIGN_SIGNATURE_TYPE}"`,
    };
  }
  if (parsed.digest !== input.expectedDigest) {
    return {
      verified: false,
      key: signer.name,
      ...identity,
      reason: `signed by key ${signer.name}, but the payload is for ${parsed.digest} not ${input.expectedDigest}`,
    };
  }
  return { verified: true, key: signer.name, ...identity, reason: `signed by key ${signer.name}` };
}

function verifies(key: KeyObject, payload: Buffer, signature: Buffer): boolean {
  try {
    // ECDSA: SHA-256 digest, DER-encoded signature (node's default, as cosign writes it).
    return verify(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', payload, key, signature);
  } catch {
    return false;
  }
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict standard base64 (as Go's `base64.StdEncoding`, which skips CR / LF); undefined when invalid or empty. */
function decodeBase64(text: string): Buffer | undefined {
  const clean = text.replace(/[\r\n]/g, '');
  if (clean === '' || !BASE64_RE.test(clean)) return undefined;
  return Buffer.from(clean, 'base64');
}

interface ParsedPayload {
  readonly digest: string;
  readonly type: unknown;
  readonly identity?: string;
}

/**
 * Reads the claims cosign reads. Like Go's `encoding/json` (which cosign uses), object keys match
 * case-insensitively (the spec's own example writes `Docker-manifest-digest`) and the last match wins.
 */
function parsePayload(payload: Buffer): ParsedPayload | string {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  const critical = field(json, 'critical');
  if (!isObject(critical)) return 'critical is missing';
  const digest = field(field(critical, 'image'), 'docker-manifest-digest');
  if (typeof digest !== 'string' || digest === '') return 'critical.image.docker-manifest-digest is missing';
  const reference = field(field(critical, 'identity'), 'docker-reference');
  return {
    digest,
    type: field(critical, 'type'),
    ...(typeof reference === 'string' && reference !== '' && { identity: reference }),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(obj: unknown, name: string): unknown {
  if (!isObject(obj)) return undefined;
  let found: unknown;
  for (const [key, value] of Object.entries(obj)) if (key.toLowerCase() === name) found = value;
  return found;
}
