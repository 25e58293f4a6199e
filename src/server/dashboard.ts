/**
 * The dashboard (web/, built into dist/web; decision 0016): its hashed assets under /assets/ and
 * its one page, index.html, for every other browser navigation that is not an API route, so the
 * app's own paths (/approvals, /promotions/…) survive a reload. Everything is sent with a content
 * security policy that allows only this origin: the dashboard loads nothing from elsewhere and
 * cannot be framed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** The policy: this origin only; no inline script; `data:` images (the empty favicon). */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** Paths that are never the dashboard's, even for a browser: they answer as the API does. */
const NOT_PAGES = /^\/(?:api|assets|metrics|healthz|readyz|openapi\.json)(?:\/|$)/;

/** The served dashboard: answers browser navigations with its page. */
export interface Dashboard {
  /** Sends index.html when `request` is a browser navigation to a dashboard path; else false. */
  page(request: FastifyRequest, reply: FastifyReply): boolean;
}

/**
 * Serves the dashboard built in `dir` (dist/web). Returns undefined, serving nothing, when `dir`
 * holds no build (a server run from sources without `npm run build`).
 */
export async function registerDashboard(http: FastifyInstance, dir: string): Promise<Dashboard | undefined> {
  const indexFile = join(dir, 'index.html');
  if (!existsSync(indexFile)) return undefined;
  const html = readFileSync(indexFile);
  const gz = existsSync(`${indexFile}.gz`) ? readFileSync(`${indexFile}.gz`) : undefined;
  await http.register(fastifyStatic, {
    root: join(dir, 'assets'),
    prefix: '/assets/',
    decorateReply: false,
    index: false,
    preCompressed: true,
    cacheControl: false,
    etag: true,
    setHeaders: (res) => {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.header(k, v);
      // File names carry their content hash: a new build has new names.
      res.header('cache-control', 'public, max-age=31536000, immutable');
    },
  });
  return {
    page(request, reply) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return false;
      const path = request.url.split('?')[0] ?? '/';
      if (NOT_PAGES.test(path)) return false;
      if (!(request.headers.accept ?? '').includes('text/html')) return false;
      reply.headers(SECURITY_HEADERS);
      reply.header('cache-control', 'no-cache');
      reply.header('vary', 'accept-encoding');
      reply.type('text/html; charset=utf-8');
      if (gz && /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) {
        reply.header('content-encoding', 'gzip');
        void reply.send(gz);
      } else void reply.send(html);
      return true;
    },
  };
}
