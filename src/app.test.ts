import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { attestationPublicKeys, attestationTrust, createApp } from './app.js';
import { parseConfig, type Config } from './config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'gantry-app-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pair = generateKeyPairSync('ed25519');
const pub = join(dir, 'attest.pub.pem');
writeFileSync(pub, pair.publicKey.export({ type: 'spki', format: 'pem' }));
const priv = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

function config(attestation: string): Config {
  const r = parseConfig(
    join(dir, 'gantry.yaml'),
    `registries:
  dev: { url: "http://127.0.0.1:9" }
environments:
  dev: { registry: dev }
  staging: { registry: dev, mode: tag, tag: staging, from: [dev] }
applications: [web]
${attestation}
`,
  );
  if (!r.config) throw new Error(JSON.stringify(r.problems));
  return r.config;
}
const open = (c: Config, env: Record<string, string> = {}) =>
  createApp({ config: c, env, authFile: join(dir, 'none.json'), actor: 'ci' });

describe('the attestation key (issue 9.6)', () => {
  it('is not needed to wire the app: read-only commands run without it', async () => {
    const app = open(config('attestation: { keyEnv: GANTRY_UNSET_KEY }'));
    await app.close();
  });

  it('is loaded before a promotion writes anything, with a one-line CONFIG_INVALID', async () => {
    const app = open(config('attestation: { keyEnv: GANTRY_UNSET_KEY }'));
    try {
      await expect(
        app.promotions.promote({ app: 'web', reference: '1.0', to: 'staging' }),
      ).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining(
          'attestation.keyEnv: environment variable GANTRY_UNSET_KEY is not set',
        ) as unknown,
      });
      await expect(app.promotions.rollback('web', 'staging')).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
      });
    } finally {
      await app.close();
    }
  });

  it('refuses to promote with public keys but no signing key: its record would not count', async () => {
    const app = open(config(`attestation: { publicKey: ${pub} }`));
    try {
      await expect(
        app.promotions.promote({ app: 'web', reference: '1.0', to: 'staging' }),
      ).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining('no signing key') as unknown,
      });
    } finally {
      await app.close();
    }
  });
});

describe('trusted keys of promotion records (issue 10.3)', () => {
  it('no attestation configured: unauthenticated', () => {
    expect(attestationTrust(config(''), {}).required).toBe(false);
  });

  it('publicKey verifies without the private key; the signing key adds its public half', () => {
    const c = config(`attestation: { keyEnv: GANTRY_KEY, publicKey: ${pub} }`);
    expect(attestationTrust(c, {}).required).toBe(true);
    expect(attestationPublicKeys(c, {})).toHaveLength(1);
    expect(attestationPublicKeys(c, { GANTRY_KEY: priv })).toHaveLength(2);
  });

  it('with no key at hand, checking a record stops with CONFIG_INVALID instead of believing it', () => {
    const trust = attestationTrust(config('attestation: { keyEnv: GANTRY_KEY }'), {});
    expect(trust.required).toBe(true);
    expect(() => trust.publicKeys()).toThrow(/GANTRY_KEY is not set and there is no attestation\.publicKey/);
  });
});
