/**
 * Repository listing (distribution-spec "Listing Repositories", `GET /v2/_catalog` with `Link`
 * pagination, RFC 8288). The catalog is optional: many registries refuse it (404, 401, 403), and
 * its entries are untrusted input, so names that break the repository grammar are set apart.
 */
import * as z from 'zod/mini';
import { GantryError, escapeControl } from '../core/index.js';
import { isValidRepositoryPath } from './reference.js';
import type { Session } from './session.js';
import { nextLink } from './tags.js';
import { MAX_MANIFEST_BYTES, readBody } from './transport/read-body.js';

/** Page size requested from the registry. */
export const CATALOG_PAGE_SIZE = 1000;
/** Pages followed before giving up (a guard against a registry looping its `Link`s). */
export const MAX_CATALOG_PAGES = 10_000;

const CATALOG_PATH = '/v2/_catalog';

const catalogSchema = z.object({
  repositories: z.optional(z.nullable(z.array(z.string()))),
});

/** A catalog split into valid repository paths and entries that are not. */
export interface CatalogResult {
  /** Valid repository paths, in the registry's order. */
  readonly repositories: string[];
  /** Entries that are not valid repository paths, as sent (escape them before printing). */
  readonly invalid: string[];
}

/**
 * Lists every repository of a registry, following pagination. A registry without a catalog (404,
 * 405) throws `REGISTRY_UNSUPPORTED`; one that refuses it keeps its own code
 * (`REGISTRY_UNAUTHORIZED`, `REGISTRY_DENIED`).
 */
export async function catalogList(
  session: Session,
  registry: string,
  pageSize = CATALOG_PAGE_SIZE,
): Promise<CatalogResult> {
  const repositories: string[] = [];
  const invalid: string[] = [];
  const seen = new Set<string>();
  let path: string | undefined = `${CATALOG_PATH}?n=${pageSize}`;
  for (let page = 0; path !== undefined; page++) {
    if (page >= MAX_CATALOG_PAGES || seen.has(path)) {
      throw new GantryError('REGISTRY_PROTOCOL', `catalog of ${registry} does not end (pagination loop)`);
    }
    seen.add(path);
    const res = await session.call({
      method: 'GET',
      registry,
      path,
      scopes: ['registry:catalog:*'],
      expect: [200, 404, 405],
      what: `catalog of ${registry}`,
    });
    const body = await readBody(res.body, MAX_MANIFEST_BYTES, { what: 'catalog' });
    if (res.status !== 200) {
      throw new GantryError(
        'REGISTRY_UNSUPPORTED',
        `${registry} does not list its repositories (GET ${CATALOG_PATH} answered ${res.status}): name the repositories instead of a pattern`,
        { details: { registry, status: res.status } },
      );
    }
    let parsed: z.infer<typeof catalogSchema>;
    try {
      parsed = catalogSchema.parse(JSON.parse(body.toString()));
    } catch {
      throw new GantryError(
        'REGISTRY_PROTOCOL',
        `catalog of ${registry} is not valid JSON of the expected shape`,
      );
    }
    for (const name of parsed.repositories ?? [])
      (isValidRepositoryPath(name) ? repositories : invalid).push(name);
    const next = nextLink(res.headers.get('link'));
    path = next === undefined ? undefined : samePageUrl(next, res.url, registry);
  }
  return { repositories, invalid };
}

/** The next page's path and query; it must stay on the same origin and the catalog path. */
function samePageUrl(link: string, current: URL, registry: string): string {
  let url: URL;
  try {
    url = new URL(link, current);
  } catch {
    url = new URL('invalid:');
  }
  if (url.origin !== current.origin || url.pathname !== CATALOG_PATH) {
    throw new GantryError(
      'REGISTRY_PROTOCOL',
      `catalog of ${registry} links its next page elsewhere ("${escapeControl(link.slice(0, 200))}")`,
    );
  }
  return `${url.pathname}${url.search}`;
}
