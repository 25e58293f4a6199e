/**
 * Per-side and per-registry connection settings (issue 10, items 9 and 10), through the CLI
 * against real registries:
 * - source and destination on one host:port keep their own credentials and TLS settings;
 * - an HTTPS registry whose token realm is plain HTTP gets no password: `REGISTRY_TLS` (exit 7)
 *   unless TLS verification is off for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fetchManifest,
  makeImage,
  pushImage,
  startRegistry,
  type RegistryProcess,
  type TestUser,
} from '../helpers/index.js';
import { runCli } from './run-cli.js';

const admin: TestUser = { username: 'admin', password: 'admin-secret' };
const alice: TestUser = { username: 'alice', password: 'alice-secret' };
const bob: TestUser = { username: 'bob', password: 'bob-secret' };
const image = makeImage({ seed: 'sides-image' });
const creds = (u: TestUser) => `${u.username}:${u.password}`;

describe('source and destination on the same host:port', () => {
  let reg: RegistryProcess;

  beforeAll(async () => {
    // alice may only read team/src, bob may only read and write team/dst.
    reg = await startRegistry({
      auth: 'token',
      users: [admin, alice, bob],
      tokenServer: {
        acl: (user, repository) => {
          if (user === 'admin') return ['*'];
          if (user === 'alice' && repository === 'team/src') return ['pull'];
          if (user === 'bob' && repository === 'team/dst') return ['pull', 'push'];
          return [];
        },
      },
    });
    await pushImage(reg, 'team/src', image, '1.0');
  });
  afterAll(async () => reg?.stop());

  it('--src-creds reads the source and --dest-creds writes the destination', async () => {
    const server = reg.tokenServer!;
    server.requests.length = 0;
    const r = await runCli([
      'copy',
      '--tls-verify=false',
      '--src-creds',
      creds(alice),
      '--dest-creds',
      creds(bob),
      '--json',
      `${reg.host}/team/src:1.0`,
      `${reg.host}/team/dst:1.0`,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(alice.password);
    expect(r.stdout).not.toContain(bob.password);
    const byAlice = server.requests.filter((q) => q.user === 'alice');
    const byBob = server.requests.filter((q) => q.user === 'bob');
    expect(byAlice.length).toBeGreaterThan(0);
    expect(byBob.length).toBeGreaterThan(0);
    // alice is only ever asked about the source, and bob's pushes are only to the destination.
    for (const q of byAlice) for (const s of q.scopes) expect(s).toMatch(/^repository:team\/src:/);
    for (const q of byBob)
      for (const s of q.scopes) if (s.includes('push')) expect(s).toMatch(/^repository:team\/dst:/);
    expect(server.requests.every((q) => q.user === 'alice' || q.user === 'bob')).toBe(true);
  });
});

describe('TLS settings per side on the same host:port', () => {
  let reg: RegistryProcess;

  beforeAll(async () => {
    reg = await startRegistry({ tls: true });
    await pushImage(reg, 'team/src', image, '1.0');
  });
  afterAll(async () => reg?.stop());

  it('--dest-tls-verify=false does not turn off verification of the source', async () => {
    const r = await runCli([
      'copy',
      '--dest-tls-verify=false',
      `${reg.host}/team/src:1.0`,
      `${reg.host}/team/unverified:1.0`,
    ]);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/^gantry: source .*TLS verification failed.*\[REGISTRY_TLS\]\n$/);
  });

  it('each side uses its own setting: a trusted source CA and an unverified destination', async () => {
    const r = await runCli([
      'copy',
      '--src-cert-dir',
      reg.caDir!,
      '--dest-tls-verify=false',
      '--quiet',
      `${reg.host}/team/src:1.0`,
      `${reg.host}/team/verified:1.0`,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((await fetchManifest(reg, 'team/verified', '1.0')).digest).toBe(image.digest);
  });
});

describe('an HTTPS registry with a plain-HTTP token realm', () => {
  let reg: RegistryProcess;

  beforeAll(async () => {
    reg = await startRegistry({ tls: true, auth: 'token', users: [alice] });
    await pushImage(reg, 'team/app', image, '1.0');
  });
  afterAll(async () => reg?.stop());

  it('never sends the password: REGISTRY_TLS, exit 7, and the token server saw nothing', async () => {
    const server = reg.tokenServer!;
    expect(server.realm).toMatch(/^http:\/\//);
    server.requests.length = 0;
    const r = await runCli([
      'inspect',
      '--cert-dir',
      reg.caDir!,
      '--creds',
      creds(alice),
      `${reg.host}/team/app:1.0`,
    ]);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/plain-HTTP token server.*\[REGISTRY_TLS\]\n$/);
    expect(r.stderr).not.toContain(alice.password);
    expect(server.requests).toEqual([]);
  });

  it('is allowed when TLS verification is off for that registry', async () => {
    const r = await runCli([
      'inspect',
      '--tls-verify=false',
      '--creds',
      creds(alice),
      '--json',
      `${reg.host}/team/app:1.0`,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { digest: string }).digest).toBe(image.digest);
  });
});
