import { describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProblem, loadConfigOrThrow, loadReleaseFile, parseConfig } from './index.js';

const GOOD = `# a pipeline
registries:
  dev:  { url: https://dev.registry.example.com, credentials: { helper: ecr-login } }
  prod: { url: "https://prod.registry.example.com:5000", credentials: { env: PROD_REG } }
  local: { url: "http://127.0.0.1:5000", tls: { verify: false } }
environments:
  dev:     { registry: dev,  prefix: team-a }
  staging: { registry: dev,  prefix: team-a, mode: tag, tag: staging, from: [dev], auto: true }
  prod:
    registry: prod
    prefix: team-a/apps
    from: [staging]
    tags: { immutable: ['^v?\\d+\\.\\d+\\.\\d+$', '^[0-9a-f]{40}$'], floating: [latest] }
    gates:
      - approval: { count: 2, groups: [product-owner, operations] }
applications: [web, api, { name: worker, repository: jobs/worker }]
approvers:
  alice: { groups: [product-owner], key: keys/alice.pub.pem }
  bob: { groups: [operations], key: keys/bob.pub.pem }
`;

describe('parseConfig', () => {
  it('normalises a valid file', () => {
    const { config, problems } = parseConfig('gantry.yaml', GOOD);
    expect(problems).toEqual([]);
    const prod = config!.environments.get('prod')!;
    expect(prod.registry.host).toBe('prod.registry.example.com:5000');
    expect(prod.prefix).toBe('team-a/apps');
    expect(prod.immutable.map((r) => r.test('1.4.2'))).toEqual([true, false]);
    expect(prod.floating).toEqual(['latest']);
    expect(config!.environments.get('staging')).toMatchObject({
      mode: 'tag',
      tag: 'staging',
      floating: ['staging'],
      auto: true,
    });
    expect(config!.registries.get('local')).toMatchObject({
      scheme: 'http',
      tlsVerify: false,
      host: '127.0.0.1:5000',
    });
    expect(config!.registries.get('dev')?.credentials).toEqual({ kind: 'helper', helper: 'ecr-login' });
    expect(config!.applications.get('worker')).toEqual({ name: 'worker', repository: 'jobs/worker' });
    expect([...config!.environments.keys()]).toEqual(['dev', 'staging', 'prod']);
  });

  it.each([
    [
      'misspelt key',
      GOOD.replace('    from: [staging]', '    form: [staging]'),
      12,
      'environments.prod.form: unknown key "form" (did you mean "from"?)',
    ],
    [
      'unknown top-level key',
      `${GOOD}extra: 1\n`,
      20,
      'extra: unknown key "extra" (expected one of: registries, environments, applications, attestation, approvers, teams, webhooks, events, sync)',
    ],
    [
      'wrong type',
      GOOD.replace('auto: true', 'auto: sometimes'),
      8,
      'environments.staging.auto: expected boolean, got string "sometimes"',
    ],
    [
      'bad enum',
      GOOD.replace('mode: tag', 'mode: retag'),
      8,
      'environments.staging.mode: must be one of "copy", "tag"',
    ],
    [
      'unknown registry',
      GOOD.replace('registry: prod\n', 'registry: prd\n'),
      10,
      'unknown registry "prd" (did you mean "prod"?)',
    ],
    [
      'unknown from',
      GOOD.replace('from: [staging]', 'from: [stagin]'),
      12,
      'unknown environment "stagin" (did you mean "staging"?)',
    ],
    [
      'bad regex',
      GOOD.replace("'^[0-9a-f]{40}$'", () => "'^[0-9a-f{40}$'"),
      13,
      'environments.prod.tags.immutable[1]: invalid regex',
    ],
    [
      // V8 refuses a pattern this size only when it first runs it, not at `new RegExp`.
      'regex too long to run',
      GOOD.replace("'^[0-9a-f]{40}$'", () => `'${'x'.repeat(40_000)}'`),
      13,
      'environments.prod.tags.immutable[1]: regex is 40000 characters long; at most 1024 are accepted',
    ],
    [
      'tag mode without tag',
      GOOD.replace('mode: tag, tag: staging,', 'mode: tag,'),
      8,
      'mode: tag needs the environment tag',
    ],
    [
      'bad url',
      GOOD.replace('https://dev.registry.example.com', 'dev.registry.example.com'),
      3,
      'registries.dev.url: "dev.registry.example.com" is not a URL',
    ],
    [
      'floating tag that is immutable',
      GOOD.replace('floating: [latest]', 'floating: [latest, 1.0.0]'),
      13,
      'also matched by an immutable pattern',
    ],
    [
      'duplicate key',
      GOOD.replace('  prod:\n    registry: prod', '  prod:\n    registry: prod\n    registry: dev'),
      11,
      'Map keys must be unique',
    ],
    ['bad yaml', 'registries: [\n', 2, ''],
    ['empty file', '', 1, 'the file is empty'],
    [
      'billion laughs',
      `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n`,
      2,
      'aliases expand to more than 100 nodes',
    ],
    ['missing applications', GOOD.replace(/applications:.*\n/, ''), 2, 'applications: required'],
  ])('%s', (_name, text, line, message) => {
    const { config, problems } = parseConfig('gantry.yaml', text);
    expect(config).toBeUndefined();
    expect(problems.length).toBeGreaterThan(0);
    const first = problems[0]!;
    expect(first.line).toBe(line);
    expect(formatProblem(first)).toContain(message);
    expect(formatProblem(first)).toMatch(/^gantry\.yaml(:\d+:\d+)?: /);
  });

  it('reads registries.<name>.concurrency (1–64) for the server', () => {
    const yaml = (c: string) =>
      GOOD.replace('tls: { verify: false } }', `tls: { verify: false }, concurrency: ${c} }`);
    expect(parseConfig('gantry.yaml', yaml('8')).config?.registries.get('local')?.concurrency).toBe(8);
    expect(parseConfig('gantry.yaml', GOOD).config?.registries.get('local')?.concurrency).toBeUndefined();
    for (const bad of ['0', '65', '1.5', 'many'])
      expect(parseConfig('gantry.yaml', yaml(bad)).problems[0]?.path).toBe('registries.local.concurrency');
  });

  it('detects a promotion cycle', () => {
    const text = GOOD.replace(
      '  dev:     { registry: dev,  prefix: team-a }',
      '  dev:     { registry: dev,  prefix: team-a, from: [prod] }',
    );
    const { problems } = parseConfig('gantry.yaml', text);
    expect(problems.map(formatProblem).join('\n')).toMatch(/promotion cycle: .*→/);
  });

  it('refuses tag mode across repositories', () => {
    const text = GOOD.replace(
      'staging: { registry: dev,  prefix: team-a,',
      'staging: { registry: prod,  prefix: team-a,',
    );
    const { problems } = parseConfig('gantry.yaml', text);
    expect(problems.map(formatProblem).join('\n')).toContain('mode: tag shares the repository of its source');
  });

  it('refuses auto: true on an environment without from (nothing feeds it)', () => {
    const text = GOOD.replace(
      '  dev:     { registry: dev,  prefix: team-a }',
      '  dev:     { registry: dev,  prefix: team-a, auto: true }',
    );
    const { config, problems } = parseConfig('gantry.yaml', text);
    expect(config).toBeUndefined();
    expect(problems.map(formatProblem).join('\n')).toContain(
      'environments.dev.auto: auto: true promotes new candidates of a source environment: it needs from: [ENV]',
    );
  });
});

