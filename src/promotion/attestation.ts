/**
 * Promotion attestations: an in-toto Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md)
 * wrapped in a DSSE envelope (https://github.com/secure-systems-lab/dsse/blob/master/envelope.md),
 * signed with ECDSA P-256 or Ed25519 when a key is configured, and stored as an OCI artifact
 * whose `subject` is the promoted digest.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { GantryError, MediaTypes, digestHex, digestOf, type Digest } from '../core/index.js';

/** The in-toto predicate type of a Gantry promotion. */
export const PROMOTION_PREDICATE = 'https://gantry.dev/attestations/promotion/v1';
/** `artifactType` of the OCI artifact holding a promotion attestation. */
export const PROMOTION_ARTIFACT_TYPE = 'application/vnd.dev.gantry.promotion.v1+json';
/** Media type of the DSSE envelope layer. */
export const DSSE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';
/** DSSE payload type of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** Annotations Gantry puts on the artifact manifest so history needs no envelope downloads. */
export const Annotations = Object.freeze({
  env: 'dev.gantry.promotion.environment',
  app: 'dev.gantry.promotion.application',
  version: 'dev.gantry.promotion.version',
  kind: 'dev.gantry.promotion.kind',
  actor: 'dev.gantry.promotion.actor',
  revision: 'dev.gantry.promotion.revision',
  created: 'org.opencontainers.image.created',
});

/** A gate result as recorded. */
export interface RecordedGate {
  readonly gate: string;
  readonly status: 'pass' | 'fail' | 'pending' | 'overridden';
  readonly reasons: readonly string[];
}

/** What a promotion attestation says. */
export interface PromotionPredicate {
  readonly kind: 'promotion' | 'rollback';
  readonly application: string;
  readonly version?: string;
  readonly revision?: string;
  readonly digest: Digest;
  readonly from: { readonly environment: string; readonly repository: string } | null;
  readonly to: { readonly environment: string; readonly repository: string };
  readonly tags: readonly string[];
  readonly time: string;
  readonly actor: string;
  readonly gates: readonly RecordedGate[];
  readonly approvals: readonly { readonly approver: string; readonly time: string }[];
  readonly override?: { readonly reason: string };
  /** For rollbacks: the digest the environment pointed at before. */
  readonly previousDigest?: Digest;
}

/** An in-toto statement about one digest. */
export interface Statement {
  readonly _type: 'https://in-toto.io/Statement/v1';
  readonly subject: readonly { readonly name: string; readonly digest: Readonly<Record<string, string>> }[];
  readonly predicateType: string;
  readonly predicate: PromotionPredicate;
}

/** A DSSE envelope. */
export interface Envelope {
  readonly payloadType: string;
  readonly payload: string;
  readonly signatures: readonly { readonly keyid: string; readonly sig: string }[];
}

/** A signing key (private) loaded from PEM. */
export interface Signer {
  readonly keyid: string;
  readonly key: KeyObject;
}

/** Loads a PEM private key (ECDSA P-256 or Ed25519); throws `USAGE_INVALID` naming where it came from. */
export function loadSigner(pem: string, origin: string): Signer {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new GantryError('USAGE_INVALID', `${origin} is not a PEM private key`);
  }
  const type = key.asymmetricKeyType;
  if (type !== 'ed25519' && !(type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1')) {
    throw new GantryError(
      'USAGE_INVALID',
      `${origin}: only ECDSA P-256 and Ed25519 keys are supported (got ${type ?? 'unknown'})`,
    );
  }
  return { keyid: keyId(createPublicKey(key)), key };
}

