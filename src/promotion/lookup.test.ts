/** Domain errors name what is missing, never a CLI flag (issue 11.1); the CLI adds its flags. */
import { describe, expect, it } from 'vitest';
import { GantryError } from '../core/index.js';
import type { Config, EnvironmentConfig } from '../config/index.js';
import { sourceOf } from './lookup.js';

const env = (name: string, from: string[]): EnvironmentConfig => ({
  name,
  registry: { name, host: `${name}.example.com`, scheme: 'https', tlsVerify: true },
  prefix: 'team',
  mode: 'copy',
  from,
  immutable: [],
  floating: [],
  gates: [],
  auto: false,
  allowOverride: false,
  protected: false,
});
const envs = [env('dev', []), env('qa', []), env('prod', ['dev', 'qa'])];
const config: Config = {
  file: 'gantry.yaml',
  registries: new Map(envs.map((e) => [e.name, e.registry])),
  environments: new Map(envs.map((e) => [e.name, e])),
  applications: new Map(),
  approvers: new Map(),
};

describe('sourceOf', () => {
  it('several sources and none named: USAGE_INVALID naming the choices, not a flag', () => {
    let err: unknown;
    try {
      sourceOf(config, envs[2] as EnvironmentConfig);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GantryError);
    const e = err as GantryError;
    expect(e.code).toBe('USAGE_INVALID');
    expect(e.message).not.toMatch(/--/);
    expect(e.details).toEqual({ missing: 'from', environment: 'prod', choices: ['dev', 'qa'] });
  });

  it.each([
    ['dev', 'dev'],
    ['qa', 'qa'],
  ])('from %s is allowed', (from, expected) => {
    expect(sourceOf(config, envs[2] as EnvironmentConfig, from).name).toBe(expected);
  });
});
