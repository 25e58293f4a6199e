/**
 * One way to declare a route: its zod schemas validate the request (400 `API_REQUEST_INVALID`
 * with the first problem, before the handler runs) and describe it in the OpenAPI document, so
 * the two never drift. Authentication and roles run first (`onRequest`), so a caller without a
 * valid token learns nothing about the request's shape.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { GantryError } from '../core/index.js';
import type { Access } from './roles.js';

type Schema = z.ZodType;
type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What a handler receives: the validated parts of the request. */
export interface RouteInput<P, Q, B> {
  readonly params: Out<P>;
  readonly query: Out<Q>;
  readonly body: Out<B>;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
}

/** A route: method, path (`:name` parameters), who may call it, schemas and handler. */
export interface RouteSpec<
  P extends Schema | undefined = undefined,
  Q extends Schema | undefined = undefined,
  B extends Schema | undefined = undefined,
> {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly url: string;
  readonly summary: string;
  readonly access: Access;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  /** The successful response's body, for the OpenAPI document. */
  readonly response?: Schema;
  /** Status of a successful response. Default 200. */
  readonly status?: number;
  /** Content type of a successful response. Default `application/json`. */
  readonly produces?: string;
  /**
   * The body reaches the handler as the raw bytes (a `Buffer`, whatever the content type), for
   * routes that verify a signature over them; `body` is then not given. Default false.
   */
  readonly rawBody?: boolean;
  readonly handler: (input: RouteInput<P, Q, B>) => Promise<unknown>;
}

/** A route with its type parameters erased, as the server and the OpenAPI generator see it. */
export type AnyRoute = RouteSpec<Schema | undefined, Schema | undefined, Schema | undefined>;

/** Declares a route (keeps the handler's input typed by the schemas). */
export function route<
  P extends Schema | undefined = undefined,
  Q extends Schema | undefined = undefined,
  B extends Schema | undefined = undefined,
>(spec: RouteSpec<P, Q, B>): AnyRoute {
  return spec;
}

/** Registers `spec` on `server`, with `authorize` as its `onRequest` hook. */
export function register(
  server: FastifyInstance,
  spec: AnyRoute,
  authorize: (request: FastifyRequest, access: Access) => Promise<void>,
): void {
  server.route({
    method: spec.method,
    url: spec.url,
    onRequest: (request) => authorize(request, spec.access),
    handler: async (request, reply) => {
      const params = parse(spec.params, request.params, 'path');
      const query = parse(spec.query, request.query, 'query');
      const body = parse(spec.body, request.body, 'body');
      const result = await spec.handler({ params, query, body, request, reply });
      // A handler may choose another status (e.g. /readyz's 503); otherwise the route's own.
      if (spec.status !== undefined && reply.statusCode === 200) reply.code(spec.status);
      if (spec.produces) reply.type(spec.produces);
      return result;
    },
  });
}

function parse(schema: Schema | undefined, value: unknown, where: string): unknown {
  if (!schema) return undefined;
  const result = schema.safeParse(value ?? (where === 'body' ? undefined : {}));
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.length ? `${issue.path.map(String).join('.')}: ` : '';
  throw new GantryError('API_REQUEST_INVALID', `invalid ${where}: ${path}${issue?.message ?? 'invalid'}`, {
    details: { where },
  });
}
