/** `send_dtmf`: send `digits` to the caller (RFC 4733 via the call layer), → `_`. */
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { errText, int, str } from './data.js';

export const sendDtmfModule: PivotModule = {
  name: 'send_dtmf',
  async run(node, ctx: ModuleContext): Promise<Step> {
    const digits = str(node.data, 'digits') ?? '';
    // duration_ms passed through to the call layer, bounded at 60 s.
    await ctx.call.sendDtmf(digits, Math.min(60_000, int(node.data, 'duration_ms', 2000)))
      .catch((err: unknown) => { ctx.log.warn({ err: errText(err) }, 'send_dtmf failed'); });
    if (ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };
    return { kind: 'next' };
  },
};
