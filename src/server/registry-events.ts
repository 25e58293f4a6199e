/**
 * Reading registry push notifications: the CNCF distribution notifications envelope
 * (https://distribution.github.io/distribution/about/notifications/), Harbor's default webhook
 * payload (https://goharbor.io/docs/latest/working-with-projects/project-configuration/configure-webhooks/)
 * and a generic `{repository, tag?, digest}`. Pure: a JSON value in, the images pushed out, with
 * how many events were not pushes of an image (pulls, deletes, blobs, untagged manifests such as
 * the platforms of an index or referrers, `sha256-…` referrer fallback tags).
 */
import { z } from 'zod';
import {
  GantryError,
  isDigest,
  isIndexMediaType,
  isImageManifestMediaType,
  isValidTag,
} from '../core/index.js';

/** Where a notification came from, as a candidate's `source` names it. */
export type NotificationSource = 'notification:distribution' | 'notification:harbor' | 'notification:generic';

/** One image pushed, as a notification reports it. */
export interface PushedImage {
  /** Registry host (`registry.example.com:5000`), as the notification spells it; absent when it says none. */
  readonly host?: string;
  /** Repository path without the host (`team/web`). */
  readonly repository: string;
  readonly digest: string;
  readonly tag?: string;
  /** When the registry says it happened (ISO 8601), when it says. */
  readonly at?: string;
}

/** A notification read. */
export interface RegistryNotification {
  readonly source: NotificationSource;
  readonly pushes: readonly PushedImage[];
  /** Events that are not the push of an image. */
  readonly ignored: number;
}

/** The media type of distribution's envelope. */
export const DISTRIBUTION_EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

/** Most events one notification may carry. */
export const MAX_EVENTS = 1000;

const distributionSchema = z.looseObject({
  events: z
    .array(
      z.looseObject({
        action: z.string(),
        timestamp: z.string().optional(),
        target: z
          .looseObject({
            mediaType: z.string().optional(),
            artifactType: z.string().optional(),
            digest: z.string().optional(),
            repository: z.string().optional(),
            url: z.string().optional(),
            tag: z.string().optional(),
          })
          .optional(),
        request: z.looseObject({ host: z.string().optional() }).optional(),
      }),
    )
    .max(MAX_EVENTS),
});

const harborSchema = z.looseObject({
  type: z.string(),
  occur_at: z.number().optional(),
  event_data: z.looseObject({
    resources: z
      .array(
        z.looseObject({
          digest: z.string().optional(),
          tag: z.string().optional(),
          resource_url: z.string().optional(),
        }),
      )
      .max(MAX_EVENTS)
      .default([]),
    repository: z.looseObject({
      name: z.string().optional(),
      namespace: z.string().optional(),
      repo_full_name: z.string().optional(),
    }),
  }),
});

const genericSchema = z.strictObject({
  registry: z.string().min(1).max(255).optional(),
  repository: z.string().min(1).max(512),
  tag: z.string().optional(),
  digest: z.string(),
});

/** Reads a notification in any of the three forms; `API_REQUEST_INVALID` when it is none of them. */
export function parseRegistryNotification(body: unknown): RegistryNotification {
  if (!isObject(body)) throw invalid('the body is not a JSON object');
  if ('events' in body) return distribution(parse(distributionSchema, body, 'distribution envelope'));
  if ('event_data' in body) return harbor(parse(harborSchema, body, 'Harbor webhook'));
  if ('repository' in body) return generic(parse(genericSchema, body, 'generic event'));
  throw invalid(
    'not a registry notification: expected a distribution envelope {events: […]}, a Harbor webhook {type, event_data} or {repository, tag?, digest}',
  );
}

function distribution(body: z.output<typeof distributionSchema>): RegistryNotification {
  const pushes: PushedImage[] = [];
  let ignored = 0;
  for (const event of body.events) {
    const t = event.target;
    const { digest, repository, tag, mediaType } = t ?? {};
    if (
      event.action !== 'push' ||
      digest === undefined ||
      !isDigest(digest) ||
      repository === undefined ||
      // Untagged pushes are the platforms of an index or referrers (signatures, SBOMs).
      tag === undefined ||
      !isPushedTag(tag) ||
      mediaType === undefined ||
      !isImageOrIndex(mediaType) ||
      (t?.artifactType !== undefined && t.artifactType !== '')
    ) {
      ignored += 1;
      continue;
    }
    const host = event.request?.host ?? hostOfUrl(t?.url);
    const at = event.timestamp !== undefined ? isoTime(event.timestamp) : undefined;
    pushes.push({
      ...(host !== undefined && host !== '' && { host }),
      repository,
      digest,
      tag,
      ...(at !== undefined && { at }),
    });
  }
  return { source: 'notification:distribution', pushes, ignored };
}

