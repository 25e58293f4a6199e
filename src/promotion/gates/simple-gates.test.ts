import { describe, expect, it } from 'vitest';
import { digestOf } from '../../core/index.js';
import { evaluateApproval } from './approval-gate.js';
import type { ApprovalFact, GateFacts } from './facts.js';
import {
  evaluateEvidence,
  evaluateLabels,
  evaluatePolicy,
  evaluatePreviousEnv,
  evaluateSoak,
  UNAUTHENTICATED_HISTORY,
} from './simple-gates.js';

const D = digestOf('candidate');
const NOW = new Date('2026-06-01T12:00:00Z');
const facts = (over: Partial<GateFacts> = {}): GateFacts => ({
  application: 'web',
  environment: 'prod',
  from: 'staging',
  digest: D,
  requester: 'ci',
  now: NOW,
  labels: {},
  referrers: [],
  promotions: [],
  vulnerabilityReports: [],
  signatures: [],
  signatureKeys: [],
  approvals: [],
  policies: [],
  ...over,
});

describe('labels', () => {
  const required = { 'org.opencontainers.image.revision': '^[0-9a-f]{40}$' };
  it.each([
    [
      { 'org.opencontainers.image.revision': 'a'.repeat(40) },
      'pass',
      '1 required labels present and matching',
    ],
    [{}, 'fail', 'label org.opencontainers.image.revision is missing'],
    [{ 'org.opencontainers.image.revision': 'main' }, 'fail', 'does not match'],
  ])('%j → %s', (labels, status, reason) => {
    const r = evaluateLabels({ required }, facts({ labels }));
    expect(r.status).toBe(status);
    expect(r.reasons.join(' ')).toContain(reason);
  });
});

describe('previous-env and soak', () => {
  const promoted = (time: string, environment = 'staging') => ({
    environment,
    time,
    kind: 'promotion' as const,
  });
  it.each([
    [[], 'fail', 'never promoted to staging'],
    [[promoted('2026-06-01T11:00:00Z', 'uat')], 'fail', 'never promoted to staging'],
    [[promoted('2026-06-01T11:00:00Z')], 'pass', 'promoted to staging at 2026-06-01T11:00:00Z'],
  ])('previous-env %#', (promotions, status, reason) => {
    const r = evaluatePreviousEnv({ env: 'staging' }, facts({ promotions }));
    expect([r.status, r.reasons[0]]).toEqual([status, expect.stringContaining(reason)]);
  });
  it.each([
    [[promoted('2026-05-31T11:00:00Z')], 86_400_000, 'pass', 'in staging for 1d1h (≥ 1d)'],
    [[promoted('2026-06-01T11:30:00Z')], 3_600_000, 'fail', 'in staging for 30m only; needs 1h (30m to go)'],
    [
      [promoted('2026-06-01T11:30:00Z'), promoted('2026-05-01T00:00:00Z')],
      3_600_000,
      'pass',
      'in staging for 31d12h',
    ],
    [[], 3_600_000, 'fail', 'never promoted'],
  ])('soak %#', (promotions, duration, status, reason) => {
    const r = evaluateSoak({ env: 'staging', duration }, facts({ promotions }));
    expect(r.status).toBe(status);
    expect(r.reasons[0]).toContain(reason);
  });
});

describe('evidence', () => {
  const options = {
    artifacts: [{ type: 'application/junit+xml', description: 'test report' }],
    annotations: { ticket: '^CHG[0-9]+$' },
  };
  it.each([
    [
      [],
      {},
      'fail',
      ['no test report attached (artifact type application/junit+xml)', 'annotation ticket is missing'],
    ],
    [
      [{ digest: digestOf('r'), artifactType: 'application/junit+xml', annotations: { ticket: 'CHG1' } }],
      {},
      'pass',
      [],
    ],
    [
      [{ digest: digestOf('r'), artifactType: 'application/junit+xml', annotations: {} }],
      { ticket: 'JIRA-1' },
      'fail',
      ['annotation ticket="JIRA-1" does not match ^CHG[0-9]+$'],
    ],
  ])('%#', (referrers, labels, status, reasons) => {
    const r = evaluateEvidence(options, facts({ referrers, labels }));
    expect(r.status).toBe(status);
    if (status === 'fail') expect(r.reasons).toEqual(reasons);
  });
});

describe('policy', () => {
  const options = { url: 'http://opa/v1/data/x', timeout: 5000 };
  it.each([
    [{ allow: true, reasons: [] }, 'pass', 'allowed by http://opa/v1/data/x'],
    [{ allow: false, reasons: ['change freeze'] }, 'fail', 'change freeze'],
    [{ error: 'HTTP 500' }, 'fail', 'failed: HTTP 500 (denied)'],
    [undefined, 'fail', 'no answer'],
  ])('%j', (answer, status, reason) => {
    const r = evaluatePolicy(options, answer);
    expect(r.status).toBe(status);
    expect(r.reasons[0]).toContain(reason);
  });
});

