/**
 * `resources` (and `offnet`): bridge the caller to a number through carriers (PIVOT.md 3.3).
 * Answered → the flow ends when the bridged call ends. Failed → the hangup-cause child, then `sip:CODE`;
 * with neither, strict mode hangs up (Kazoo does not go to `_` here) and lenient mode takes `_`.
 * Also the shared helpers of the bridge modules (`device`, `user`, `ring_group`).
 */
import type { BridgeCallerId, BridgeOutcome } from '../call-control.js';
import { canBridge } from '../call-control.js';
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { bool, int, str, strList, type Data } from './data.js';

/** Caller ID for outbound legs: `set_cid` override else the caller's own, with a `prepend_cid` prefix. */
export function outboundCallerId(ctx: ModuleContext): BridgeCallerId {
  const o = ctx.callerId.override;
  const p = ctx.callerId.prefix;
  const name = o?.name ?? ctx.call.info.callerIdName;
  const number = o?.number ?? ctx.call.info.callerIdNumber;
  return {
    ...(name !== undefined || p?.name ? { name: (p?.name ?? '') + (name ?? '') } : {}),
    ...(number !== undefined || p?.number ? { number: (p?.number ?? '') + (number ?? '') } : {}),
  };
}

/** `custom_sip_headers`: string values only, names that are header tokens, at most 32. */
export function customHeaders(d: Data): Record<string, string> {
  const v = d.custom_sip_headers;
  const out: Record<string, string> = {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  let n = 0;
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (n >= 32) break;
    if (!/^[A-Za-z0-9!%*_+`'~.-]{1,64}$/.test(k)) continue;
    const s = typeof val === 'string' ? val : typeof val === 'number' || typeof val === 'boolean' ? String(val) : undefined;
    if (s === undefined || /[\r\n]/.test(s) || s.length > 1024) continue;
    out[k] = s;
    n++;
  }
  return out;
}

/** Integer from data, accepting numeric strings (lenient scripts), else `dflt`. */
export function seconds(d: Data, key: string, dflt: number): number {
  const v = d[key];
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return int(d, key, dflt);
}

/** Keys to try after a failed bridge: the cause, then the SIP code. */
export function failureKeys(o: Extract<BridgeOutcome, { kind: 'failed' }>): string[] {
  return [o.cause, `sip:${o.code}`];
}

const UNAVAILABLE_KEYS = ['UNSPECIFIED', 'sip:600'] as const;

export const resourcesModule: PivotModule = {
  name: 'resources',
  async run(node, ctx: ModuleContext): Promise<Step> {
    const d = node.data;
    const strictNoDefault = ctx.compat === 'strict';
    if (!canBridge(ctx.call)) {
      // Same as a module not available: a cause/code child only (Kazoo's default failure), else hang up.
      ctx.log.warn({ module: node.module }, 'this call cannot place outbound legs');
      return { kind: 'next', keys: UNAVAILABLE_KEYS, noDefault: true };
    }
    const toDid = str(d, 'to_did') ?? ctx.call.info.request;
    const timeout = seconds(d, 'timeout', 0);
    const outcome = await ctx.call.bridgeResources({
      toDid,
      useLocalResources: bool(d, 'use_local_resources') ?? true,
      ...(timeout > 0 ? { timeoutSeconds: timeout } : {}),
      callerId: outboundCallerId(ctx),
      ignoreEarlyMedia: bool(d, 'ignore_early_media') === true,
      customSipHeaders: customHeaders(d),
      normalize: !(bool(d, 'bypass_e164') === true || bool(d, 'do_not_normalize') === true),
      outboundFlags: strList(d, 'outbound_flags') ?? [],
      ...(str(d, 'hunt_account_id') ? { huntAccountId: str(d, 'hunt_account_id') } : {}),
      ...(bool(d, 'format_from_uri') === true ? { formatFromUri: true } : {}),
      ...(str(d, 'from_uri_realm') ? { fromUriRealm: str(d, 'from_uri_realm') } : {}),
      ...(bool(d, 'emit_account_id') === true ? { emitAccountId: true } : {}),
    }, { signal: ctx.signal });
    ctx.log.info({ module: node.module, toDid, outcome }, 'resources finished');
    if (outcome.kind === 'bridged') return { kind: 'end', reason: 'bridged' };
    if (outcome.kind === 'no_endpoints') {
      return { kind: 'next', keys: ['NO_ROUTE_DESTINATION', 'sip:404'], noDefault: strictNoDefault };
    }
    return { kind: 'next', keys: failureKeys(outcome), noDefault: strictNoDefault };
  },
};
