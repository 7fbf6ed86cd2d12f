/**
 * `play`: media playback is a later issue. No/empty `id` → skipped (Kazoo); with an `id` the media is
 * not yet available: logged, then → `_` (as Kazoo does for an invalid id).
 */
import type { CallflowNode } from '../callflow.js';
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { str } from './data.js';

export const playModule: PivotModule = {
  name: 'play',
  run(node: CallflowNode, ctx: ModuleContext): Promise<Step> {
    const id = str(node.data, 'id');
    if (id) ctx.log.warn({ id }, 'play: media not yet available, skipped');
    return Promise.resolve({ kind: 'next' });
  },
};
