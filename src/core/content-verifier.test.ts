import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { ContentVerifier, verifyBytes, verifyingStream } from './content-verifier.js';
import { digestOf } from './digest.js';
import { isGantryError } from './errors.js';

const good = Buffer.from('hello, content');
const digest = digestOf(good);
const what = 'blob x';

function codeOf(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return isGantryError(err) ? err.code : 'not a GantryError';
  }
}

describe('ContentVerifier', () => {
  it.each([
    ['the right bytes', good, good.length, undefined],
    ['the right bytes, size not given', good, undefined, undefined],
    ['one byte changed', Buffer.from('hellO, content'), good.length, 'REGISTRY_DIGEST_MISMATCH'],
    ['too few bytes', good.subarray(1), good.length, 'REGISTRY_SIZE_MISMATCH'],
    ['too many bytes', Buffer.concat([good, Buffer.from('!')]), good.length, 'REGISTRY_SIZE_MISMATCH'],
  ] as const)('%s: verifyBytes → %s', (_label, bytes, size, code) => {
    expect(codeOf(() => verifyBytes(bytes, { digest, ...(size !== undefined && { size }) }, { what }))).toBe(
      code,
    );
  });

  it('stops at the first byte over the declared size, before the end', () => {
    const v = new ContentVerifier({ digest, size: 4 }, { what });
    v.update(good.subarray(0, 4));
    expect(codeOf(() => v.update(good.subarray(4, 5)))).toBe('REGISTRY_SIZE_MISMATCH');
  });

  it('puts the given details on its errors and names the content', () => {
    try {
      verifyBytes(Buffer.from('x'), { digest }, { what, details: { temporary: true } });
      expect.unreachable();
    } catch (err) {
      expect(isGantryError(err) && err.details.temporary).toBe(true);
      expect((err as Error).message).toMatch(/^blob x content hashes to sha256:/);
    }
  });

  it('as a stream: errors instead of ending on wrong content, passes right content through', async () => {
    const out: Buffer[] = [];
    await pipeline(
      Readable.from([good]),
      verifyingStream({ digest, size: good.length }, { what }),
      async (s) => {
        for await (const c of s) out.push(c as Buffer);
      },
    );
    expect(Buffer.concat(out).equals(good)).toBe(true);
    await expect(
      pipeline(Readable.from([Buffer.from('nope')]), verifyingStream({ digest }, { what }), async (s) => {
        for await (const _ of s) {
          // drain
        }
      }),
    ).rejects.toMatchObject({ code: 'REGISTRY_DIGEST_MISMATCH' });
  });
});
