/**
 * `twiml_gather`: an internal module (never accepted from a web script's JSON: the validator does not know
 * it) that TwiML `<Gather>` translates to (`src/pivot/twiml/translate.ts`).
 *
 * data: `prompts` (nested Say/Play/Pause: `{ say, voice?, language? }`, `{ play }`, `{ pause }` seconds),
 * `num_digits` (0 = up to 128), `timeout_ms`, `finish_on_key` ('' = none). The nested prompts play in turn;
 * the first key stops them and starts the entry. Digits entered → stored as the `gather` collection (the
 * TwiML `Digits` parameter) → the `digits` child (a `pivot` to `action`); nothing entered → `_` (the next verb).
 */
import type { CallflowNode } from '../callflow.js';
import type { Prompt } from '../call-control.js';
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { resolvePrompt } from '../media-prompt.js';
import { promptAndCollect } from './menu.js';
import { int, str } from './data.js';

const MAX_GATHER_DIGITS = 128;

export const twimlGatherModule: PivotModule = {
  name: 'twiml_gather',
  async run(node: CallflowNode, ctx: ModuleContext): Promise<Step> {
    const d = node.data;
    await ctx.call.answer().catch(() => undefined);
    if (ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };
    const prompts: Prompt[] = [];
    for (const item of Array.isArray(d.prompts) ? d.prompts as unknown[] : []) {
      if (typeof item !== 'object' || item === null) continue;
      const it = item as Record<string, unknown>;
      if (typeof it.say === 'string' && it.say !== '') {
        const voice = typeof it.voice === 'string' ? it.voice : undefined;
        const language = typeof it.language === 'string' ? it.language : ctx.language;
        prompts.push({ kind: 'tts', text: it.say, ...(voice !== undefined ? { voice } : {}), ...(language !== undefined ? { language } : {}) });
      } else if (typeof it.play === 'string') {
        const r = await resolvePrompt(ctx, it.play);
        if (ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };
        if (r.ok) prompts.push(r.prompt);
      } else if (typeof it.pause === 'number' && it.pause > 0) {
        prompts.push({ kind: 'silence', ms: Math.min(600, it.pause) * 1000 });
      }
    }
    const num = int(d, 'num_digits', 0);
    const timeoutMs = Math.max(1, Math.min(3_600_000, int(d, 'timeout_ms', 5000)));
    const finish = str(d, 'finish_on_key') ?? '#';
    const entry = await promptAndCollect(ctx, prompts, {
      max: num > 0 ? Math.min(MAX_GATHER_DIGITS, num) : MAX_GATHER_DIGITS,
      timeoutMs,
      interdigitMs: timeoutMs,
      terminators: new Set(finish === '' ? [] : [finish]),
    });
    if (ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };
    if (entry === '') return { kind: 'next' };
    ctx.setCollection('gather', entry);
    return { kind: 'next', keys: ['digits'], noDefault: true };
  },
};
