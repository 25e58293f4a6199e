/**
 * Generators of hostile input shared by the hostile-* reliability suites (issue 15, item 3), and
 * the canary: an HTTP listener whose URL (in several spellings) is planted in every generated
 * string, so a suite can assert that Gantry never called a URL it was merely handed.
 *
 * JSON is generated as a small syntax tree ({@link J}) rather than as JS values, so bodies can
 * hold what `JSON.stringify` cannot write: duplicate keys, `__proto__` as an own key, number
 * tokens such as `1e309` or `-0`, and deep nesting.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';

/** A JSON syntax tree: raw number tokens, strings, booleans, null, arrays, objects as entry lists. */
export type J =
  | { readonly t: 'num'; readonly raw: string }
  | { readonly t: 'raw'; readonly text: string }
  | { readonly t: 'str'; readonly v: string }
  | { readonly t: 'lit'; readonly v: 'true' | 'false' | 'null' }
  | { readonly t: 'arr'; readonly items: readonly J[] }
  | { readonly t: 'obj'; readonly entries: readonly (readonly [string, J])[] };

export const jstr = (v: string): J => ({ t: 'str', v });
export const jnum = (raw: string): J => ({ t: 'num', raw });
export const jarr = (items: readonly J[]): J => ({ t: 'arr', items });
export const jobj = (entries: readonly (readonly [string, J])[]): J => ({ t: 'obj', entries });

/** JSON text of a tree (duplicates and `__proto__` kept as written). */
export function serialize(j: J): string {
  switch (j.t) {
    case 'num':
      return j.raw;
    case 'raw':
      return j.text;
    case 'str':
      return JSON.stringify(j.v);
    case 'lit':
      return j.v;
    case 'arr':
      return `[${j.items.map(serialize).join(',')}]`;
    case 'obj':
      return `{${j.entries.map(([k, v]) => `${JSON.stringify(k)}:${serialize(v)}`).join(',')}}`;
  }
}

/** A tree from a plain JSON value. */
export function fromValue(v: unknown): J {
  if (v === null || v === undefined) return { t: 'lit', v: 'null' };
  if (typeof v === 'boolean') return { t: 'lit', v: v ? 'true' : 'false' };
  if (typeof v === 'number') return jnum(JSON.stringify(v));
  if (typeof v === 'string') return jstr(v);
  if (Array.isArray(v)) return jarr(v.map(fromValue));
  return jobj(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, fromValue(x)] as const));
}

/** The canary: any request it receives is a URL Gantry should never have called. */
export interface Canary {
  readonly port: number;
  /** Spellings of URLs that reach the canary (or would, if anything resolved them). */
  readonly urls: readonly string[];
  readonly hits: { method: string; url: string; headers: IncomingHttpHeaders }[];
  stop(): Promise<void>;
}

/** Starts the canary on 127.0.0.1 (and tries ::1 on the same port). */
export async function startCanary(): Promise<Canary> {
  const hits: Canary['hits'] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"result":true,"allow":true}');
  };
  const v4: Server = createServer(handler);
  await new Promise<void>((resolve) => v4.listen(0, '127.0.0.1', resolve));
  const port = (v4.address() as AddressInfo).port;
  const v6: Server = createServer(handler);
  await new Promise<void>((resolve) => {
    v6.once('error', () => resolve()); // no IPv6 loopback here: the v4 listener still counts hits
    v6.listen(port, '::1', resolve);
  });
  const urls = [
    `http://127.0.0.1:${port}/x`,
    `http://127.0.0.1:${port}`,
    `//127.0.0.1:${port}`,
    `http://user:pass@127.0.0.1:${port}/allow`,
    `http://[::1]:${port}/x`,
    `http://localhost:${port}/v1/data/gantry/allow`,
    `https://127.0.0.1:${port}/hook`,
    `127.0.0.1:${port}`,
    `http://0x7f000001:${port}/`,
  ];
  return {
    port,
    urls,
    hits,
    async stop() {
      v4.closeAllConnections();
      v6.closeAllConnections();
      await Promise.all([
        new Promise((r) => v4.close(r)),
        new Promise((r) => (v6.listening ? v6.close(r) : r(undefined))),
      ]);
    },
  };
}

