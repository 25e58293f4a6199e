/**
 * The setup the promotion suites share (promotion, release, pin, trust, gates, json-contracts): a
 * real dev and prod registry with a temp dir, `gantry.yaml` files written for them, key pairs on
 * disk, and the CLI run with a configuration as one actor.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { startRegistry, type RegistryProcess } from '../helpers/index.js';
import { runCli, type CliResult } from './run-cli.js';

/** Two started registries and a temp dir; `stop()` removes all three. */
export interface PromotionFixture {
  readonly dev: RegistryProcess;
  readonly prod: RegistryProcess;
  readonly dir: string;
  /**
   * Writes `DIR/NAME` (default `gantry.yaml`): the registries block for dev and prod (or for
   * `hosts`), then `rest`. Returns its path.
   */
  config(
    rest: string,
    options?: { name?: string; hosts?: Readonly<Record<string, string>> },
  ): Promise<string>;
  stop(): Promise<void>;
}

/** Starts a dev and a prod registry (anonymous, plain HTTP) and makes a temp dir `gantry-NAME-…`. */
export async function startPromotionFixture(name: string): Promise<PromotionFixture> {
  const [dev, prod, dir] = await Promise.all([
    startRegistry(),
    startRegistry(),
    mkdtemp(join(tmpdir(), `gantry-${name}-`)),
  ]);
  return {
    dev,
    prod,
    dir,
    config: (rest, options = {}) =>
      writeConfig(
        join(dir, options.name ?? 'gantry.yaml'),
        options.hosts ?? { dev: dev.host, prod: prod.host },
        rest,
      ),
    stop: async () => {
      await Promise.all([dev.stop(), prod.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The `registries:` block of a gantry.yaml, each registry named and reached over plain HTTP at its host. */
export function registriesYaml(hosts: Readonly<Record<string, string>>): string {
  const lines = Object.entries(hosts).map(([name, host]) => `  ${name}: { url: "http://${host}" }`);
  return `registries:\n${lines.join('\n')}\n`;
}

/** Writes a gantry.yaml at `path`: the registries block for `hosts`, then `rest`. Returns `path`. */
export async function writeConfig(
  path: string,
  hosts: Readonly<Record<string, string>>,
  rest: string,
): Promise<string> {
  await writeFile(path, registriesYaml(hosts) + rest);
  return path;
}

/**
 * The `environments:` block most suites start from: `dev`, and `prod` promoted from dev, both under
 * `prefix`, prod with immutable tags matching `immutable` and floating tags `latest` and `prod`.
 */
export function devToProdYaml(prefix: string, immutable: readonly string[]): string {
  return `environments:
  dev: { registry: dev, prefix: ${prefix} }
  prod:
    registry: prod
    prefix: ${prefix}
    from: [dev]
    tags: { immutable: [${immutable.map((r) => `'${r}'`).join(', ')}], floating: [latest, prod] }
`;
}

/** Paths of a key pair written by {@link writeKeyPair}, and the private key's PEM. */
export interface KeyFiles {
  /** `DIR/NAME.pem`, PKCS#8. */
  readonly priv: string;
  /** `DIR/NAME.pub.pem`, SPKI. */
  readonly pub: string;
  readonly privatePem: string;
}

/** Generates a key pair (ECDSA P-256 or Ed25519) and writes it as `NAME.pem` and `NAME.pub.pem` in `dir`. */
export async function writeKeyPair(dir: string, name: string, type: 'ec' | 'ed25519'): Promise<KeyFiles> {
  const pair =
    type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  const privatePem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const keys = { priv: join(dir, `${name}.pem`), pub: join(dir, `${name}.pub.pem`), privatePem };
  await writeFile(keys.priv, privatePem);
  await writeFile(keys.pub, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  return keys;
}

/** Runs `gantry ARGS --config CONFIG` as `actor` (`GANTRY_ACTOR`); `config` is read at each call. */
export function gantryAs(config: () => string, actor: string): (...args: string[]) => Promise<CliResult> {
  return (...args) => runCli([...args, '--config', config()], { env: { GANTRY_ACTOR: actor } });
}

/** Expects a CLI run that succeeded silently on stderr. */
export function expectOk(r: CliResult): void {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}
