/**
 * Input from registries and layouts is untrusted (issue 10, items 1, 4 and 8), through the CLI:
 * - a source tag list or a layout `ref.name` such as `../../../prod/web/manifests/latest` never
 *   makes Gantry request or write outside the destination repository; valid tags still copy;
 * - a 40-level index that lists each level twice is refused with `COPY_LIMIT_EXCEEDED` (exit 1),
 *   one line, no out-of-memory crash;
 * - registry error messages and tag names reach the terminal with control characters escaped.
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fetchManifest,
  makeImage,
  pushImage,
  registryRequest,
  sendJson,
  sendRegistryError,
  sha256Digest,
  startFakeRegistry,
  startRegistry,
  type FakeRegistry,
  type RegistryProcess,
  type TestIndex,
} from '../helpers/index.js';
import { startHostileSource, writeLayout, type HostileSource } from './hostile-source.js';
import { runCli } from './run-cli.js';

const insecure = '--tls-verify=false';
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const HOSTILE_TAGS = [
  '../../../prod/web/manifests/latest',
  '..',
  'ok/../../../../prod/web/manifests/latest',
  '%2e%2e%2f%2e%2e%2fprod%2fweb%2fmanifests%2flatest',
  'line\nbreak',
  '\u001b[2Jclear',
];

const good = makeImage({ seed: 'input-good' });
const evil = makeImage({ seed: 'input-evil' });
const prodImage = makeImage({ seed: 'input-prod' });

let dst: RegistryProcess;
let source: HostileSource;
let dir: string;

async function catalog(registry: RegistryProcess): Promise<string[]> {
  const res = await registryRequest(registry, '/v2/_catalog', { authorization: null });
  return ((JSON.parse(res.body.toString()) as { repositories?: string[] }).repositories ?? []).sort();
}

async function prodLatest(): Promise<string | undefined> {
  return (await fetchManifest(dst, 'prod/web', 'latest')).digest;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gantry-input-'));
  [dst, source] = await Promise.all([
    startRegistry(),
    startHostileSource('src/web', {
      tags: ['1.0', ...HOSTILE_TAGS],
      byTag: new Map([['1.0', good]]),
      fallback: evil,
      extra: [],
    }),
  ]);
  await pushImage(dst, 'prod/web', prodImage, 'latest');
});

afterAll(async () => {
  await Promise.all([dst?.stop(), source?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('copy --all-tags with a hostile source tag list', () => {
  it('copies the valid tags, skips the others with a report, and writes nothing outside the destination', async () => {
    const r = await runCli([
      'copy',
      '--all-tags',
      insecure,
      '--json',
      `${source.host}/src/web`,
      `${dst.host}/mirror/web`,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      tags: number;
      copied: { tags: string[]; digest: string }[];
      skipped: { tag: string }[];
    };
    expect(out.tags).toBe(1);
    expect(out.copied.map((c) => c.tags)).toEqual([['1.0']]);
    expect(out.skipped).toHaveLength(HOSTILE_TAGS.length);
    for (const s of out.skipped) expect(s.tag).not.toMatch(CONTROL);
    // prod's latest is untouched, and the destination registry holds only the two repositories.
    expect(await prodLatest()).toBe(prodImage.digest);
    expect(await catalog(dst)).toEqual(['mirror/web', 'prod/web']);
    expect((await fetchManifest(dst, 'mirror/web', '1.0')).digest).toBe(good.digest);
    // No hostile name was ever asked of the source.
    for (const ref of source.manifestRequests()) expect(HOSTILE_TAGS).not.toContain(ref);
  });

  it('prints the skipped entries escaped in the human summary', async () => {
    const r = await runCli([
      'copy',
      '--all-tags',
      insecure,
      `${source.host}/src/web`,
      `${dst.host}/mirror/human`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Skipped ${HOSTILE_TAGS.length} source tag-list entries`);
    expect(r.stdout).toContain('"line\\nbreak"');
    expect(r.stdout).toContain('"\\e[2Jclear"');
    expect(r.stdout).not.toMatch(CONTROL);
    expect(await prodLatest()).toBe(prodImage.digest);
  });
});

describe('copy --all-tags from an OCI layout with hostile ref.name annotations', () => {
  it('copies the valid names and never writes outside the destination', async () => {
    const layout = join(dir, 'hostile-layout');
    await writeLayout(layout, [
      ['2.0', good],
      ['../../../prod/web/manifests/latest', evil],
      ['a/../../b', evil],
    ]);
    const r = await runCli([
      'copy',
      '--all-tags',
      insecure,
      '--json',
      `oci:${layout}`,
      `${dst.host}/mirror/layout`,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { copied: { tags: string[] }[]; skipped: { tag: string }[] };
    expect(out.copied.map((c) => c.tags)).toEqual([['2.0']]);
    expect(out.skipped.map((s) => s.tag).sort()).toEqual(['../../../prod/web/manifests/latest', 'a/../../b']);
    expect(await prodLatest()).toBe(prodImage.digest);
    expect(await catalog(dst)).not.toContain('b');
    expect((await catalog(dst)).every((n) => n.startsWith('mirror/') || n === 'prod/web')).toBe(true);
  });
});

/** An index `levels` deep whose every level lists the level below twice (the 511-byte root). */
function doubledIndex(levels: number): { root: TestIndex; all: TestIndex[] } {
  const leaf = makeImage({ seed: 'input-deep-leaf' });
  const all: TestIndex[] = [];
  let below: { mediaType: string; digest: string; size: number } = leaf.descriptor;
  let blobs = leaf.blobs;
  const images = [leaf];
  for (let i = 0; i < levels; i++) {
    const mediaType = 'application/vnd.oci.image.index.v1+json';
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests: [below, below] }));
    const digest = sha256Digest(manifest);
    const index: TestIndex = {
      manifest,
      mediaType,
      digest,
      size: manifest.length,
      images: i === 0 ? images : [],
      blobs,
      descriptor: { mediaType, digest, size: manifest.length },
    };
    all.push(index);
    below = { mediaType, digest, size: manifest.length };
    blobs = new Map();
  }
  return { root: all[all.length - 1] as TestIndex, all };
}

