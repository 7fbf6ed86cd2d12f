/** `answer`: answer the call (idempotent), → `_`. */
import type { ModuleContext, PivotModule, Step } from '../context.js';

export const answerModule: PivotModule = {
  name: 'answer',
  async run(_node, ctx: ModuleContext): Promise<Step> {
    await ctx.call.answer().catch(() => undefined);
    if (ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };
    return { kind: 'next' };
  },
};
