/**
 * The gantry.yaml most server suites (and the server benchmark) start from: two registries, `dev`
 * and `prod`, and the environments `dev` (on `dev`, prefix `dev`) and `prod` (on `prod`, prefix
 * `prod`, promoted from `dev`). What the suites add to it (more environments, gates, teams,
 * webhooks) they pass in as YAML text.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Options of {@link devProdConfig}. */
export interface DevProdConfigOptions {
  /** URL of the registry `dev` (a registry's or a fault proxy's). */
  readonly dev: string;
  /** URL of the registry `prod` (a registry's or a fault proxy's). */
  readonly prod: string;
  /** `applications:`. */
  readonly applications: readonly string[];
  /** The `prod` environment moves the floating tag `current` (default true). */
  readonly floating?: boolean;
  /** Gates of the `prod` environment, one YAML flow item each (e.g. `approval: { count: 1 }`). */
  readonly gates?: readonly string[];
  /** More environments: YAML lines indented by two spaces, placed under `environments:`. */
  readonly environments?: string;
  /** More top-level YAML after `applications:` (teams, webhooks, events, …). */
  readonly rest?: string;
}

/** The text of a gantry.yaml with the registries and environments `dev` and `prod` (see the module). */
export function devProdConfig(options: DevProdConfigOptions): string {
  const prod = [
    '  prod:',
    '    registry: prod',
    '    prefix: prod',
    '    from: [dev]',
    ...((options.floating ?? true) ? ['    tags: { floating: [current] }'] : []),
    ...(options.gates !== undefined && options.gates.length > 0
      ? ['    gates:', ...options.gates.map((g) => `      - ${g}`)]
      : []),
  ];
  return [
    'registries:',
    `  dev: { url: "${options.dev}" }`,
    `  prod: { url: "${options.prod}" }`,
    'environments:',
    '  dev: { registry: dev, prefix: dev }',
    ...prod,
    ...(options.environments !== undefined ? [options.environments.replace(/\n$/, '')] : []),
    `applications: [${options.applications.join(', ')}]`,
    ...(options.rest !== undefined ? [options.rest.replace(/\n$/, '')] : []),
    '',
  ].join('\n');
}

/** Writes {@link devProdConfig} to `dir/gantry.yaml` and returns that path. */
export async function writeDevProdConfig(dir: string, options: DevProdConfigOptions): Promise<string> {
  const config = join(dir, 'gantry.yaml');
  await writeFile(config, devProdConfig(options));
  return config;
}
