/**
 * Tag listing with `Link` pagination (distribution-spec "Listing Tags"; RFC 8288 links).
 */
import * as z from 'zod/mini';
import { GantryError } from '../core/index.js';
import { repositoryScope } from './auth/challenge.js';
import type { Repository } from './reference.js';
import { Session } from './session.js';
import { readBody, MAX_MANIFEST_BYTES } from './transport/read-body.js';

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
