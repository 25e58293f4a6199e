/** Runs the configured gates over gathered facts: a pure function, in gate order. */
import type { GateConfig } from '../../config/index.js';
import type { RecordedGate } from '../attestation.js';
import { evaluateApproval } from './approval-gate.js';
import type { GateFacts } from './facts.js';
import { evaluateSignature } from './signature.js';
import {
  evaluateEvidence,
  evaluateLabels,
  evaluatePolicy,
  evaluatePreviousEnv,
  evaluateSoak,
} from './simple-gates.js';
import { evaluateVulnerabilities } from './vulnerabilities.js';

/** Every gate's result, with reasons. */
export function evaluateGates(gates: readonly GateConfig[], facts: GateFacts): RecordedGate[] {
  let policyIndex = 0;
  let signatureIndex = 0;
  return gates.map((g): RecordedGate => {
    switch (g.name) {
      case 'labels':
        return evaluateLabels(g.options, facts);
      case 'previous-env':
        return evaluatePreviousEnv(g.options, facts);
      case 'soak':
        return evaluateSoak(g.options, facts);
      case 'evidence':
        return evaluateEvidence(g.options, facts);
      case 'approval':
        return evaluateApproval(g.options, facts);
      case 'policy':
        return evaluatePolicy(g.options, facts.policies[policyIndex++]);
      case 'vulnerabilities':
        return evaluateVulnerabilities(
          g.options,
          facts.vulnerabilityReports,
          facts.now,
          facts.unreadableReports,
          facts.refusedReports,
        );
      case 'signature':
        return evaluateSignature({
          digest: facts.digest,
          signatures: facts.signatures,
          publicKeys: facts.signatureKeys[signatureIndex++] ?? [],
        });
    }
  });
}
