/**
 * Hostile input, `gantry.yaml` and release files (issue 15, item 3). fast-check mutates valid
 * documents (keys dropped, duplicated, retyped, replaced by hostile values, text truncated or
 * spliced, arbitrary YAML, anchors and aliases, huge documents, bytes that are not UTF-8) and feeds
 * them to the in-process loaders. Each one is either accepted, or refused with problems (for
 * `parseConfig`) or a `CONFIG_INVALID` / `CONFIG_NOT_FOUND` GantryError (for the file loaders),
 * every message one line without a stack frame, a schema problem naming its key; never another
 * exception. Alias bombs ("billion laughs") are refused well within the generous bound below,
 * and a handful of hostile files go through the real CLI: exit 2, one line, no stack trace.
 * Loading never calls a URL: the canary's URLs sit in the documents' string values.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { isGantryError } from '../../src/core/index.js';
import { loadConfigOrThrow, loadReleaseFile, parseConfig } from '../../src/config/index.js';
import { formatProblem } from '../../src/config/problems.js';
import { recordFigures, scale, seedOf } from '../helpers/reliability.js';
import { runCli } from '../integration/run-cli.js';
import { hostileString, messageProblem, startCanary, type Canary } from './hostile-values.js';

const SEED = seedOf();
const RUNS = scale(400, 4_000);
const FILE_RUNS = scale(80, 800);
/** Generous: the loaders stop alias expansion after 100 nodes, which takes milliseconds (and a 1 MiB file is read in about a second). */
const BOMB_BOUND_MS = 5_000;

const VALID_CONFIG = `registries:
  dev: { url: "https://dev.registry.example.com" }
  prod:
    url: https://prod.registry.example.com:5000
    credentials: { usernameEnv: PROD_USER, passwordEnv: PROD_TOKEN }
  local: { url: "http://127.0.0.1:5000", tls: { verify: false } }
environments:
  dev: { registry: dev, prefix: team-a, retention: { keep: 20, olderThan: 30d } }
  staging: { registry: dev, prefix: team-a, mode: tag, tag: staging, from: [dev], auto: true }
  prod:
    registry: prod
    prefix: team-a
    from: [staging]
    tags:
      immutable: ['^v?\\d+\\.\\d+\\.\\d+$']
      floating: [latest, prod]
    gates:
      - labels: { required: { org.opencontainers.image.revision: '^[0-9a-f]{40}$' } }
      - soak: { env: staging, duration: 24h }
      - approval: { count: 2, groups: [product-owner, operations], expires: 72h }
      - policy: { url: "https://opa.internal/v1/data/gantry/allow", timeout: 5s }
applications:
  - web
  - api
  - { name: worker, repository: jobs/worker }
teams:
  payments: [web]
webhooks:
  chat:
    url: https://hooks.example.com/gantry
    events: [promotion.completed, failures]
    secretEnv: GANTRY_WEBHOOK_CHAT
`;

const VALID_RELEASE = `name: 2026.11.1
applications:
  web: 1.4.2
  api: "sha256:${'3'.repeat(64)}"
  worker: 0.9.0
`;

let dir = '';
let canary: Canary;
let fileCounter = 0;

const figures = {
  configInputs: 0,
  configAccepted: 0,
  configRefused: 0,
  releaseInputs: 0,
  releaseAccepted: 0,
  releaseRefused: 0,
  fileInputs: 0,
  otherExceptions: 0,
  multiLineMessages: 0,
  aliasBombs: 0,
  aliasBombSlowestMs: 0,
  largestFileMs: 0,
  cliRuns: 0,
  cliStackTraces: 0,
  canaryHits: 0,
};

type Path = readonly (string | number)[];

/** Every path of a plain value (objects and arrays). */
function paths(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) paths(x, [...at, k], out);
  return out;
}

type Edit =
  | { kind: 'drop'; at: number }
  | { kind: 'retype'; at: number; value: unknown }
  | { kind: 'rename'; at: number; name: string };

