/**
 * The published JSON Schemas of `--json` output (schema/output/<command>.schema.json) and a
 * vitest assertion that a command's output matches its schema.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { expect } from 'vitest';

const dir = new URL('../../schema/output/', import.meta.url);

/** Commands whose `--json` output has a schema. */
export const COMMANDS: readonly string[] = Object.freeze([
  'approve',
  'attach',
  'copy',
  'deployed',
  'diff',
  'gc',
  'history',
  'inspect',
  'login',
  'logout',
  'ls',
  'pin',
  'plan',
  'promote',
  'ref',
  'reject',
  'rollback',
  'status',
  'sync',
  'verify',
]);

let validators: Map<string, ValidateFunction> | undefined;

function load(): Map<string, ValidateFunction> {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
  ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));
  const names = readdirSync(dir).filter((n) => n.endsWith('.schema.json'));
  for (const name of names) ajv.addSchema(JSON.parse(readFileSync(new URL(name, dir), 'utf8')) as object);
  const out = new Map<string, ValidateFunction>();
  for (const name of names) {
    const id = `https://gantry.dev/schema/output/${name}`;
    const validate = ajv.getSchema(id);
    if (!validate) throw new Error(`${name} has no $id ${id}`);
    out.set(name.replace(/\.schema\.json$/, ''), validate);
  }
  return out;
}

/** The published schema names (without `.schema.json`). */
export function schemaNames(): string[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.schema.json'))
    .map((n) => n.replace(/\.schema\.json$/, ''));
}

/** What is wrong with `json` as `--json` output of `command` (empty when it matches its schema). */
export function schemaErrors(command: string, json: unknown): string[] {
  validators ??= load();
  const validate = validators.get(command);
  if (!validate) return [`no schema/output/${command}.schema.json`];
  if (validate(json)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}

/** Asserts that `json` (parsed `--json` output of `command`) matches schema/output/<command>.schema.json. */
export function expectMatchesSchema(command: string, json: unknown): void {
  expect(schemaErrors(command, json), `${command} --json: ${JSON.stringify(json).slice(0, 400)}`).toEqual([]);
}
