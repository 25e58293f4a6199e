import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bundleKey, codeCacheDir, codeCacheFile, launch } from './code-cache.js';

describe('codeCacheDir', () => {
  it('uses XDG_CACHE_HOME, then ~/.cache', () => {
    expect(codeCacheDir({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/a' })).toBe('/x/cache/gantry/code-cache');
    expect(codeCacheDir({ HOME: '/home/a' })).toBe('/home/a/.cache/gantry/code-cache');
  });

  it('ignores a relative XDG_CACHE_HOME and a relative HOME', () => {
    expect(codeCacheDir({ XDG_CACHE_HOME: 'rel', HOME: '/home/a' })).toBe('/home/a/.cache/gantry/code-cache');
    expect(codeCacheDir({ HOME: 'rel' })).toBeUndefined();
  });

  it('is switched off by GANTRY_NO_CODE_CACHE', () => {
    expect(codeCacheDir({ GANTRY_NO_CODE_CACHE: '1', HOME: '/home/a' })).toBeUndefined();
    expect(codeCacheDir({ GANTRY_NO_CODE_CACHE: '0', HOME: '/home/a' })).toBe(
      '/home/a/.cache/gantry/code-cache',
    );
  });
});

describe('codeCacheFile', () => {
  it('keeps one cache per command, named after the first non-option argument', () => {
    const key = bundleKey('source');
    expect(codeCacheFile('/c', key, ['node', 'gantry', 'copy', 'a', 'b'])).toBe(`/c/${key}.copy.v8`);
    expect(codeCacheFile('/c', key, ['node', 'gantry', '--json', 'status'])).toBe(`/c/${key}.status.v8`);
    expect(codeCacheFile('/c', key, ['node', 'gantry', '--version'])).toBe(`/c/${key}.other.v8`);
    expect(codeCacheFile('/c', key, ['node', 'gantry', '../../etc'])).toBe(`/c/${key}.other.v8`);
  });

  it('changes with the source', () => {
    expect(bundleKey('a')).not.toBe(bundleKey('b'));
    expect(bundleKey('a')).toContain(process.version);
  });
});

describe('launch', () => {
  let dir: string;
  let saved: NodeJS.ProcessEnv;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gantry-launch-'));
    saved = { ...process.env };
    process.env.XDG_CACHE_HOME = join(dir, 'cache');
    delete process.env.GANTRY_NO_CODE_CACHE;
  });

  afterEach(() => {
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  const cacheDir = () => join(dir, 'cache', 'gantry', 'code-cache');

  function writeBundle(body: string): string {
    const file = join(dir, 'cli.cjs');
    writeFileSync(
      file,
      `const path = require('node:path');
       exports.main = async (argv) => { globalThis.__launchTest = { argv, dir: path.basename(__dirname), file: __filename }; ${body} };`,
    );
    return file;
  }

  const ran = () =>
    (globalThis as { __launchTest?: { argv: string[]; dir: string; file: string } }).__launchTest;

  it('runs the bundle as CommonJS and stores a cache for the command', async () => {
    const file = writeBundle('');
    await launch(file, ['node', 'gantry', 'copy', 'x']);
    expect(ran()).toEqual({ argv: ['node', 'gantry', 'copy', 'x'], dir: dir.split('/').pop(), file });
    const entries = readdirSync(cacheDir());
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatch(/\.copy\.v8$/);
    expect(statSync(cacheDir()).mode & 0o777).toBe(0o700);
    expect(statSync(join(cacheDir(), entries[0] as string)).mode & 0o777).toBe(0o600);
  });

  it('uses an accepted cache without rewriting it, and replaces a rejected one', async () => {
    const file = writeBundle('');
    await launch(file, ['node', 'gantry', 'copy']);
    const cache = join(cacheDir(), readdirSync(cacheDir())[0] as string);
    const mtime = statSync(cache).mtimeMs;
    await launch(file, ['node', 'gantry', 'copy']);
    expect(statSync(cache).mtimeMs).toBe(mtime);

    // A source this process has not compiled yet (V8 would otherwise answer from its in-memory cache).
    const other = writeBundle('/* another build */');
    const planted = codeCacheFile(cacheDir(), bundleKey(readFileSync(other, 'utf8')), ['n', 'g', 'copy']);
    writeFileSync(planted, Buffer.from('not a V8 code cache'));
    await launch(other, ['node', 'gantry', 'copy']);
    expect(readFileSync(planted).equals(Buffer.from('not a V8 code cache'))).toBe(false);
    expect(readFileSync(planted).length).toBeGreaterThan(100);
  });

  it('drops the caches of an older bundle when it writes one', async () => {
    mkdirSync(cacheDir(), { recursive: true, mode: 0o700 });
    writeFileSync(join(cacheDir(), 'old-v20.0.0-x64.copy.v8'), 'x');
    await launch(writeBundle(''), ['node', 'gantry', 'status']);
    expect(readdirSync(cacheDir()).filter((n) => n.startsWith('old-'))).toEqual([]);
  });

  it('neither reads nor writes a cache directory others can write to', async () => {
    mkdirSync(cacheDir(), { recursive: true });
    chmodSync(cacheDir(), 0o777);
    const file = writeBundle('');
    const planted = codeCacheFile(cacheDir(), bundleKey(readFileSync(file, 'utf8')), ['n', 'g', 'copy']);
    writeFileSync(planted, 'planted');
    await launch(file, ['node', 'gantry', 'copy']);
    expect(readFileSync(planted, 'utf8')).toBe('planted');
    expect(readdirSync(cacheDir())).toEqual([planted.split('/').pop()]);
  });

  it('runs without a cache when switched off', async () => {
    process.env.GANTRY_NO_CODE_CACHE = '1';
    await launch(writeBundle(''), ['node', 'gantry', 'copy']);
    expect(ran()?.argv).toEqual(['node', 'gantry', 'copy']);
    expect(() => readdirSync(cacheDir())).toThrow();
  });

  it('writes no cache when the command fails', async () => {
    const file = writeBundle("throw new Error('boom');");
    await expect(launch(file, ['node', 'gantry', 'copy'])).rejects.toThrow('boom');
    expect(() => readdirSync(cacheDir())).toThrow();
  });
});
