/**
 * docs/config.md documents every key of gantry.yaml: each property path of the published JSON
 * Schema has a row in its tables, and every row names a key the schema has.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configJsonSchema } from './index.js';

type Schema = Readonly<Record<string, unknown>>;

/** Every property path: `registries.<name>.url`, `environments.<name>.gates[].soak.env`, … */
function schemaPaths(root: Schema): string[] {
  const out = new Set<string>();
  const walk = (s: unknown, path: string): void => {
    if (!s || typeof s !== 'object') return;
    const schema = s as Schema;
    for (const key of ['anyOf', 'oneOf', 'allOf'])
      for (const branch of (schema[key] as unknown[] | undefined) ?? []) walk(branch, path);
    for (const [k, v] of Object.entries((schema.properties as Schema | undefined) ?? {})) {
      const p = path ? `${path}.${k}` : k;
      out.add(p);
      walk(v, p);
    }
    if (schema.additionalProperties && typeof schema.additionalProperties === 'object')
      walk(schema.additionalProperties, `${path}.<name>`);
    if (schema.items) walk(schema.items, `${path}[]`);
  };
  walk(root, '');
  return [...out];
}

const docs = readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8');
/** Keys in the first column of the reference tables. */
const documented = [...docs.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1] as string);

describe('docs/config.md', () => {
  const paths = schemaPaths(configJsonSchema());

  it('walks the whole schema', () => {
    expect(paths).toContain('environments.<name>.gates[].policy.timeout');
    expect(paths).toContain('registries.<name>.credentials.usernameEnv');
    expect(paths.length).toBeGreaterThan(60);
  });

  it('has a row for every key of the schema', () => {
    expect(paths.filter((p) => !documented.includes(p))).toEqual([]);
  });

  it('documents no key the schema does not have, and each once', () => {
    expect(documented.filter((p) => !paths.includes(p))).toEqual([]);
    expect(documented.filter((p, i) => documented.indexOf(p) !== i)).toEqual([]);
  });

  it('gives every row an example', () => {
    const rows = docs.split('\n').filter((l) => /^\| `[^`]+` \|/.test(l));
    const withoutExample = rows.filter((row) => {
      const cells = row.split(' | ');
      return (cells[cells.length - 1] ?? '').replace(/\|\s*$/, '').trim().length === 0;
    });
    expect(withoutExample).toEqual([]);
  });
});