describe('approval', () => {
  const options = { count: 2, groups: ['product-owner', 'operations'], expires: 72 * 3_600_000 };
  const ok = (approver: string, groups: string[], time = '2026-06-01T10:00:00Z'): ApprovalFact => ({
    approver,
    groups,
    environment: 'prod',
    digest: D,
    time,
    source: `referrer ${approver}`,
  });
  it.each<[string, ApprovalFact[], string, string]>([
    ['none', [], 'pending', '0 of 2 approvals'],
    [
      'two from both groups',
      [ok('alice', ['product-owner']), ok('bob', ['operations'])],
      'pass',
      'approved by alice, bob',
    ],
    [
      'two from one group',
      [ok('bob', ['operations']), ok('carol', ['operations'])],
      'pending',
      'needs an approver from product-owner',
    ],
    [
      'the requester does not count',
      [ok('alice', ['product-owner']), ok('ci', ['operations'])],
      'pending',
      'the requester cannot approve',
    ],
    [
      'expired',
      [ok('alice', ['product-owner']), ok('bob', ['operations'], '2026-05-01T00:00:00Z')],
      'pending',
      'expired',
    ],
    [
      'same approver twice',
      [ok('alice', ['product-owner', 'operations']), ok('alice', ['product-owner', 'operations'])],
      'pending',
      '1 of 2 approvals (alice)',
    ],
    [
      'another digest',
      [ok('alice', ['product-owner']), { ...ok('bob', ['operations']), digest: digestOf('other') }],
      'pending',
      'it is for sha256:',
    ],
    [
      'another environment',
      [ok('alice', ['product-owner']), { ...ok('bob', ['operations']), environment: 'uat' }],
      'pending',
      'it is for uat',
    ],
    [
      'unverified signature',
      [
        ok('alice', ['product-owner']),
        {
          environment: 'prod',
          digest: D,
          time: '2026-06-01T10:00:00Z',
          groups: [],
          problem: 'not signed by a configured approver',
          source: 'referrer x',
        },
      ],
      'pending',
      'not signed by a configured approver',
    ],
  ])('%s', (_name, approvals, status, reason) => {
    const r = evaluateApproval(options, facts({ approvals }));
    expect(r.status).toBe(status);
    expect(r.reasons.join(' | ')).toContain(reason);
  });

  // Issue 9.3: alice's own promotion was refused, but `--actor Alice` passed.
  it.each(['Alice', ' alice ', 'ALICE', 'ａｌｉｃｅ'])(
    'the requester %j is alice and cannot approve her own promotion',
    (requester) => {
      const r = evaluateApproval(
        options,
        facts({ requester, approvals: [ok('alice', ['product-owner']), ok('bob', ['operations'])] }),
      );
      expect(r.status).toBe('pending');
      expect(r.reasons.join(' | ')).toContain('ignored approval by alice: the requester cannot approve');
    },
  );

  it('counts approvers whose names differ only in case once', () => {
    const r = evaluateApproval(
      options,
      facts({ approvals: [ok('alice', ['product-owner']), ok('Alice', ['operations'])] }),
    );
    expect(r.status).toBe('pending');
    expect(r.reasons[0]).toBe('1 of 2 approvals (alice)');
  });
});

describe('previous-env and soak: which history they believe (issue 10.3)', () => {
  const staging = { environment: 'staging', time: '2026-05-01T00:00:00Z', kind: 'promotion' as const };
  it('say plainly that an unauthenticated history proves nothing', () => {
    for (const r of [
      evaluatePreviousEnv({ env: 'staging' }, facts({ promotions: [staging], historyAuthenticated: false })),
      evaluateSoak(
        { env: 'staging', duration: 3_600_000 },
        facts({ promotions: [staging], historyAuthenticated: false }),
      ),
    ]) {
      expect(r.status).toBe('pass');
      expect(r.reasons).toContain(UNAUTHENTICATED_HISTORY);
    }
  });

  it('name the records they ignored', () => {
    const r = evaluatePreviousEnv(
      { env: 'staging' },
      facts({
        historyAuthenticated: true,
        ignoredPromotions: [{ environment: 'staging', attestation: D, reason: 'it is not signed' }],
      }),
    );
    expect(r.status).toBe('fail');
    expect(r.reasons[1]).toMatch(/^ignored promotion record sha256:\w+ for staging: it is not signed$/);
    expect(r.reasons).not.toContain(UNAUTHENTICATED_HISTORY);
  });
});
