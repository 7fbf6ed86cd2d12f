/**
 * `play` (PIVOT.md 3.1): `id` is an http(s) URL (WAV/MP3, fetched and cached), `tts://text`, or a stored
 * media id. `loop_count` plays it that many times; `endless_playback` loops until the call ends (capped
 * at 24 h, not interruptible, as Kazoo); `terminators` cut it (type-ahead into `default`); `answer: false`
 * plays it as early media (183) without answering. No/invalid id, or a fetch failure → skipped, → `_`.
 */
import { DTMF_KEYS, type CallflowNode } from '../callflow.js';
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { playWithTerminators } from '../prompt.js';
import { resolvePrompt } from '../media-prompt.js';
import { bool, int, str, strList } from './data.js';

/** Most repetitions of one `play` (a bound, well above any real use). */
export const MAX_LOOP_COUNT = 1000;

export const playModule: PivotModule = {
  name: 'play',
  async run(node: CallflowNode, ctx: ModuleContext): Promise<Step> {
    const d = node.data;
    const r = await resolvePrompt(ctx, str(d, 'id'));
    if (ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };
    if (!r.ok) return { kind: 'next' };
    const endless = bool(d, 'endless_playback') === true;
    const earlyMedia = bool(d, 'answer') === false;
    // Kazoo: endless playback cannot be interrupted.
    const terminators = endless ? [] : strList(d, 'terminators') ?? DTMF_KEYS;
    const loops = endless ? 1 : Math.max(1, Math.min(MAX_LOOP_COUNT, int(d, 'loop_count', 1)));
    for (let i = 0; i < loops; i++) {
      const out = await playWithTerminators(ctx, r.prompt, { terminators, endless, earlyMedia });
      if (out.outcome === 'hangup') return { kind: 'end', reason: 'caller_hangup' };
      if (out.outcome === 'stopped') break;
    }
    return { kind: 'next' };
  },
};
