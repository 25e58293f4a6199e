/**
 * What the request log says about a request: method, URL, host and client, never headers (they
 * carry tokens). Gantry reads no credential from a query string, but a client may still put one
 * there (`?access_token=…`), so the values of query parameters whose names look like credentials
 * are redacted before the URL is logged.
 */
import type { FastifyRequest } from 'fastify';

const SENSITIVE = /token|secret|passw|pwd|key|sig|auth|credential|session|code/i;

/** `url` with the values of credential-like query parameters replaced by `[redacted]`. */
export function redactQuery(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq < 0 ? pair : pair.slice(0, eq);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        // a malformed escape: judge the raw name
      }
      return SENSITIVE.test(name) && eq >= 0 ? `${rawName}=[redacted]` : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

/** pino's `req` serializer for Fastify's request log. */
export function requestLogSerializer(req: FastifyRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: redactQuery(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}
