/** `wait_for_hangup`: keep the call up until it ends (bounded: 24 h, then the flow ends and hangs up). */
import type { ModuleContext, PivotModule, Step } from '../context.js';

export const WAIT_FOR_HANGUP_CAP_MS = 24 * 3600 * 1000;

export const waitForHangupModule: PivotModule = {
  name: 'wait_for_hangup',
  async run(_node, ctx: ModuleContext): Promise<Step> {
    const elapsed = await ctx.wait(WAIT_FOR_HANGUP_CAP_MS);
    return { kind: 'end', reason: elapsed ? 'wait_for_hangup_cap' : 'caller_hangup' };
  },
};
