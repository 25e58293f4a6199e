/**
 * Small helpers shared by the fault suites (faults, webhook-faults, pacing-429): a token from the
 * bootstrap token, waiting for a promotion to end, and reading a registry DIRECTLY (never through
 * a fault proxy) to check that what it holds is exactly what was promoted.
 */
import { createHash } from 'node:crypto';
import {
  ALL_MANIFEST_TYPES,
  createApiToken,
  registryRequest,
  type RegistryProcess,
  type TestImage,
  type TestIndex,
  waitForPromotionState,
} from '../helpers/index.js';

/** The bootstrap token of the suites' servers. */
export const BOOTSTRAP = `gty_${'5'.repeat(64)}`;

/** Terminal promotion states. */
export const ENDED: readonly string[] = ['completed', 'rejected', 'failed', 'cancelled'];

/** What the API shows of a promotion. */
export interface PromotionView {
  id: string;
  state: string;
  applications: { digest: string; status: string }[];
  error?: { code: string; message: string };
}

/** A new API token with `roles`, made with the bootstrap token. */
export const makeToken = (server: { url: string }, name: string, roles: string[]): Promise<string> =>
  createApiToken(server, BOOTSTRAP, { name, roles });

/** Polls a promotion until it is in one of `states`. */
export const waitForPromotion = (
  server: { url: string },
  token: string,
  id: string,
  timeoutMs: number,
  states: readonly string[] = ENDED,
): Promise<PromotionView> =>
  waitForPromotionState<PromotionView>(server, token, id, states, { timeoutMs, intervalMs: 150 });

export const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** The digest `repo:tag` resolves to on the registry itself, or undefined when the tag is absent. */
export async function tagDigest(
  registry: RegistryProcess,
  repo: string,
  tag: string,
): Promise<string | undefined> {
  const res = await registryRequest(registry, `/v2/${repo}/manifests/${tag}`, {
    headers: { accept: ALL_MANIFEST_TYPES.join(', ') },
  });
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`GET /v2/${repo}/manifests/${tag}: ${res.status}`);
  return sha256(res.body);
}

/**
 * Every problem with `digest` in `repo`: its manifest (and, for an index, every child manifest)
 * must hash to its digest and equal the source's bytes, and every blob must hash to its digest.
 * Empty when the target holds the image exactly.
 */
export async function contentProblems(
  registry: RegistryProcess,
  repo: string,
  image: TestImage | TestIndex,
): Promise<string[]> {
  const problems: string[] = [];
  const manifests: (TestImage | TestIndex)[] = 'images' in image ? [image, ...image.images] : [image];
  for (const m of manifests) {
    const res = await registryRequest(registry, `/v2/${repo}/manifests/${m.digest}`, {
      headers: { accept: ALL_MANIFEST_TYPES.join(', ') },
    });
    if (res.status !== 200) problems.push(`manifest ${m.digest}: ${res.status}`);
    else if (sha256(res.body) !== m.digest || !res.body.equals(m.manifest))
      problems.push(`manifest ${m.digest}: bytes hash to ${sha256(res.body)}`);
  }
  for (const [digest] of image.blobs) {
    const res = await registryRequest(registry, `/v2/${repo}/blobs/${digest}`);
    if (res.status !== 200) problems.push(`blob ${digest}: ${res.status}`);
    else if (sha256(res.body) !== digest) problems.push(`blob ${digest}: bytes hash to ${sha256(res.body)}`);
  }
  return problems;
}

/** The tags of `repo` on the registry itself (empty when the repository does not exist). */
export async function tagsOf(registry: RegistryProcess, repo: string): Promise<string[]> {
  const res = await registryRequest(registry, `/v2/${repo}/tags/list?n=10000`);
  if (res.status === 404) return [];
  const body = JSON.parse(res.body.toString('utf8')) as { tags?: string[] | null };
  return body.tags ?? [];
}

/** Counts a key in a tally. */
export function bump(tally: Record<string, number>, key: string, by = 1): void {
  tally[key] = (tally[key] ?? 0) + by;
}