function harbor(body: z.output<typeof harborSchema>): RegistryNotification {
  const resources = body.event_data.resources;
  if (body.type !== 'PUSH_ARTIFACT')
    return { source: 'notification:harbor', pushes: [], ignored: Math.max(1, resources.length) };
  const repo = body.event_data.repository;
  const repository =
    repo.repo_full_name ?? (repo.namespace && repo.name ? `${repo.namespace}/${repo.name}` : undefined);
  if (repository === undefined) throw invalid('Harbor webhook: event_data.repository has no repo_full_name');
  const at = body.occur_at !== undefined ? unixTime(body.occur_at) : undefined;
  const pushes: PushedImage[] = [];
  let ignored = 0;
  for (const r of resources) {
    if (
      r.digest === undefined ||
      !isDigest(r.digest) ||
      (r.tag !== undefined && !isPushedTag(r.tag) && !isDigest(r.tag))
    ) {
      ignored += 1;
      continue;
    }
    const host = r.resource_url?.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0];
    // Harbor names a push by digest with the digest in `tag`.
    const tag = r.tag !== undefined && !isDigest(r.tag) ? r.tag : undefined;
    pushes.push({
      ...(host !== undefined && host !== '' && { host }),
      repository,
      digest: r.digest,
      ...(tag !== undefined && { tag }),
      ...(at !== undefined && { at }),
    });
  }
  return { source: 'notification:harbor', pushes, ignored };
}

function generic(body: z.output<typeof genericSchema>): RegistryNotification {
  if (!isDigest(body.digest))
    throw invalid(`generic event: digest "${short(body.digest)}" is not a digest (sha256:<64 hex>)`);
  if (body.tag !== undefined && !isValidTag(body.tag))
    throw invalid(`generic event: "${short(body.tag)}" is not a valid tag`);
  let host = body.registry;
  let repository = body.repository;
  if (host === undefined) {
    const slash = repository.indexOf('/');
    const first = slash > 0 ? repository.slice(0, slash) : '';
    if (!/[.:]/.test(first) && first !== 'localhost')
      throw invalid(
        'generic event: give the registry, as "registry" or as the first part of "repository" (host/path)',
      );
    host = first;
    repository = repository.slice(slash + 1);
  }
  if (body.tag !== undefined && !isPushedTag(body.tag))
    return { source: 'notification:generic', pushes: [], ignored: 1 };
  return {
    source: 'notification:generic',
    pushes: [{ host, repository, digest: body.digest, ...(body.tag !== undefined && { tag: body.tag }) }],
    ignored: 0,
  };
}

/** A tag a person or CI pushed: valid, and not the `sha256-<hex>[.sig|.att|…]` referrers fallback. */
function isPushedTag(tag: string): boolean {
  return isValidTag(tag) && !/^sha256-[0-9a-f]{64}/.test(tag);
}

/** An image manifest or an index (not a blob, not an artifact manifest). */
function isImageOrIndex(mediaType: string): boolean {
  return isImageManifestMediaType(mediaType) || isIndexMediaType(mediaType);
}

function hostOfUrl(url: string | undefined): string | undefined {
  if (url === undefined || !URL.canParse(url)) return undefined;
  return new URL(url).host;
}

function isoTime(text: string): string | undefined {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

function unixTime(seconds: number): string | undefined {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function parse<S extends z.ZodType>(schema: S, body: unknown, what: string): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.length ? `${issue.path.map(String).join('.')}: ` : '';
  throw invalid(`${what}: ${path}${issue?.message ?? 'invalid'}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function short(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text).slice(1, -1);
}

function invalid(message: string): GantryError {
  return new GantryError('API_REQUEST_INVALID', `invalid body: ${message}`, { details: { where: 'body' } });
}
