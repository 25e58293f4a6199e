/**
 * Tag listing with `Link` pagination (distribution-spec "Listing Tags"; RFC 8288 links).
 * A registry's tag list is untrusted input: every entry is checked against the tag grammar, and
 * entries that break it (`../../prod/web/manifests/latest`, names with `/`, `%2e`, newlines…)
 * are set apart, never handed on as tags.
 */
import * as z from 'zod/mini';
import { GantryError, escapeControl } from '../core/index.js';
import { repositoryScope } from './auth/challenge.js';
import { isValidTag, type Repository } from './reference.js';
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

/** A tag list split into valid tags and entries that are not valid tag names. */
export interface TagListResult {
  /** Entries that are valid tags, in the registry's order. */
  readonly tags: string[];
  /** Entries that are not valid tag names, as sent (escape them before printing). */
  readonly invalid: string[];
}

/**
 * Lists the valid tags of a repository, following pagination. Entries that are not valid tag
 * names are left out and logged as a warning (see {@link tagListChecked} to get them).
 */
export async function tagList(
  session: Session,
  repo: Repository,
  pageSize = TAG_PAGE_SIZE,
): Promise<string[]> {
  const { tags, invalid } = await tagListChecked(session, repo, pageSize);
  if (invalid.length > 0) {
    session.logger.warn(
      { repository: `${repo.registry}/${repo.repository}`, invalid: invalid.slice(0, 10).map(escapeControl) },
      'registry listed entries that are not valid tag names; they were skipped',
    );
  }
  return tags;
}

/** Lists every entry of a repository's tag list, following pagination, split by validity. */
export async function tagListChecked(
  session: Session,
  repo: Repository,
  pageSize = TAG_PAGE_SIZE,
): Promise<TagListResult> {
  const tags: string[] = [];
  const invalid: string[] = [];
  const seen = new Set<string>();
  const listPath = `${Session.repoPath(repo)}/tags/list`;
  let path: string | undefined = `${listPath}?n=${pageSize}`;
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
    for (const tag of parsed.tags ?? []) (isValidTag(tag) ? tags : invalid).push(tag);
    const next = nextLink(res.headers.get('link'));
    path = next === undefined ? undefined : samePageUrl(next, res.url, listPath, repo);
  }
  return { tags, invalid };
}

/**
 * The next page's path and query, from a `Link` target resolved against the current page. The
 * target must stay on the same origin and the same tag list: a registry cannot send the next
 * request (and its credentials) anywhere else.
 */
function samePageUrl(link: string, current: URL, listPath: string, repo: Repository): string {
  let url: URL;
  try {
    url = new URL(link, current);
  } catch {
    url = new URL('invalid:');
  }
  if (url.origin !== current.origin || url.pathname !== listPath) {
    throw new GantryError(
      'REGISTRY_PROTOCOL',
      `tag list of ${repo.registry}/${repo.repository} links its next page elsewhere ("${escapeControl(link.slice(0, 200))}")`,
    );
  }
  return `${url.pathname}${url.search}`;
}
