/**
 * The API version check (distribution-spec "Determining support"): `GET /v2/`. With credentials,
 * a 200 after the challenge proves they are accepted, which is what `gantry login` needs.
 */
import { GantryError } from '../core/index.js';
import type { Session } from './session.js';
import { discardBody } from './transport/read-body.js';

/** Checks that `registry` speaks the OCI Distribution API and accepts the configured credentials. */
export async function ping(session: Session, registry: string): Promise<void> {
  const res = await session.call({
    method: 'GET',
    registry,
    path: '/v2/',
    scopes: [],
    expect: [200, 404],
    what: `API check of ${registry}`,
  });
  await discardBody(res.body);
  if (res.status === 404) {
    throw new GantryError(
      'REGISTRY_UNSUPPORTED',
      `${registry} does not implement the OCI Distribution API (/v2/ is 404)`,
    );
  }
}
