/** The policy gate's port over HTTP (part of the composition root). */
import { isGantryError } from './core/index.js';
import type { PolicyFact } from './promotion/index.js';
import type { HttpTransport } from './registry/index.js';

/** Asks a policy service (OPA style); any error, timeout or odd answer denies. */
export async function askPolicy(
  transport: HttpTransport,
  url: string,
  input: unknown,
  timeoutMs: number,
): Promise<PolicyFact> {
  try {
    const res = await transport.request({
      method: 'POST',
      url: new URL(url),
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: Buffer.from(JSON.stringify({ input })),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res.body as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > 1024 * 1024) return { error: 'answer larger than 1 MiB' };
      chunks.push(c);
    }
    if (res.status !== 200) return { error: `HTTP ${res.status}` };
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      result?: unknown;
      allow?: unknown;
      reasons?: unknown;
    };
    const answer = (body.result !== undefined ? body.result : body) as { allow?: unknown; reasons?: unknown };
    if (typeof answer?.allow !== 'boolean') return { error: 'the answer has no boolean "allow"' };
    const reasons = Array.isArray(answer.reasons)
      ? answer.reasons.filter((r): r is string => typeof r === 'string')
      : [];
    return { allow: answer.allow, reasons };
  } catch (err) {
    if (isGantryError(err, 'REGISTRY_TIMEOUT')) return { error: `no answer within ${timeoutMs} ms` };
    return { error: err instanceof Error ? err.message : 'request failed' };
  }
}
