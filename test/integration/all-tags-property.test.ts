/**
 * Property (issue 10, "Accepted when"): whatever a source's tag list, an OCI layout's `ref.name`
 * annotations, or the destination reference hold — dot segments, `/`, `%2e`, unicode, control
 * characters, newlines — `gantry copy --all-tags` into a REAL registry never writes outside the
 * destination repository. Every request the destination receives goes through a recording proxy:
 * each write must be under `/v2/<destination repository>/`, the registry's catalog may only grow
 * by repositories under `mirror/`, and the protected `prod/web:latest` never moves. The hostile
 * source is never asked for a name that is not a valid tag or digest.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isValidRepositoryPath, isValidTag } from '../../src/registry/index.js';
import {
  fetchManifest,
  makeImage,
  pushImage,
  registryRequest,
  startFaultProxy,
  startRegistry,
  type FaultProxy,
  type RegistryProcess,
} from '../helpers/index.js';
import { startHostileSource, writeLayout, type HostileSource } from './hostile-source.js';
import { runCli } from './run-cli.js';

const RUNS = 25;
const WRITE_METHODS = new Set(['PUT', 'POST', 'PATCH', 'DELETE']);
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

const good = makeImage({ seed: 'property-good' });
const protectedImage = makeImage({ seed: 'property-prod' });

/** Names built to escape: dot segments, separators, encodings, controls, unicode, anything. */
const hostileName = fc.oneof(
  fc.constantFrom(
    '..',
    '.',
    '../../../prod/web/manifests/latest',
    '../../prod/web/blobs/uploads/',
    '%2e%2e',
    '%2e%2e%2fprod%2fweb%2fmanifests%2flatest',
    '..%2f..%2fprod',
    'a/../b',
    '\\..\\..\\prod',
    'x\ny',
    'ok\r\u001b[32mCopied OK',
    '\u001b]8;;https://evil.example/\u0007x',
    'ünïcödé',
    '日本',
    'a#b',
    'a?b=1',
    'sha256:abc',
    '-rf',
    ' ',
    'a'.repeat(129),
  ),
  fc
    .array(fc.constantFrom('..', '.', 'prod', 'web', 'manifests', 'latest', '%2e', '%2f', '', 'x'), {
      minLength: 1,
      maxLength: 8,
    })
    .map((parts) => parts.join('/')),
  fc.string({ unit: 'grapheme', maxLength: 16 }),
  fc.string({ unit: 'binary', maxLength: 16 }),
);
const validTag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,15}$/);
const tagList = fc.uniqueArray(fc.oneof(validTag, hostileName), { maxLength: 6 });
/** The last component of the destination repository (`mirror/<this>`), from the command line. */
const destinationComponent = fc
  .oneof(fc.constantFrom('a', 'b-c', 'd.e', 'x__y', 'n/m'), hostileName)
  .filter((s) => !s.includes('\u0000'));

let dst: RegistryProcess;
let proxy: FaultProxy;
let source: HostileSource;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gantry-property-'));
  dst = await startRegistry();
  [proxy, source] = await Promise.all([
    startFaultProxy({ target: dst.url }),
    startHostileSource('src/web', { tags: [], byTag: new Map(), fallback: good, extra: [] }),
  ]);
  await pushImage(dst, 'prod/web', protectedImage, 'latest');
});

afterAll(async () => {
  await Promise.all([proxy?.stop(), source?.stop()]);
  await dst?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function catalog(): Promise<string[]> {
  const res = await registryRequest(dst, '/v2/_catalog?n=10000', { authorization: null });
  return (JSON.parse(res.body.toString()) as { repositories?: string[] }).repositories ?? [];
}

/** Runs one copy and checks every write the destination received. */
async function copyAndCheck(sourceText: string, component: string, n: number): Promise<void> {
  const repository = `mirror/${component}`;
  const first = proxy.requests.length;
  const r = await runCli([
    'copy',
    '--all-tags',
    '--tls-verify=false',
    '--json',
    sourceText,
    `${proxy.host}/${repository}`,
  ]);
  const writes = proxy.requests.slice(first).filter((q) => WRITE_METHODS.has(q.method));
  expect(r.stderr, `run ${n}`).not.toContain('INTERNAL');
  if (isValidRepositoryPath(repository)) {
    expect(r.code, `run ${n}: ${r.stdout}${r.stderr}`).toBe(0);
    for (const w of writes) expect(w.url.startsWith(`/v2/${repository}/`), `${w.method} ${w.url}`).toBe(true);
  } else {
    expect(r.code, `run ${n}: ${r.stderr}`).toBe(2);
    expect(writes).toEqual([]);
  }
  expect((await catalog()).every((name) => name === 'prod/web' || name.startsWith('mirror/'))).toBe(true);
  expect((await fetchManifest(dst, 'prod/web', 'latest')).digest).toBe(protectedImage.digest);
}

describe('copy --all-tags never writes outside the destination repository', () => {
  it('for arbitrary source tag lists, layout ref names and destination references', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(tagList, tagList, destinationComponent, async (tags, refNames, component) => {
        n++;
        source.script.tags = tags;
        await copyAndCheck(`${source.host}/src/web`, component, n);
        for (const ref of source.manifestRequests()) {
          expect(isValidTag(ref) || DIGEST_RE.test(ref), `source asked for ${JSON.stringify(ref)}`).toBe(
            true,
          );
        }
        const layout = join(dir, `layout-${n}`);
        await writeLayout(
          layout,
          refNames.map((name) => [name, good] as const),
        );
        await copyAndCheck(`oci:${layout}`, component, n);
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
  }, 240_000);
});
