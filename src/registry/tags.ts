/**
 * Tag listing with `Link` pagination (distribution-spec "Listing Tags"; RFC 8288 links).
 */
import * as z from 'zod/mini';
import { GantryError } from '../core/index.js';
import { repositoryScope } from './auth/challenge.js';
import type { Repository } from './reference.js';
import { Session } from './session.js';
import { discardBody, readBody, MAX_MANIFEST_BYTES } from './transport/read-body.js';

/** Page size requested from the registry. */
export const TAG_PAGE_SIZE = 1000;
/** Pages followed before giving up (a guard against a registry looping its `Link`s). */
export const MAX_TAG_PAGES = 10_000;

const tagListSchema = z.object({
  name: z.optional(z.string()),
  tags: z.optional(z.nullable(z.array(z.string()))),
});

/** Extracts the `rel="next"` target of a `Link` header. */
export function nextLink(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const m = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (m && /rel\s*=\s*"?next"?/i.test(m[2] ?? '')) return m[1];
  }
  return undefined;
}

/** Lists every tag of a repository, following pagination. */
export async function tagList(
  session: Session,
  repo: Repository,
  pageSize = TAG_PAGE_SIZE,
): Promise<string[]> {
  const tags: string[] = [];
  const seen = new Set<string>();
  let path: string | undefined = `${Session.repoPath(repo)}/tags/list?n=${pageSize}`;
  for (let page = 0; path !== undefined; page++) {
    if (page >= MAX_TAG_PAGES || seen.has(path)) {
      throw new GantryError(
        'REGISTRY_PROTOCOL',
        `tag list of ${repo.registry}/${repo.repository} does not end (pagination loop)`,
      );
    }
    seen.add(path);
    const res = await session.call({
      method: 'GET',
      registry: repo.registry,
      path,
      scopes: [repositoryScope(repo.repository, 'pull')],
      expect: [200],
      what: `tags of ${repo.registry}/${repo.repository}`,
    });
    const body = await readBody(res.body, MAX_MANIFEST_BYTES, { what: 'tag list' });
    let parsed: z.infer<typeof tagListSchema>;
    try {
      parsed = tagListSchema.parse(JSON.parse(body.toString()));
    } catch {
      throw new GantryError(
        'REGISTRY_PROTOCOL',
        `tag list of ${repo.registry}/${repo.repository} is not valid JSON of the expected shape`,
      );
    }
    tags.push(...(parsed.tags ?? []));
    const next = nextLink(res.headers.get('link'));
    path = next;
  }
  return tags;
}

/**
 * Removes a tag, leaving its manifest (distribution-spec v1.1 "Deleting tags":
 * `DELETE /v2/<name>/manifests/<tag>`). Returns `false` when the registry does not delete tags
 * (distribution 2.x answers 400 `DIGEST_INVALID`, others 405 `UNSUPPORTED`); a tag that is already
 * absent (404) counts as removed. Other failures throw.
 */
export async function tagDelete(session: Session, repo: Repository, tag: string): Promise<boolean> {
  const res = await session.call({
    method: 'DELETE',
    registry: repo.registry,
    path: `${Session.repoPath(repo)}/manifests/${encodeURIComponent(tag)}`,
    scopes: [repositoryScope(repo.repository, 'delete')],
    expect: [200, 202, 204, 400, 404, 405],
    what: `delete tag ${repo.registry}/${repo.repository}:${tag}`,
  });
  await discardBody(res.body);
  return res.status !== 400 && res.status !== 405;
}
