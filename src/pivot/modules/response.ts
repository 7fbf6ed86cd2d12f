/**
 * `response`: before answer, `code`/`message` is the final SIP response; after answer the call is
 * hung up with that cause (the call layer maps it). `media` (a prompt reference: URL, `tts://`, stored id)
 * is played first, as early media when the call is not answered. Ends the flow.
 */
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { errText, int, str } from './data.js';
import { resolvePrompt } from '../media-prompt.js';

export const responseModule: PivotModule = {
  name: 'response',
  async run(node, ctx: ModuleContext): Promise<Step> {
    const code = int(node.data, 'code', 486);
    const message = str(node.data, 'message');
    const media = str(node.data, 'media');
    if (media) {
      const r = await resolvePrompt(ctx, media);
      if (ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };
      if (r.ok) {
        await ctx.call.play(r.prompt, { signal: ctx.signal, earlyMedia: !ctx.call.answered }).catch(() => 'finished');
        if (ctx.call.ended) return { kind: 'end', reason: 'caller_hangup' };
      }
    }
    await ctx.call.hangup({ code, ...(message !== undefined ? { reason: message } : {}) })
      .catch((err: unknown) => { ctx.log.warn({ err: errText(err) }, 'hangup failed'); });
    return { kind: 'end', reason: 'response' };
  },
};