describe('unbounded graphs', () => {
  it('refuses a 40-level doubled index with COPY_LIMIT_EXCEEDED, one line, exit 1', async () => {
    const { root, all } = doubledIndex(40);
    source.script.byTag.set('deep', root);
    source.script.extra.push(...all);
    const r = await runCli([
      'copy',
      insecure,
      `${source.host}/src/web:deep`,
      `oci:${join(dir, 'deep-out')}:deep`,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^gantry: .*nests indexes more than 8 levels deep.*\[COPY_LIMIT_EXCEEDED\]\n$/);
    expect(r.stdout).toBe('');
  });

  it('refuses the same graph from an OCI layout, and writes no destination', async () => {
    const { root, all } = doubledIndex(40);
    const layout = join(dir, 'deep-layout');
    const blobs = join(layout, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    for (const index of all) {
      await writeFile(join(blobs, index.digest.slice(7)), index.manifest);
      for (const image of index.images) {
        await writeFile(join(blobs, image.digest.slice(7)), image.manifest);
        for (const [digest, data] of image.blobs) await writeFile(join(blobs, digest.slice(7)), data);
      }
    }
    await writeFile(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ ...root.descriptor, annotations: { 'org.opencontainers.image.ref.name': 'deep' } }],
      }),
    );
    const out = join(dir, 'deep-layout-out');
    const r = await runCli(['copy', `oci:${layout}:deep`, `oci:${out}:deep`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^gantry: .*nests indexes more than 8 levels deep.*\[COPY_LIMIT_EXCEEDED\]\n$/);
    await expect(stat(join(out, 'index.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('registry text reaching the terminal', () => {
  let liar: FakeRegistry;
  const message =
    '\u001b]8;;https://evil.example/\u0007click\u001b]8;;\u0007\u001b[2J\r\u001b[32mCopied OK\u001b[0m';

  beforeAll(async () => {
    liar = await startFakeRegistry((req, res) => {
      if (req.url === '/v2/') return sendJson(res, 200, {});
      if (req.url?.includes('/tags/list')) {
        return sendJson(res, 200, {
          name: 'app',
          tags: ['good', 'evil\nCopied OK', '\u001b[2Jwiped', 'v\r1'],
        });
      }
      return sendRegistryError(res, 403, 'DENIED', message);
    });
  });
  afterAll(async () => liar?.stop());

  it('escapes control characters of a registry error message', async () => {
    const r = await runCli(['inspect', insecure, `${liar.host}/app:1.0`]);
    expect(r.code).toBe(6);
    expect(r.stderr).not.toMatch(CONTROL);
    expect(r.stderr).toContain('\\e]8;;https://evil.example/\\x07click');
    expect(r.stderr).toContain('\\rCopied OK'.replace('\\r', '\\r\\e[32m'));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('keeps --json output valid JSON with the text escaped', async () => {
    const r = await runCli(['inspect', insecure, '--json', `${liar.host}/app:1.0`]);
    expect(r.code).toBe(6);
    expect(r.stdout).not.toMatch(CONTROL);
    const out = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    expect(out.error.code).toBe('REGISTRY_DENIED');
    expect(out.error.message).not.toMatch(CONTROL);
  });

  it('ls prints valid tags only and warns about the others, escaped', async () => {
    const r = await runCli(['ls', insecure, `${liar.host}/app`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('good\n');
    expect(r.stderr).not.toMatch(CONTROL);
    expect(r.stderr).toContain('"evil\\nCopied OK"');
    expect(r.stderr).toContain('"\\e[2Jwiped"');
    const json = await runCli(['ls', insecure, '--json', `${liar.host}/app`]);
    expect(JSON.parse(json.stdout)).toEqual({
      repository: `${liar.host}/app`,
      tags: ['good'],
      invalidTags: ['evil\\nCopied OK', '\\e[2Jwiped', 'v\\r1'],
    });
  });
});

describe('tag list pagination', () => {
  let elsewhere: FakeRegistry;
  let linker: FakeRegistry;

  beforeAll(async () => {
    elsewhere = await startFakeRegistry((_req, res) => sendJson(res, 200, { tags: ['x'] }));
    linker = await startFakeRegistry((req, res) => {
      if (req.url === '/v2/') return sendJson(res, 200, {});
      return sendJson(
        res,
        200,
        { name: 'app', tags: ['a'] },
        { link: `<http://${elsewhere.host}/v2/app/tags/list?n=1&last=a>; rel="next"` },
      );
    });
  });
  afterAll(async () => Promise.all([elsewhere?.stop(), linker?.stop()]));

  it('never follows a next-page link to another origin', async () => {
    const r = await runCli(['ls', insecure, '--creds', 'user:secret-password', `${linker.host}/app`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/links its next page elsewhere.*\[REGISTRY_PROTOCOL\]\n$/);
    expect(r.stderr).not.toContain('secret-password');
    expect(elsewhere.requests).toEqual([]);
  });
});