/** The key id: sha256 of the DER SubjectPublicKeyInfo, hex. */
export function keyId(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** DSSE pre-authentication encoding. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType);
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `),
    type,
    Buffer.from(` ${payload.length} `),
    payload,
  ]);
}

/** Builds the statement for a promotion of `predicate.digest` into `subjectName` (the repository). */
export function statementFor(subjectName: string, predicate: PromotionPredicate): Statement {
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: subjectName, digest: { sha256: digestHex(predicate.digest) } }],
    predicateType: PROMOTION_PREDICATE,
    predicate,
  };
}

/** Wraps a statement in a DSSE envelope, signed when a signer is given. */
export function envelope(statement: object, signer?: Signer): Envelope {
  const payload = Buffer.from(JSON.stringify(statement));
  const signatures = signer
    ? [
        {
          keyid: signer.keyid,
          sig: sign(
            signer.key.asymmetricKeyType === 'ed25519' ? null : 'sha256',
            pae(IN_TOTO_PAYLOAD_TYPE, payload),
            signer.key,
          ).toString('base64'),
        },
      ]
    : [];
  return { payloadType: IN_TOTO_PAYLOAD_TYPE, payload: payload.toString('base64'), signatures };
}

/** The result of checking an envelope. */
export interface EnvelopeCheck {
  readonly statement: Statement;
  /** `verified` when a signature checks against one of the keys; `unsigned`; or `invalid`. */
  readonly signature: 'verified' | 'unsigned' | 'invalid' | 'unknown-key';
  readonly keyid?: string;
}

/** Decodes an envelope and checks its signature against `publicKeys` (PEM). Throws `ATTESTATION_INVALID` when malformed. */
export function openEnvelope(bytes: Buffer, publicKeys: readonly string[] = []): EnvelopeCheck {
  const opened = openDsse(bytes, publicKeys, 'promotion attestation');
  const statement = opened.statement as Statement;
  if (statement.predicateType !== PROMOTION_PREDICATE || typeof statement.predicate?.digest !== 'string') {
    throw new GantryError(
      'ATTESTATION_INVALID',
      'promotion attestation is malformed (not a promotion statement)',
    );
  }
  return {
    statement,
    signature: opened.signature,
    ...(opened.keyid !== undefined && { keyid: opened.keyid }),
  };
}

/** A DSSE envelope opened: its in-toto statement and which trusted key (by index) signed it. */
export interface OpenedDsse {
  readonly statement: { readonly predicateType?: unknown; readonly predicate?: unknown };
  readonly signature: 'verified' | 'unsigned' | 'invalid' | 'unknown-key';
  readonly keyid?: string;
  /** Index in `publicKeys` of the key that verified the signature. */
  readonly keyIndex?: number;
}

/** Decodes any in-toto DSSE envelope and checks its signatures against `publicKeys` (PEM). */
export function openDsse(bytes: Buffer, publicKeys: readonly string[], what: string): OpenedDsse {
  let env: Envelope;
  let statement: OpenedDsse['statement'];
  try {
    env = JSON.parse(bytes.toString('utf8')) as Envelope;
    if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE || typeof env.payload !== 'string')
      throw new Error('not in-toto');
    statement = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as OpenedDsse['statement'];
    if (typeof statement !== 'object' || statement === null) throw new Error('no statement');
  } catch (err) {
    throw new GantryError('ATTESTATION_INVALID', `${what} is malformed (${(err as Error).message})`);
  }
  const raw: unknown = env.signatures;
  const sigs = (Array.isArray(raw) ? (raw as unknown[]) : []).filter(
    (x): x is { keyid: string; sig: string } =>
      typeof x === 'object' &&
      x !== null &&
      typeof (x as { sig?: unknown }).sig === 'string' &&
      typeof (x as { keyid?: unknown }).keyid === 'string',
  );
  if (sigs.length === 0) return { statement, signature: 'unsigned' };
  const payload = pae(env.payloadType, Buffer.from(env.payload, 'base64'));
  const keys = publicKeys.map((pem) => createPublicKey(pem));
  for (const s of sigs) {
    // keyid is a hint: an empty one means "try every trusted key".
    const index = s.keyid
      ? keys.findIndex((k) => keyId(k) === s.keyid)
      : keys.findIndex((k) => verifies(k, payload, s.sig));
    const key = keys[index];
    if (!key) continue;
    const ok = verifies(key, payload, s.sig);
    return {
      statement,
      signature: ok ? 'verified' : 'invalid',
      keyid: s.keyid,
      ...(ok && { keyIndex: index }),
    };
  }
  return { statement, signature: 'unknown-key', ...(sigs[0] && { keyid: sigs[0].keyid }) };
}

function verifies(key: KeyObject, payload: Buffer, sig: string): boolean {
  return verify(
    key.asymmetricKeyType === 'ed25519' ? null : 'sha256',
    payload,
    key,
    Buffer.from(sig, 'base64'),
  );
}

/** An OCI artifact ready to push: its manifest and blobs. */
export interface AttestationArtifact {
  readonly manifest: Buffer;
  readonly mediaType: string;
  readonly digest: Digest;
  readonly blobs: ReadonlyMap<Digest, Buffer>;
}

const EMPTY = Buffer.from('{}');

/** Packs an envelope as an OCI 1.1 artifact referring to `subject`. */
export function attestationArtifact(
  env: Envelope,
  subject: { mediaType: string; digest: Digest; size: number },
  predicate: PromotionPredicate,
): AttestationArtifact {
  return attestationArtifactOf(env, subject, PROMOTION_ARTIFACT_TYPE, {
    [Annotations.env]: predicate.to.environment,
    [Annotations.app]: predicate.application,
    [Annotations.kind]: predicate.kind,
    [Annotations.actor]: predicate.actor,
    [Annotations.created]: predicate.time,
    ...(predicate.version !== undefined && { [Annotations.version]: predicate.version }),
    ...(predicate.revision !== undefined && { [Annotations.revision]: predicate.revision }),
  });
}

/** Packs any DSSE envelope as an OCI 1.1 artifact of `artifactType` referring to `subject`. */
export function attestationArtifactOf(
  env: Envelope,
  subject: { mediaType: string; digest: Digest; size: number },
  artifactType: string,
  annotations: Readonly<Record<string, string>>,
): AttestationArtifact {
  return artifactOf(Buffer.from(JSON.stringify(env)), DSSE_MEDIA_TYPE, subject, artifactType, annotations);
}

/**
 * An OCI 1.1 artifact manifest (empty config, one layer holding `content`) referring to
 * `subject`, with its blobs: what `gantry attach` and attestations push.
 */
export function artifactOf(
  content: Buffer,
  contentMediaType: string,
  subject: { mediaType: string; digest: Digest; size: number },
  artifactType: string,
  annotations: Readonly<Record<string, string>>,
  layerAnnotations?: Readonly<Record<string, string>>,
): AttestationArtifact {
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      artifactType,
      config: { mediaType: MediaTypes.ociEmpty, digest: digestOf(EMPTY), size: EMPTY.length },
      layers: [
        {
          mediaType: contentMediaType,
          digest: digestOf(content),
          size: content.length,
          ...(layerAnnotations && { annotations: layerAnnotations }),
        },
      ],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations,
    }),
  );
  return {
    manifest,
    mediaType: MediaTypes.ociManifest,
    digest: digestOf(manifest),
    blobs: new Map([
      [digestOf(EMPTY), EMPTY],
      [digestOf(content), content],
    ]),
  };
}
