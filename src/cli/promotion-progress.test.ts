import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PromotionStreamEvent } from '../jobs/index.js';
import { createPromotionProgress } from './promotion-progress.js';

const events: PromotionStreamEvent[] = [
  { type: 'state', id: 'p_1', state: 'gated', time: 't' },
  { type: 'state', id: 'p_1', state: 'awaiting-approval', time: 't' },
  { type: 'state', id: 'p_1', state: 'copying', time: 't' },
  {
    type: 'progress',
    id: 'p_1',
    application: 0,
    bytesTransferred: 500,
    bytesTotal: 3000,
    blobsDone: 0,
    blobsTotal: 2,
  },
  {
    type: 'progress',
    id: 'p_1',
    application: 0,
    bytesTransferred: 1500,
    bytesTotal: 3000,
    blobsDone: 1,
    blobsTotal: 2,
  },
  {
    type: 'progress',
    id: 'p_1',
    application: 0,
    bytesTransferred: 1600,
    bytesTotal: 3000,
    blobsDone: 1,
    blobsTotal: 2,
  },
  { type: 'state', id: 'p_1', state: 'copying', time: 't' },
  { type: 'state', id: 'p_1', state: 'completed', time: 't' },
];

/** What the display wrote to stderr (and asserts it wrote nothing to stdout). */
async function shown(mode: 'lines' | 'none'): Promise<string> {
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const progress = await createPromotionProgress(mode, 'gantry approve p_1 --server https://g');
  for (const e of events) progress.event(e);
  progress.stop();
  expect(out).not.toHaveBeenCalled();
  return err.mock.calls.map((c) => String(c[0])).join('');
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createPromotionProgress', () => {
  it('lines: each new state, and a line each time a blob finishes', async () => {
    expect(await shown('lines')).toBe(
      [
        'Promotion p_1: gated',
        'Promotion p_1 is awaiting approval; waiting (approve it with: gantry approve p_1 --server https://g)',
        'Promotion p_1: copying',
        'Copying: 500 B of 3.0 kB, 0/2 blobs',
        'Copying: 1.5 kB of 3.0 kB, 1/2 blobs',
        'Promotion p_1: completed',
        '',
      ].join('\n'),
    );
  });

  it('none (--json): only the approval notice, which says why a pipeline waits', async () => {
    expect(await shown('none')).toBe(
      'Promotion p_1 is awaiting approval; waiting (approve it with: gantry approve p_1 --server https://g)\n',
    );
  });
});
