/**
 * `response`: before answer, `code`/`message` is the final SIP response; after answer the call is
 * hung up with that cause (the call layer maps it). `media` (early media) is a later issue: logged.
 * Ends the flow.
 */
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { errText, int, str } from './data.js';

export const responseModule: PivotModule = {
  name: 'response',
  async run(node, ctx: ModuleContext): Promise<Step> {
    const code = int(node.data, 'code', 486);
    const message = str(node.data, 'message');
    const media = str(node.data, 'media');
    if (media) ctx.log.warn({ media }, 'response: media not yet available, skipped');
    await ctx.call.hangup({ code, ...(message !== undefined ? { reason: message } : {}) })
      .catch((err: unknown) => { ctx.log.warn({ err: errText(err) }, 'hangup failed'); });
    return { kind: 'end', reason: 'response' };
  },
};
