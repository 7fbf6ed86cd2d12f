/**
 * `pivot` (PIVOT.md 1.1, 3.4): one webhook round trip with this node's own settings.
 * A valid reply REPLACES the rest of the flow (this node's children are dropped). A failure → `_`
 * (missing → hang-up), except strict-mode hang-up cases (empty body, bad JSON, schema) which end the call.
 * Digits typed while the request is in flight stay in the session's digit buffer.
 * `cdr_url` (both reply formats, a Hookline choice) is remembered; the session POSTs it at call end.
 */
import type { CallflowNode } from '../callflow.js';
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { buildParams } from '../params.js';
import type { PivotRequest } from '../webhook.js';
import { bool, str } from './data.js';

function headers(v: unknown): Record<string, string> | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

export const pivotModule: PivotModule = {
  name: 'pivot',
  async run(node: CallflowNode, ctx: ModuleContext): Promise<Step> {
    const d = node.data;
    const reqTimeout = d.req_timeout_ms;
    const customHeaders = headers(d.custom_request_headers);
    const req: PivotRequest = {
      voiceUrl: str(d, 'voice_url') ?? '',
      method: str(d, 'method') === 'post' ? 'post' : 'get',
      reqFormat: str(d, 'req_format') === 'twiml' ? 'twiml' : 'kazoo',
      reqBodyFormat: str(d, 'req_body_format') === 'json' ? 'json' : 'form',
      ...(typeof reqTimeout === 'number' ? { reqTimeoutMs: reqTimeout } : {}),
      debug: bool(d, 'debug') === true,
      ...(customHeaders ? { customHeaders } : {}),
      ...(str(d, 'fallback_url') ? { fallbackUrl: str(d, 'fallback_url') } : {}),
    };
    const cdrUrl = str(d, 'cdr_url');
    if (cdrUrl) ctx.setCdrUrl(cdrUrl);
    const state = ctx.paramState();
    const params = buildParams(state, req.reqFormat);
    // TwiML: a <Gather>'s digits go with the next request only (PIVOT.md 1.4: the buffer is cleared after it).
    if (req.reqFormat === 'twiml') ctx.collections.delete('gather');
    const result = await ctx.webhook.request(req, params, {
      callId: state.info.callId,
      accountId: state.info.accountId,
      iteration: ctx.nextIteration(),
      signal: ctx.signal,
    });
    if (ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };
    if (result.kind === 'flow') return { kind: 'replace', flow: result.flow };
    if (result.hangup) return { kind: 'end', reason: `pivot_${result.reason}` };
    return { kind: 'next' };
  },
};
