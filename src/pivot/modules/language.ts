/** `language`: sets the call language (the `Language` parameter and the default TTS language), → `_`. */
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { str } from './data.js';

export const languageModule: PivotModule = {
  name: 'language',
  run(node, ctx: ModuleContext): Promise<Step> {
    const lang = str(node.data, 'language');
    if (lang) ctx.language = lang;
    return Promise.resolve({ kind: 'next' });
  },
};
