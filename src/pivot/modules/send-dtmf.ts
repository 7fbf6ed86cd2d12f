/**
 * `send_dtmf` (PIVOT.md 3.1): send `digits` to the caller (RFC 4733 via the call layer), → `_`.
 * `duration_ms` (default 2000) is the length of each tone, as Kazoo passes it to the switch; it is clamped
 * to what RFC 4733 events carry here (20–8000 ms). `w` pauses 500 ms and `W` 1 s between digits.
 */
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { errText, int, str } from './data.js';

export const MIN_DTMF_MS = 20;
export const MAX_DTMF_MS = 8000;

export const sendDtmfModule: PivotModule = {
  name: 'send_dtmf',
  async run(node, ctx: ModuleContext): Promise<Step> {
    const digits = str(node.data, 'digits') ?? '';
    const duration = Math.max(MIN_DTMF_MS, Math.min(MAX_DTMF_MS, int(node.data, 'duration_ms', 2000)));
    // Runs of keys between pauses.
    for (const part of digits.match(/[0-9*#A-Da-d]+|[wW]/g) ?? []) {
      if (ctx.signal.aborted) break;
      if (part === 'w' || part === 'W') {
        if (!(await ctx.wait(part === 'w' ? 500 : 1000))) break;
        continue;
      }
      await ctx.call.sendDtmf(part.toUpperCase(), duration)
        .catch((err: unknown) => { ctx.log.warn({ err: errText(err) }, 'send_dtmf failed'); });
    }
    if (ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };
    return { kind: 'next' };
  },
};
