/**
 * The OpenAPI 3.1 document, generated from the same zod schemas that validate requests
 * (`z.toJSONSchema`), so the document and the server cannot disagree.
 */
import { z } from 'zod';
import type { Access } from './roles.js';
import type { AnyRoute } from './route.js';

/** How the document describes each access level (`x-gantry-access` names it exactly). */
const NEEDS: Readonly<Record<Exclude<Access, 'public'>, string>> = Object.freeze({
  read: 'Needs a token with any role.',
  promote: 'Needs the admin or ci role.',
  approve: "Needs the admin role or approver:<environment> for the promotion's target environment.",
  notify:
    'Needs the admin, ci or registry role, or instead of a token an X-Gantry-Signature: sha256=<hex HMAC-SHA256 of the body> header.',
  deploy: 'Needs the admin, ci or deployer role.',
  admin: 'Needs the admin role.',
});

type Json = Record<string, unknown>;

const errorBody: Json = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'stable error code (docs/errors.md)' },
        message: { type: 'string' },
        requestId: { type: 'string' },
      },
    },
  },
};

function jsonSchema(schema: z.ZodType): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
  }) as Json;
  return rest;
}

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): Json[] {
  if (!schema) return [];
  const s = jsonSchema(schema);
  const required = new Set((s.required as string[] | undefined) ?? []);
  return Object.entries((s.properties as Record<string, Json> | undefined) ?? {}).map(([name, p]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    ...(typeof p.description === 'string' && { description: p.description }),
    schema: p,
  }));
}

/** The OpenAPI document of `routes`. */
export function openApiDocument(routes: readonly AnyRoute[], version: string): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const ok = String(r.status ?? 200);
    const produces = r.produces ?? 'application/json';
    const operation: Json = {
      summary: r.summary,
      ...(r.access !== 'public' && { security: [{ bearer: [] }], description: NEEDS[r.access] }),
      'x-gantry-access': r.access,
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      ...(r.body && {
        requestBody: {
          required: !r.body.safeParse(undefined).success,
          content: { 'application/json': { schema: jsonSchema(r.body) } },
        },
      }),
      responses: {
        [ok]: {
          description: 'success',
          ...(r.response && { content: { [produces]: { schema: jsonSchema(r.response) } } }),
        },
        ...(r.params || r.query || r.body ? { '400': { $ref: '#/components/responses/Error' } } : {}),
        ...(r.access !== 'public' && {
          '401': { $ref: '#/components/responses/Error' },
          '403': { $ref: '#/components/responses/Error' },
        }),
        default: { $ref: '#/components/responses/Error' },
      },
    };
    (paths[path] ??= {})[r.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Gantry API', version },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'an API token (gty_…)' },
      },
      responses: {
        Error: {
          description: 'an error with a stable code',
          content: { 'application/json': { schema: errorBody } },
        },
      },
    },
  };
}
