/**
 * Turning anything thrown while answering into `{error: {code, message, requestId}}` with the
 * status from the one table (http-status.ts). Never a stack trace; an unexpected error is logged
 * with its request id and answered with a generic 500.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { GantryError, isGantryError, type ErrorCode } from '../core/index.js';
import { isStoreUnavailable } from '../store/index.js';
import { httpStatusFor } from './http-status.js';

/** The body of every error response. */
export interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly requestId: string };
}

/** Fastify's handler for errors thrown by routes, hooks and body parsing. */
export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): ErrorBody {
  let status: number;
  let code: ErrorCode;
  let message: string;
  if (isGantryError(error)) {
    status = httpStatusFor(error.code);
    code = error.code;
    message = status >= 500 && error.code === 'INTERNAL' ? 'internal error' : error.message;
  } else if (isClientError(error)) {
    // Fastify's own refusals before a handler runs: malformed JSON, wrong content type, too large.
    status = error.statusCode;
    code = 'API_REQUEST_INVALID';
    message = error.message;
  } else if (isStoreUnavailable(error)) {
    // The database is down or restarting: try again, not a server bug.
    status = httpStatusFor('STORE_UNREACHABLE');
    code = 'STORE_UNREACHABLE';
    message = 'the store (database) cannot be reached right now; try again';
  } else {
    status = 500;
    code = 'INTERNAL';
    message = 'internal error';
  }
  if (status >= 500) request.log.error({ err: error, code }, 'request failed');
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="gantry"');
  reply.code(status);
  return { error: { code, message: message.split('\n')[0] ?? message, requestId: request.id } };
}

function isClientError(error: unknown): error is FastifyError & { statusCode: number } {
  const status = (error as Partial<FastifyError>).statusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** The 404 for a route that does not exist. */
export function notFound(request: FastifyRequest): GantryError {
  return new GantryError('API_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`);
}

/** What Node's HTTP parser refuses before Fastify sees a request: status, reason, message. */
const PARSER_REFUSALS: Record<string, readonly [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [
    431,
    'Request Header Fields Too Large',
    'the request line and headers are larger than 16 KB',
  ],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'the request was not received in time'],
};

/**
 * Fastify's `clientErrorHandler`: a request Node's parser refuses (headers past 16 KB, broken
 * HTTP) gets the API's error body too, then the connection is closed.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return;
  const [status, reason, message] = PARSER_REFUSALS[error.code ?? ''] ?? [
    400,
    'Bad Request',
    'the request is not well-formed HTTP/1.1',
  ];
  const body: ErrorBody = { error: { code: 'API_REQUEST_INVALID', message, requestId: randomUUID() } };
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
}
