import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configJsonSchema } from './index.js';

describe('published JSON Schema', () => {
  it('is up to date with the configuration schema (run npm run schema)', () => {
    const published: unknown = JSON.parse(
      readFileSync(new URL('../../schema/gantry.schema.json', import.meta.url), 'utf8'),
    );
    expect(published).toEqual(configJsonSchema());
  });

  it('describes the top-level sections', () => {
    const schema = configJsonSchema() as {
      properties: Record<string, unknown>;
      required: string[];
      additionalProperties: boolean;
    };
    expect(Object.keys(schema.properties)).toEqual([
      'registries',
      'environments',
      'applications',
      'attestation',
      'approvers',
      'teams',
      'webhooks',
      'events',
      'sync',
    ]);
    expect(schema.required).toEqual(['registries', 'environments', 'applications']);
    expect(schema.additionalProperties).toBe(false);
  });
});
