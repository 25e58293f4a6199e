/**
 * Issue 10.2 (history): reading promotion history resolves every tag of a repository. Only the
 * registry's explicit "unknown" may mean a tag is absent; a 503 is an error, never a missing
 * entry. Played by a scripted FAKE registry through the real client and registry port.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { registryPort } from '../../src/app.js';
import { digestsOf, historyOf } from '../../src/promotion/index.js';
import { RegistryClient } from '../../src/registry/index.js';
import { sendJson, sendRegistryError, startFakeRegistry, type FakeRegistry } from '../helpers/index.js';

let fake: FakeRegistry | undefined;
let client: RegistryClient | undefined;
afterEach(async () => {
  await client?.close();
  await fake?.stop();
});

/** A registry whose repository lists tag 1.0.0 and answers its manifest with `status`. */
async function port(status: number, code: string) {
  fake = await startFakeRegistry((req, res) => {
    if (req.url === '/v2/') return sendJson(res, 200, {});
    if (req.url?.startsWith('/v2/team/web/tags/list'))
      return sendJson(res, 200, { name: 'team/web', tags: ['1.0.0'] });
    return sendRegistryError(res, status, code, `answered ${status}`);
  });
  client = new RegistryClient({
    hostSettings: () => ({ scheme: 'http' }),
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
  });
  return { registry: registryPort(client), repo: { registry: fake.host, repository: 'team/web' } };
}

describe('history when the registry fails (issue 10.2)', () => {
  it('a 503 while resolving a tag is an error, not an absent tag', async () => {
    const { registry, repo } = await port(503, 'UNAVAILABLE');
    await expect(digestsOf(registry, repo)).rejects.toMatchObject({
      code: expect.stringMatching(/^REGISTRY_(SERVER_ERROR|UNREACHABLE|RETRY_BUDGET)$/) as unknown,
    });
    await expect(historyOf(registry, repo, 'prod', 'web')).rejects.toThrow(/503/);
  });

  it('a 404 MANIFEST_UNKNOWN is an absent tag', async () => {
    const { registry, repo } = await port(404, 'MANIFEST_UNKNOWN');
    expect((await digestsOf(registry, repo)).size).toBe(0);
  });
});
