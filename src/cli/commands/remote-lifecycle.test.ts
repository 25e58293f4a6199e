import { describe, expect, it } from 'vitest';
import { GantryError } from '../../core/index.js';
import { reportOf, type RunView } from './remote-lifecycle.js';
import { flagOf } from './remote.js';

const SERVER = 'http://127.0.0.1:8080';
const report = {
  kind: 'gc',
  name: 'dev',
  dryRun: false,
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:00:01.000Z',
  items: [{ action: 'delete', repository: 'r/dev/web', digest: 'sha256:aa', done: true }],
  kept: { promoted: 1 },
  totals: { deleted: 1, planned: 1 },
};
const run = (fields: Partial<RunView>): RunView => ({
  id: 'run_1',
  kind: 'gc',
  name: 'dev',
  state: 'succeeded',
  error: null,
  ...fields,
});

function thrown(f: () => unknown): GantryError {
  try {
    f();
  } catch (error) {
    if (error instanceof GantryError) return error;
    throw error;
  }
  throw new Error('nothing thrown');
}

describe('reportOf', () => {
  it('returns the report of a run that succeeded, as is', () => {
    expect(reportOf(run({ report }), SERVER)).toEqual(report);
  });

  it("gives a failed run's report the run's error when the report has none", () => {
    const error = { code: 'OPERATION_ABORTED', message: 'interrupted three times' };
    expect(reportOf(run({ state: 'failed', error, report }), SERVER).error).toEqual(error);
    const own = { code: 'REGISTRY_DELETE_REFUSED', message: 'deletes are off' };
    expect(
      reportOf(run({ state: 'failed', error, report: { ...report, error: own } }), SERVER).error,
    ).toEqual(own);
  });

  it.each([
    ['GC_PROTECTED', 'GC_PROTECTED', 'gc dev: run run_1 failed: dev is protected'],
    [
      'SOMETHING_NEWER',
      'SERVER_PROTOCOL',
      'gc dev: run run_1 failed: dev is protected (code SOMETHING_NEWER)',
    ],
  ])('throws the error of a run that failed without a report (%s)', (code, expected, message) => {
    const e = thrown(() =>
      reportOf(run({ state: 'failed', error: { code, message: 'dev is protected' }, report: null }), SERVER),
    );
    expect([e.code, e.message, e.details]).toEqual([expected, message, { run: 'run_1' }]);
  });

  it.each([
    ['no report', run({ report: null }), 'shows run run_1 succeeded without a report'],
    ['a report without items', run({ report: { ...report, items: 'x' } }), 'items is not an array'],
    [
      'an item without a digest',
      run({ report: { ...report, items: [{ action: 'delete', repository: 'r' }] } }),
      'digest is not a string',
    ],
  ])('refuses %s as SERVER_PROTOCOL', (_, value, message) => {
    const e = thrown(() => reportOf(value, SERVER));
    expect(e.code).toBe('SERVER_PROTOCOL');
    expect(e.message).toContain(message);
  });
});

describe('flagOf', () => {
  it.each([
    ['keep', '--keep'],
    ['olderThan', '--older-than'],
    ['config', '--config'],
  ])('%s is %s', (option, flag) => {
    expect(flagOf(option)).toBe(flag);
  });
});
