/**
 * Copy endpoints on the command line: a registry reference (`host/repo:tag`, `host/repo@sha256:…`,
 * with skopeo's `docker://` prefix accepted) or an OCI layout (`oci:PATH[:TAG]`).
 */
import { GantryError } from '../core/index.js';
import {
  OciLayoutTarget,
  RegistryTarget,
  isOciLayoutReference,
  parseOciLayoutReference,
  type ReadTarget,
  type WriteTarget,
} from '../app.js';
import { parseReference, parseRepository, type RegistryClient } from '../app.js';

/** A parsed endpoint. */
export type Endpoint =
  | {
      readonly kind: 'registry';
      readonly registry: string;
      readonly repository: string;
      readonly tag?: string;
      readonly digest?: string;
    }
  | { readonly kind: 'oci'; readonly path: string; readonly tag?: string };

/** Parses an image endpoint; `repositoryOnly` for `--all-tags` (no tag or digest allowed). */
export function parseEndpoint(text: string, repositoryOnly = false): Endpoint {
  if (isOciLayoutReference(text)) {
    const ref = parseOciLayoutReference(text);
    if (repositoryOnly && ref.tag !== undefined) {
      throw new GantryError('USAGE_INVALID', `--all-tags takes a layout without a tag, got "${text}"`);
    }
    return { kind: 'oci', path: ref.path, ...(ref.tag !== undefined && { tag: ref.tag }) };
  }
  if (repositoryOnly) return { kind: 'registry', ...parseRepository(text) };
  const ref = parseReference(text, { defaultTag: null });
  return {
    kind: 'registry',
    registry: ref.registry,
    repository: ref.repository,
    ...(ref.tag !== undefined && { tag: ref.tag }),
    ...(ref.digest !== undefined && { digest: ref.digest }),
  };
}

/** The registry host of an endpoint, if it has one. */
export function endpointHost(e: Endpoint): string | undefined {
  return e.kind === 'registry' ? e.registry : undefined;
}

/** The target behind an endpoint. */
export function endpointTarget(e: Endpoint, client: RegistryClient): ReadTarget & WriteTarget {
  return e.kind === 'registry'
    ? new RegistryTarget(client, { registry: e.registry, repository: e.repository })
    : new OciLayoutTarget(e.path);
}

/** Display form of an endpoint. */
export function formatEndpoint(e: Endpoint): string {
  if (e.kind === 'oci') return `oci:${e.path}${e.tag ? `:${e.tag}` : ''}`;
  return `${e.registry}/${e.repository}${e.tag ? `:${e.tag}` : ''}${e.digest ? `@${e.digest}` : ''}`;
}
