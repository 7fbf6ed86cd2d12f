/**
 * `tts` (and the lenient alias `say`, rewritten to `tts` by validation): speak `text`.
 * Answers the call (through `play`), blocks until the speech ends or a terminator is pressed, → `_`.
 * Language: `data.language`, else the call language, else the TTS default of the call layer.
 */
import { DTMF_KEYS, type CallflowNode } from '../callflow.js';
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { playWithTerminators } from '../prompt.js';
import { bool, str, strList } from './data.js';

export const ttsModule: PivotModule = {
  name: 'tts',
  async run(node: CallflowNode, ctx: ModuleContext): Promise<Step> {
    const d = node.data;
    const text = str(d, 'text') ?? '';
    const language = str(d, 'language') ?? ctx.language;
    const voice = str(d, 'voice');
    const engine = str(d, 'engine');
    const r = await playWithTerminators(ctx, {
      kind: 'tts',
      text,
      ...(voice !== undefined ? { voice } : {}),
      ...(language !== undefined ? { language } : {}),
      ...(engine !== undefined ? { engine } : {}),
    }, { terminators: strList(d, 'terminators') ?? DTMF_KEYS, endless: bool(d, 'endless_playback') === true });
    if (r.outcome === 'hangup') return { kind: 'end', reason: 'caller_hangup' };
    return { kind: 'next' };
  },
};
