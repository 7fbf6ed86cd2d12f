/**
 * `device`: ring one registered device (PIVOT.md 3.3). Answered → the flow ends when the bridged call ends.
 * Failed → the hangup-cause child, then `sip:CODE`, else `_`. Unknown or unregistered device → `_`.
 */
import type { EndpointRef, EndpointsRequest } from '../call-control.js';
import { canBridge } from '../call-control.js';
import type { ModuleContext, PivotModule, Step } from '../context.js';
import type { CallflowNode } from '../callflow.js';
import { bool, str } from './data.js';
import { customHeaders, failureKeys, outboundCallerId, seconds } from './resources.js';

/** Run an endpoints bridge and turn its outcome into the next step (device/user/ring_group rules). */
export async function bridgeEndpoints(
  node: CallflowNode, ctx: ModuleContext, endpoints: EndpointRef[], extra: Partial<Pick<EndpointsRequest, 'strategy' | 'timeoutSeconds' | 'repeats' | 'defaultsFromGroup'>>,
): Promise<Step> {
  if (!canBridge(ctx.call)) {
    ctx.log.warn({ module: node.module }, 'this call cannot place outbound legs');
    return { kind: 'next', keys: ['UNSPECIFIED', 'sip:600'] };
  }
  if (endpoints.length === 0) return { kind: 'next' };
  const d = node.data;
  const outcome = await ctx.call.bridgeEndpoints({
    endpoints,
    strategy: extra.strategy ?? 'simultaneous',
    timeoutSeconds: extra.timeoutSeconds ?? 20,
    repeats: extra.repeats ?? 1,
    callerId: bool(d, 'suppress_clid') === true ? {} : outboundCallerId(ctx),
    customSipHeaders: customHeaders(d),
    ignoreEarlyMedia: bool(d, 'ignore_early_media') === true,
    ...(str(d, 'static_invite') ? { staticInvite: str(d, 'static_invite') } : {}),
    ...(bool(d, 'can_call_self') === true ? { canCallSelf: true } : {}),
    ...(extra.defaultsFromGroup ? { defaultsFromGroup: extra.defaultsFromGroup } : {}),
  }, { signal: ctx.signal });
  ctx.log.info({ module: node.module, outcome }, 'bridge finished');
  if (outcome.kind === 'bridged') return { kind: 'end', reason: 'bridged' };
  if (outcome.kind === 'no_endpoints') return { kind: 'next' };
  return { kind: 'next', keys: failureKeys(outcome) };
}

export const deviceModule: PivotModule = {
  name: 'device',
  run(node, ctx: ModuleContext): Promise<Step> {
    const d = node.data;
    const id = str(d, 'id');
    if (!id) return Promise.resolve({ kind: 'next' });
    const timeout = seconds(d, 'timeout', 0) || 20;
    const strategy = str(d, 'dial_strategy') === 'single' ? 'single' : 'simultaneous';
    return bridgeEndpoints(node, ctx, [{ type: 'device', id, delaySeconds: seconds(d, 'delay', 0), timeoutSeconds: timeout }], { timeoutSeconds: timeout, strategy });
  },
};
