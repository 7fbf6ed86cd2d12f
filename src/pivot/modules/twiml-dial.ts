/**
 * `twiml_dial`: an internal module (never accepted from a web script's JSON) that TwiML `<Dial>` translates to.
 * Dials `number` through the account's carriers (as `resources`) or `sip` (a SIP URI, `<Dial><Sip>`), rings for
 * `timeout` seconds, and bridges. When it ends, DialCallStatus (completed, busy, no-answer, failed), DialCallDuration
 * and DialCallSid are kept for the next TwiML requests. The far end hanging up first leaves the caller on the line,
 * as Twilio does. Then: the `action` child (a request to `action`) when there is one, else `_` (the next verb).
 * The caller hanging up ends the flow.
 */
import type { CallflowNode } from '../callflow.js';
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { canBridge, type BridgeOutcome } from '../call-control.js';
import type { DialStatus } from '../params.js';
import { int, str } from './data.js';
import { outboundCallerId } from './resources.js';

function statusOf(o: BridgeOutcome): DialStatus {
  if (o.kind === 'bridged') return 'completed';
  if (o.kind === 'no_endpoints') return 'failed';
  if (o.cause === 'USER_BUSY' || o.code === 486 || o.code === 600) return 'busy';
  if (o.cause === 'NO_ANSWER' || o.code === 480 || o.code === 408) return 'no-answer';
  return 'failed';
}

export const twimlDialModule: PivotModule = {
  name: 'twiml_dial',
  async run(node: CallflowNode, ctx: ModuleContext): Promise<Step> {
    const d = node.data;
    const call = ctx.call;
    const hasAction = node.children?.action !== undefined;
    const next: Step = hasAction ? { kind: 'next', keys: ['action'], noDefault: true } : { kind: 'next' };
    if (!canBridge(call)) { ctx.log.warn('this call cannot place outbound legs: <Dial> skipped'); return next; }
    const timeoutSeconds = Math.min(600, Math.max(5, int(d, 'timeout', 30)));
    const callerId = outboundCallerId(ctx);
    const number = str(d, 'number');
    const sip = str(d, 'sip');
    let outcome: BridgeOutcome;
    if (sip) {
      if (!call.bridgeUri) { ctx.log.warn('this call cannot dial SIP URIs: <Sip> skipped'); return next; }
      const username = str(d, 'username');
      const password = str(d, 'password');
      outcome = await call.bridgeUri({
        uri: sip, timeoutSeconds, callerId, customSipHeaders: {}, keepCaller: true,
        ...(username !== undefined && password !== undefined ? { credentials: { username, password } } : {}),
      }, { signal: ctx.signal });
    } else if (number) {
      outcome = await call.bridgeResources({
        toDid: number, useLocalResources: true, timeoutSeconds, callerId, ignoreEarlyMedia: false, customSipHeaders: {},
        normalize: true, outboundFlags: [], keepCaller: true,
      }, { signal: ctx.signal });
    } else {
      return next;
    }
    ctx.log.info({ outcome, target: sip ?? number }, '<Dial> finished');
    if (ctx.signal.aborted || call.ended) return { kind: 'end', reason: outcome.kind === 'bridged' ? 'bridged' : 'caller_hangup' };
    ctx.setDialResult?.({
      status: statusOf(outcome),
      seconds: outcome.kind === 'bridged' ? outcome.seconds ?? 0 : 0,
      ...(outcome.kind === 'bridged' ? { sid: `${call.info.callId}-dial` } : {}),
    });
    return next;
  },
};