describe('gate options', () => {
  const withGates = (gates: string) =>
    GOOD.replace('      - approval: { count: 2, groups: [product-owner, operations] }\n', gates);
  it.each([
    [
      'unknown gate',
      '      - aproval: { count: 2 }\n',
      'environments.prod.gates[0].aproval: unknown gate "aproval" (did you mean "approval"?)',
    ],
    [
      'unknown option',
      '      - soak: { env: staging, duration: 24h, lenght: 1 }\n',
      'environments.prod.gates[0].soak.lenght: unknown key "lenght"',
    ],
    [
      'bad duration',
      '      - soak: { env: staging, duration: soon }\n',
      'environments.prod.gates[0].soak.duration: expected a duration',
    ],
    [
      'bad regex',
      "      - labels: { required: { a: '[' } }\n",
      'environments.prod.gates[0].labels.required.a: invalid regex',
    ],
    [
      'regex too long',
      `      - labels: { required: { a: '${'x'.repeat(2000)}' } }\n`,
      'environments.prod.gates[0].labels.required.a: regex is 2000 characters long',
    ],
    [
      'two keys',
      '      - { soak: { env: staging, duration: 1h }, approval: {} }\n',
      'a gate is an object with exactly one key',
    ],
  ])('%s', (_name, gates, message) => {
    const { problems } = parseConfig('gantry.yaml', withGates(gates));
    expect(problems.map(formatProblem).join('\n')).toContain(message);
    expect(problems[0]!.line).toBe(15);
  });

  it.each([
    ['1m30s', 90_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
  ])('converts policy timeout %s to %i ms when the configuration loads', (timeout, ms) => {
    const { config, problems } = parseConfig(
      'gantry.yaml',
      withGates(`      - policy: { url: "https://opa.example.com/v1/data/gantry", timeout: ${timeout} }\n`),
    );
    expect(problems).toEqual([]);
    expect(config!.environments.get('prod')!.gates[0]).toEqual({
      name: 'policy',
      options: { url: 'https://opa.example.com/v1/data/gantry', timeout: ms },
    });
  });

  it('refuses a label pattern with nested repetition', () => {
    const { problems } = parseConfig(
      'gantry.yaml',
      withGates("      - labels: { required: { a: '^(\\w+\\s?)*!' } }\n"),
    );
    expect(problems.map(formatProblem).join('\n')).toContain(
      'environments.prod.gates[0].labels.required.a: regex may take exponential time',
    );
  });

  it('types valid gates with their defaults', () => {
    const { config } = parseConfig(
      'gantry.yaml',
      withGates('      - soak: { env: staging, duration: 24h }\n      - approval: { count: 2 }\n'),
    );
    expect(config!.environments.get('prod')!.gates).toEqual([
      { name: 'soak', options: { env: 'staging', duration: 86_400_000 } },
      { name: 'approval', options: { count: 2, groups: [], expires: 72 * 3_600_000 } },
    ]);
  });
});

describe('loadConfigOrThrow', () => {
  it('lists at most 50 problems in the error details, and counts the rest in the message', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gantry-load-'));
    try {
      const file = join(dir, 'gantry.yaml');
      await writeFile(
        file,
        `registries: {}\nenvironments: {}\napplications: [${Array(200).fill('a').join(', ')}]\n`,
      );
      const err = await loadConfigOrThrow(file).catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringMatching(/and 198 more problems/),
      });
      expect((err as { details: { problems: string[] } }).details.problems).toHaveLength(50);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('loadReleaseFile', () => {
  it('stops a billion-laughs release file with CONFIG_INVALID at the alias', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gantry-release-'));
    try {
      const file = join(dir, 'release.yaml');
      await writeFile(
        file,
        'x: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\ny: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nz: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\napplications: { web: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c] }\n',
      );
      await expect(loadReleaseFile(file)).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringMatching(/release\.yaml:2:8: aliases expand to more than 100 nodes/),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
