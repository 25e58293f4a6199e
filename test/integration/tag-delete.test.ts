/**
 * Tag deletion (OCI distribution-spec 1.1, `DELETE /v2/<name>/manifests/<tag>`), which a failed
 * promotion uses to remove the new tags it wrote: registries that delete tags, registries that
 * cannot (CNCF distribution 2.8 answers 400 `DIGEST_INVALID`), and real failures.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fetchManifest,
  makeImage,
  pushImage,
  sendBytes,
  sendRegistryError,
  startFakeRegistry,
  startRegistry,
  type FakeRegistry,
  type RegistryProcess,
} from '../helpers/index.js';
import { clientFor } from './clients.js';

let registry: RegistryProcess;
beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry?.stop();
});

describe('tagDelete', () => {
  it('a registry without tag deletion (distribution 2.8): false, and the tag stays', async () => {
    const image = makeImage({ seed: 'tag-delete' });
    await pushImage(registry, 'team/web', image, 'prod');
    const client = clientFor(registry);
    expect(await client.tagDelete({ registry: registry.host, repository: 'team/web' }, 'prod')).toBe(false);
    expect((await fetchManifest(registry, 'team/web', 'prod')).digest).toBe(image.digest);
    await client.close();
  });

  it.each<[string, (res: Parameters<Parameters<typeof startFakeRegistry>[0]>[1]) => void, boolean | string]>([
    ['202 Accepted: deleted', (res) => sendBytes(res, 202, ''), true],
    ['404: already absent', (res) => sendRegistryError(res, 404, 'MANIFEST_UNKNOWN', 'unknown'), true],
    ['405 UNSUPPORTED: cannot', (res) => sendRegistryError(res, 405, 'UNSUPPORTED', 'no'), false],
    [
      '403 DENIED: an error',
      (res) => sendRegistryError(res, 403, 'DENIED', 'no delete for you'),
      'REGISTRY_DENIED',
    ],
  ])('%s', async (_, answer, expected) => {
    let fake: FakeRegistry | undefined;
    try {
      fake = await startFakeRegistry((req, res) => {
        if (req.method === 'DELETE' && req.url === '/v2/team/web/manifests/prod') answer(res);
        else sendBytes(res, 200, '');
      });
      const client = clientFor({ host: fake.host, tls: false });
      const p = client.tagDelete({ registry: fake.host, repository: 'team/web' }, 'prod');
      if (typeof expected === 'string') await expect(p).rejects.toMatchObject({ code: expected });
      else expect(await p).toBe(expected);
      await client.close();
    } finally {
      await fake?.stop();
    }
  });
});
