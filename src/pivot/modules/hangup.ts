/** `hangup`: ends the call (media is sequential, so queued media has already finished). Children never run. */
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { errText } from './data.js';

export const hangupModule: PivotModule = {
  name: 'hangup',
  async run(_node, ctx: ModuleContext): Promise<Step> {
    await ctx.call.hangup().catch((err: unknown) => { ctx.log.warn({ err: errText(err) }, 'hangup failed'); });
    return { kind: 'end', reason: 'hangup' };
  },
};