/** `v` with one edit applied at the path numbered `at` (a copy). */
function edit(v: unknown, e: Edit): { value: unknown; path: Path } {
  const copy = structuredClone(v);
  const all = paths(copy).filter((p) => p.length > 0);
  const path = all[e.at % Math.max(1, all.length)] ?? [];
  if (path.length === 0) return { value: copy, path };
  let parent: unknown = copy;
  for (const k of path.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[k];
  const last = path[path.length - 1] as string | number;
  const container = parent as Record<string | number, unknown>;
  if (e.kind === 'drop') {
    if (Array.isArray(container)) container.splice(Number(last), 1);
    else delete container[last];
  } else if (e.kind === 'retype') container[last] = e.value;
  else if (!Array.isArray(container)) {
    container[e.name] = container[last];
    delete container[last];
  }
  return { value: copy, path };
}

function hostileValue(strings: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  return fc.oneof(
    strings,
    fc.constantFrom(0, -1, 1e308, -0, 3.5, 2 ** 53 + 1, true, false, null, [], {}, ['x'], { __proto__: 1 }),
    fc.array(strings, { maxLength: 3 }),
    fc.dictionary(strings, strings, { maxKeys: 3 }),
    fc.integer({ min: 100, max: 3000 }).map((n) => Array.from({ length: n }, (_, i) => `item-${i}`)),
  );
}

/** Text-level damage: truncation, splices of YAML syntax, tabs, a BOM, control characters. */
const textDamage: fc.Arbitrary<(text: string) => string> = fc.oneof(
  fc.nat().map((n) => (t: string) => t.slice(0, n % (t.length + 1))),
  fc
    .tuple(
      fc.nat(),
      fc.constantFrom(
        '\t',
        ': :',
        '- ',
        '&a ',
        '*a',
        '*nothere',
        '<<: *a\n',
        '!!binary ',
        '!!js/function ',
        '? ',
        '{',
        ']',
        '"',
        "'",
        '%YAML 1.1\n',
        '---\n',
        '\n...\n',
        '\u0000',
        '\ufeff',
        '\u2028',
        '#',
        '|\n',
        '>-\n',
        '!<tag:yaml.org,2002:str> ',
      ),
    )
    .map(
      ([n, s]) =>
        (t: string) =>
          t.slice(0, n % (t.length + 1)) + s + t.slice(n % (t.length + 1)),
    ),
  fc.nat().map((n) => (t: string) => {
    // A key line duplicated: YAML keys must be unique.
    const lines = t.split('\n');
    const i = n % lines.length;
    lines.splice(i, 0, lines[i] ?? '');
    return lines.join('\n');
  }),
);

/** Documents whose aliases expand exponentially (billion laughs), in several shapes. */
function aliasBomb(levels: number, width: number, style: 'list' | 'merge' | 'flow'): string {
  let text = 'a0: &a0 "lol"\n';
  for (let i = 1; i <= levels; i++) {
    const refs = Array.from({ length: width }, () => `*a${i - 1}`);
    if (style === 'merge' && i > 1)
      text += `a${i}: &a${i}\n${refs.map((r, j) => `  k${j}: ${r}`).join('\n')}\n`;
    else if (style === 'flow') text += `a${i}: &a${i} [${refs.join(', ')}]\n`;
    else text += `a${i}: &a${i}\n${refs.map((r) => `  - ${r}`).join('\n')}\n`;
  }
  return `${text}registries: { dev: { url: "https://r.example.com" } }\napplications: *a${levels}\n`;
}

/** Why a problem list breaks the promise, or undefined. */
function problemsProblem(
  problems: readonly { path: string; message: string; line: number }[],
): string | undefined {
  if (problems.length === 0) return 'refused without a problem';
  for (const p of problems) {
    const m =
      messageProblem(p.message) ?? messageProblem(formatProblem({ file: 'gantry.yaml', column: 0, ...p }));
    if (m) return `${m}: ${JSON.stringify(p).slice(0, 300)}`;
    if (p.path === '' && p.line === 0 && !/larger than|empty|YAML|alias|document/i.test(p.message))
      return `a problem naming neither key nor line: ${p.message}`;
  }
  return undefined;
}

/** Loads with the file loader `load`: accepted, or a CONFIG_* GantryError with a one-line message. */
async function fileOutcome(load: () => Promise<unknown>): Promise<'accepted' | 'refused'> {
  try {
    await load();
    return 'accepted';
  } catch (err) {
    if (!isGantryError(err) || (err.code !== 'CONFIG_INVALID' && err.code !== 'CONFIG_NOT_FOUND')) {
      figures.otherExceptions++;
      throw new Error(`not a CONFIG_* error: ${String(err)}`, { cause: err });
    }
    const m = messageProblem(err.message);
    if (m) {
      figures.multiLineMessages++;
      throw new Error(`${m}: ${err.message.slice(0, 300)}`);
    }
    return 'refused';
  }
}

async function tempFile(content: string | Buffer): Promise<string> {
  const file = join(dir, `f${fileCounter++}.yaml`);
  await writeFile(file, content);
  return file;
}

beforeAll(async () => {
  canary = await startCanary();
  dir = await mkdtemp(join(tmpdir(), 'gantry-hostile-config-'));
  // The bases are valid: a mutation is what makes them fail.
  const base = parseConfig('gantry.yaml', VALID_CONFIG);
  expect(base.problems).toEqual([]);
  expect((await loadReleaseFile(await tempFile(VALID_RELEASE))).applications).toHaveLength(3);
});

afterAll(async () => {
  await canary?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe(`hostile gantry.yaml and release files (seed ${SEED})`, () => {
  it('parseConfig: a mutated gantry.yaml is accepted, or refused with one-line problems naming the key; never throws', () => {
    const strings = hostileString(canary.urls);
    const value = parseYaml(VALID_CONFIG) as unknown;
    const edits: fc.Arbitrary<Edit> = fc.oneof(
      fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('retype' as const), at: fc.nat(), value: hostileValue(strings) }),
      fc.record({ kind: fc.constant('rename' as const), at: fc.nat(), name: strings }),
    );
    const documents = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.array(edits, { minLength: 1, maxLength: 3 }).map((es) => {
          let v = value;
          const at: Path[] = [];
          for (const e of es) {
            const r = edit(v, e);
            v = r.value;
            at.push(r.path);
          }
          return { text: stringifyYaml(v), what: `edits at ${JSON.stringify(at)}` };
        }),
      },
      { weight: 2, arbitrary: textDamage.map((d) => ({ text: d(VALID_CONFIG), what: 'text damage' })) },
      {
        weight: 1,
        arbitrary: fc.string({ unit: 'binary', maxLength: 300 }).map((text) => ({ text, what: 'any text' })),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(
            fc.integer({ min: 3, max: 12 }),
            fc.integer({ min: 2, max: 12 }),
            fc.constantFrom('list', 'merge', 'flow'),
          )
          .map(([l, w, s]) => ({ text: aliasBomb(l, w, s as 'list'), what: `alias bomb ${l}×${w} ${s}` })),
      },
    );
    fc.assert(
      fc.property(documents, (doc) => {
        figures.configInputs++;
        let result;
        try {
          result = parseConfig('gantry.yaml', doc.text);
        } catch (err) {
          figures.otherExceptions++;
          throw new Error(`parseConfig threw for ${doc.what}: ${String(err)}\n${doc.text.slice(0, 500)}`);
        }
        if (result.config) {
          figures.configAccepted++;
          return;
        }
        figures.configRefused++;
        const problem = problemsProblem(result.problems);
        if (problem) {
          figures.multiLineMessages++;
          throw new Error(`${problem} for ${doc.what}:\n${doc.text.slice(0, 500)}`);
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: false },
    );
    expect(figures.configRefused).toBeGreaterThan(0);
  }, 120_000);

  it('alias bombs are refused with CONFIG_INVALID naming the alias, within the bound', async () => {
    for (const [levels, width, style] of [
      [9, 9, 'list'],
      [12, 10, 'flow'],
      [10, 10, 'merge'],
      [30, 2, 'list'],
    ] as const) {
      const text = aliasBomb(levels, width, style);
      for (const load of [
        () => parseConfig('gantry.yaml', text),
        async () => loadConfigOrThrow(await tempFile(text)),
        async () => loadReleaseFile(await tempFile(text.replace('applications: *', 'name: *'))),
      ]) {
        const started = performance.now();
        let message = '';
        try {
          const r = await load();
          message = (r as { problems?: { message: string }[] }).problems?.[0]?.message ?? 'accepted';
        } catch (err) {
          expect(isGantryError(err, 'CONFIG_INVALID'), String(err)).toBe(true);
          message = (err as Error).message;
        }
        const ms = performance.now() - started;
        figures.aliasBombs++;
        figures.aliasBombSlowestMs = Math.max(figures.aliasBombSlowestMs, Math.round(ms));
        expect(message).toMatch(/billion laughs/);
        expect(messageProblem(message)).toBeUndefined();
        expect(ms).toBeLessThan(BOMB_BOUND_MS);
      }
    }
  });

  it('loadReleaseFile: a mutated release file is accepted or a one-line CONFIG_INVALID; never another error', async () => {
    const strings = hostileString(canary.urls);
    const value = parseYaml(VALID_RELEASE) as unknown;
    const edits: fc.Arbitrary<Edit> = fc.oneof(
      fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('retype' as const), at: fc.nat(), value: hostileValue(strings) }),
      fc.record({ kind: fc.constant('rename' as const), at: fc.nat(), name: strings }),
    );
    const documents = fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .array(edits, { minLength: 1, maxLength: 3 })
          .map((es) => es.reduce((v, e) => edit(v, e).value, value))
          .map((v) => Buffer.from(stringifyYaml(v))),
      },
      { weight: 2, arbitrary: textDamage.map((d) => Buffer.from(d(VALID_RELEASE))) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          Buffer.from([0xff, 0xfe, 0x00, 0x61]),
          Buffer.concat([
            Buffer.from('applications:\n  web: "'),
            Buffer.from([0xc3, 0x28]),
            Buffer.from('"\n'),
          ]),
          Buffer.from(
            `applications:\n${Array.from({ length: 30_000 }, (_, i) => `  app${i}: 1.0.${i}`).join('\n')}\n`,
          ),
          Buffer.from(`applications:\n  web: "${'x'.repeat(1024 * 1024)}"\n`),
          Buffer.alloc(0),
        ),
      },
    );
    await fc.assert(
      fc.asyncProperty(documents, async (bytes) => {
        figures.releaseInputs++;
        figures.fileInputs++;
        const file = await tempFile(bytes);
        const outcome = await fileOutcome(() => loadReleaseFile(file));
        if (outcome === 'accepted') figures.releaseAccepted++;
        else figures.releaseRefused++;
      }),
      { seed: SEED, numRuns: FILE_RUNS, endOnFailure: false },
    );
    expect(figures.releaseRefused).toBeGreaterThan(0);
  }, 120_000);

  it('loadConfigOrThrow: hostile files (not UTF-8, over 1 MiB, huge, damaged) are a one-line CONFIG_* error or accepted', async () => {
    const big = `${VALID_CONFIG}# ${'x'.repeat(1024 * 1024)}\n`;
    const wide = `${VALID_CONFIG}${Array.from({ length: 20_000 }, (_, i) => `unknown${i}: ${i}`).join('\n')}\n`;
    const inputs: Buffer[] = [
      Buffer.from(big),
      Buffer.from(wide),
      Buffer.concat([Buffer.from(VALID_CONFIG), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x0a])]),
      Buffer.from([0xfe, 0xff, 0x00, 0x72, 0x00, 0x65]), // UTF-16 with a BOM
      Buffer.from(`\ufeff${VALID_CONFIG}`),
      Buffer.alloc(0),
      Buffer.from('\u0000\u0000\u0000'),
      Buffer.from(`${'['.repeat(50_000)}${']'.repeat(50_000)}`),
      Buffer.from(`${'- '.repeat(10_000)}x\n`),
      Buffer.from(`registries: ${'{a: '.repeat(5_000)}1${'}'.repeat(5_000)}\n`),
    ];
    for (const bytes of inputs) {
      figures.fileInputs++;
      figures.configInputs++;
      const file = await tempFile(bytes);
      await fileOutcome(() => loadConfigOrThrow(file));
    }
    await expect(fileOutcome(() => loadConfigOrThrow(join(dir, 'missing.yaml')))).resolves.toBe('refused');
    await expect(fileOutcome(() => loadConfigOrThrow(dir))).resolves.toBe('refused'); // a directory
  }, 120_000);

  it('regression: 45,000 keys under 1 MiB are refused in bounded time (the yaml library’s duplicate-key check was quadratic: ~50 s)', async () => {
    const keys = Array.from({ length: 45_000 }, (_, i) => `  app${i}: 1.0.${i}`);
    const release = await tempFile(`applications:\n${keys.join('\n')}\n  app7: again\n`);
    const config = `${VALID_CONFIG.replace('applications:\n', 'applications_:\n')}extra:\n${keys.join('\n')}\n`;
    expect(Buffer.byteLength(config)).toBeLessThan(1024 * 1024);
    let started = performance.now();
    await expect(loadReleaseFile(release)).rejects.toThrow(/:45002:3: Map keys must be unique$/);
    const releaseMs = performance.now() - started;
    started = performance.now();
    const result = parseConfig('gantry.yaml', config);
    const configMs = performance.now() - started;
    expect(result.config).toBeUndefined();
    expect(result.problems.length).toBeGreaterThan(0);
    figures.largestFileMs = Math.round(Math.max(releaseMs, configMs));
    expect(releaseMs).toBeLessThan(BOMB_BOUND_MS * 2);
    expect(configMs).toBeLessThan(BOMB_BOUND_MS * 2);
  }, 120_000);

  it('regression: a document nested past the stack says so (was the engine’s "Maximum call stack size exceeded")', async () => {
    for (const text of [`${'['.repeat(50_000)}${']'.repeat(50_000)}`, `${'- '.repeat(20_000)}x\n`]) {
      const problems = parseConfig('gantry.yaml', text).problems;
      expect(new Set(problems.map((p) => p.message))).toEqual(
        new Set(['the document nests too deeply (or is too complex) to read; refusing it']),
      );
      await expect(loadReleaseFile(await tempFile(text))).rejects.toThrow(/nests too deeply/);
    }
  });

  it('regression: a key holding a newline is escaped, the message stays one line (was split in two)', async () => {
    const config = parseConfig('gantry.yaml', `${VALID_CONFIG}"\\r\\nX-Injected: 1": {}\n`);
    expect(config.problems).toHaveLength(1);
    expect(config.problems[0]?.message).toContain('unknown key "\\r\\nX-Injected: 1"');
    expect(
      messageProblem(
        formatProblem(config.problems[0] ?? { file: '', line: 0, column: 0, path: '', message: '' }),
      ),
    ).toBeUndefined();
    const file = await tempFile(`applications: { web: 1.0.0 }\n"a\\nb": 1\n`);
    const err = (await loadReleaseFile(file).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/Unrecognized key: "a\\nb"$/);
    expect(messageProblem(err.message)).toBeUndefined();
  });

  it('regression: a gate named after an Object.prototype property is an unknown gate (was a TypeError from parseConfig)', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const text = VALID_CONFIG.replace('      - labels:', `      - ${JSON.stringify(name)}:`);
      let result;
      expect(() => (result = parseConfig('gantry.yaml', text)), name).not.toThrow();
      const problems = (result as unknown as ReturnType<typeof parseConfig>).problems;
      expect(problems.length, name).toBeGreaterThan(0);
      expect(problemsProblem(problems), name).toBeUndefined();
    }
  });

  it('through the real CLI: hostile files exit 2 with one line and no stack trace', async () => {
    const files = [
      await tempFile(aliasBomb(9, 9, 'list')),
      await tempFile(Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x0a])),
      await tempFile(`${VALID_CONFIG}# ${'x'.repeat(1024 * 1024)}\n`),
      await tempFile(VALID_CONFIG.replace('prefix: team-a', 'prefix: [team-a]')),
      await tempFile(VALID_CONFIG.replace('registries:', 'registries: &r\n  x: *r\nold:')),
    ];
    const release = [
      await tempFile(aliasBomb(9, 9, 'flow').replace('applications: *', 'name: *')),
      await tempFile('applications:\n  web: 1.0.0\n  web: 2.0.0\n'),
      await tempFile(`applications: { web: ${canary.urls[0] ?? ''} }\nextra: 1\n`),
    ];
    const good = await tempFile(VALID_CONFIG);
    const runs = [
      ...files.map((f) => ['status', '--config', f]),
      ...release.map((f) => ['plan', '--release', f, '--to', 'prod', '--config', good]),
    ];
    await Promise.all(
      runs.map(async (args) => {
        const r = await runCli(args, {
          env: { GANTRY_WEBHOOK_CHAT: `whsec_${Buffer.alloc(32, 1).toString('base64')}` },
        });
        figures.cliRuns++;
        if (/\n\s+at /.test(r.stderr)) figures.cliStackTraces++;
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(/\[CONFIG_INVALID\]\n$/);
        expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }),
    );
  }, 120_000);

  it('called no URL while loading', async () => {
    await new Promise((r) => setTimeout(r, 200));
    figures.canaryHits = canary.hits.length;
    expect(canary.hits).toEqual([]);
    expect(figures.otherExceptions).toBe(0);
    recordFigures('hostile-config', figures, SEED);
  });
});