/** Strings meant to break parsers, paths, logs and lookups (plus the canary's URLs). */
export function hostileString(canaryUrls: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...canaryUrls) },
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        '',
        ' ',
        '..',
        '../../etc/passwd',
        '%2e%2e%2f',
        '%00',
        '\u0000',
        'a\nb',
        '\r\nX-Injected: 1',
        '__proto__',
        'constructor',
        'prototype',
        '${jndi:ldap://127.0.0.1/a}',
        "'; DROP TABLE promotions; --",
        '<script>alert(1)</script>',
        'web',
        'prod',
        'dev',
        '1.0.0',
        `sha256:${'0'.repeat(64)}`,
        'sha256:',
        'sha512:xyz',
        'gty_',
        `gty_${'0'.repeat(64)}`,
        '\u202e\u0301\ud83d\ude00',
        '\ud800',
        'ｗｅｂ',
        'NaN',
        'Infinity',
        '-0',
        '1e309',
        'true',
        'null',
        '0x10',
        '9'.repeat(400),
      ),
    },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 70_000 }).map((n) => 'x'.repeat(n)) },
  );
}

/** Number tokens JSON allows but programs mishandle (and one or two it does not allow). */
export const hostileNumber: fc.Arbitrary<J> = fc
  .oneof(
    fc.constantFrom(
      '1e309',
      '-1e309',
      '-0',
      '0',
      '1e-400',
      '9007199254740993',
      '-9007199254740993',
      '1.5',
      '-1',
      '123456789012345678901234567890',
      '1E2',
    ),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
    fc.integer().map(String),
  )
  .map(jnum);

/** Any hostile JSON value; `depth` bounds the recursion (deep nesting is generated separately). */
export function hostileJson(strings: fc.Arbitrary<string>, depth = 2): fc.Arbitrary<J> {
  const leaf: fc.Arbitrary<J> = fc.oneof(
    strings.map(jstr),
    hostileNumber,
    fc.constantFrom<J>({ t: 'lit', v: 'true' }, { t: 'lit', v: 'false' }, { t: 'lit', v: 'null' }),
  );
  if (depth <= 0) return leaf;
  const inner = hostileJson(strings, depth - 1);
  return fc.oneof(
    { weight: 4, arbitrary: leaf },
    { weight: 1, arbitrary: fc.array(inner, { maxLength: 4 }).map(jarr) },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.tuple(fc.oneof(strings, fc.constantFrom('__proto__', 'constructor')), inner), {
          maxLength: 4,
        })
        .map(jobj),
    },
    { weight: 1, arbitrary: fc.integer({ min: 200, max: 5_000 }).map((n) => deep(n)) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1_000, max: 6_000 }).map((n) => jarr(Array(n).fill(jnum('1')))),
    },
    {
      weight: 1,
      arbitrary: fc.constant(
        jobj([
          [
            '__proto__',
            jobj([
              ['admin', { t: 'lit', v: 'true' }],
              ['roles', jarr([jstr('admin')])],
            ]),
          ],
          ['constructor', jobj([['prototype', jobj([['polluted', { t: 'lit', v: 'true' }]])]])],
        ]),
      ),
    },
  );
}

/** `[[[…]]]` nested `n` deep (or objects, alternately). */
export function deep(n: number): J {
  let open = '';
  let close = '';
  for (let i = 0; i < n; i++) {
    open += i % 2 === 0 ? '[' : '{"a":';
    close = (i % 2 === 0 ? ']' : '}') + close;
  }
  return { t: 'raw', text: `${open}1${close}` };
}

/** A value certainly of the wrong type for a field declared `type` in a JSON Schema. */
export function wrongTypeFor(type: unknown): fc.Arbitrary<J> {
  const obj = jobj([['__proto__', jobj([['x', jnum('1')]])]]);
  switch (type) {
    case 'string':
      return fc.constantFrom<J>(jnum('1e309'), jnum('-0'), obj, jarr([]), { t: 'lit', v: 'true' });
    case 'array':
      return fc.constantFrom<J>(jstr('a,b'), jnum('1'), obj, { t: 'lit', v: 'false' });
    case 'number':
    case 'integer':
      return fc.constantFrom<J>(jstr('NaN'), jstr('1e309'), jarr([jnum('1')]), obj, jstr('0x1'));
    case 'boolean':
      return fc.constantFrom<J>(jstr('true'), jnum('1'), jarr([]), obj);
    case 'object':
      return fc.constantFrom<J>(jstr('{}'), jnum('0'), jarr([]), { t: 'lit', v: 'true' });
    default:
      return fc.constantFrom<J>(deep(3000), jarr(Array(5000).fill(jnum('1'))));
  }
}

/** A one-line message without a stack frame, or why not. */
export function messageProblem(message: unknown): string | undefined {
  if (typeof message !== 'string' || message === '') return 'no message';
  if (message.includes('\n')) return 'a multi-line message';
  if (/\s{2,}at \S+/.test(message) || /\bat .+:\d+:\d+\)?/.test(message)) return 'a stack frame';
  return undefined;
}
